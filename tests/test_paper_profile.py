"""The paper profiles build their DAGs, and every method's training sampling fits its data.

Each ``profiles/paper-<dataset>`` runs the methods whose papers trained on that data; the
requirement check (``bench/methods/requirements.py``, called when the DAG is built) stops a
method that needs a grouping or a group size the dataset lacks, naming method, dataset
and grouping.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from bench import REPO_ROOT
from bench.config import _deep_update, trained_seeds, validate_config
from bench.data.real.datasets import root_variable
from bench.data.real.layouts import (
    multipie_cameras,
    write_celeba,
    write_folder,
    write_lfw,
    write_multipie,
    write_voxceleb2,
)
from bench.errors import ConfigError
from bench.methods.api import Sampling
from bench.methods.registry import get_method
from bench.methods.requirements import (
    check_requirements,
    check_sampling_requirements,
    dataset_groupings,
)
from bench.runs import method_runs, per_k_mode

PAPER_PROFILES = sorted(p.name for p in (REPO_ROOT / "profiles").glob("paper-*"))
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def profile_config(profile: str, extra: dict | None = None) -> dict:
    """The validated config a workflow profile gives: its configfiles merged in order."""
    settings = yaml.safe_load((REPO_ROOT / "profiles" / profile / "config.yaml").read_text())
    config: dict = {}
    for file in settings["configfiles"]:
        _deep_update(config, yaml.safe_load((REPO_ROOT / file).read_text()) or {})
    _deep_update(config, extra or {})
    return validate_config(config, profile)


def test_there_is_a_paper_profile_per_method_family():
    assert PAPER_PROFILES == ["paper-celeba", "paper-multipie", "paper-voxceleb2"]
    listed = {m for p in PAPER_PROFILES for m in profile_config(p)["methods"]}
    assert {"caingan", "fshm", "pix2pixhd_kshot", "drgan", "drgan_multi", "faceaae"} <= listed


@pytest.mark.parametrize("profile", PAPER_PROFILES)
def test_paper_profile_meets_every_methods_sampling(profile):
    config = profile_config(profile)
    assert config["scale"] == "paper"
    check_requirements(config, profile)  # raises naming method, dataset and grouping


def test_kshot_methods_at_k8_get_nine_frames_of_a_voxceleb2_clip():
    config = profile_config("paper-voxceleb2")
    clip = dataset_groupings("voxceleb2", config["voxceleb2"])["clip"]
    for name in ("caingan", "caingan_no_target", "caingan_no_ramp", "caingan_mean", "fshm"):
        spec = get_method(name)
        sampling = spec.cls.sampling_for(spec.resolved_config("paper"))
        assert sampling.group == "clip" and sampling.frames >= 9  # K = 8 sources + a target
        assert clip.images >= sampling.frames


def test_eight_frames_per_clip_are_too_few_for_k8_and_the_error_says_so():
    config = profile_config("paper-voxceleb2", {"voxceleb2": {"train_frames_per_clip": 8}})
    with pytest.raises(ConfigError) as error:
        check_requirements(config, "paper-voxceleb2")
    message = str(error.value)
    for word in ("'caingan'", "'voxceleb2'", "clip", "9", "train_frames_per_clip"):
        assert word in message


@pytest.mark.parametrize(
    ("dataset", "group", "missing"),
    [("lfw", "clip", True), ("celeba", "session", True), ("voxceleb2", "session", True)]
    + [("multipie", "clip", True), ("multipie", "session", False), ("folder", "clip", False)],
)
def test_a_grouping_the_dataset_lacks_is_an_error_naming_method_dataset_grouping(
    dataset, group, missing
):
    settings = validate_config({})[dataset]
    groupings = dataset_groupings(dataset, settings)
    sampling = Sampling(group=group, frames=2)
    if not missing:
        check_sampling_requirements("some_method", sampling, dataset, groupings)
        return
    with pytest.raises(ConfigError, match=rf"'some_method'.*'{dataset}' has no {group} grouping"):
        check_sampling_requirements("some_method", sampling, dataset, groupings)


def test_multipie_sessions_hold_its_13_cameras():
    settings = validate_config({})["multipie"]
    session = dataset_groupings("multipie", settings)["session"]
    assert session.images == len(multipie_cameras(90)) == 13
    capped = dataset_groupings("multipie", {**settings, "max_images_per_identity": 4})
    assert capped["session"].images == 4


def test_protocol_sources_the_dataset_lacks_are_refused():
    config = profile_config(
        "paper-voxceleb2", {"protocols": {"pose_transfer": {"sources": "session"}}}
    )
    with pytest.raises(ConfigError, match=r"'voxceleb2' has no session grouping"):
        check_requirements(config, "paper-voxceleb2")
    config = profile_config(
        "paper-voxceleb2", {"voxceleb2": {"test_frames": 8}, "protocols": {"pose_transfer": {}}}
    )
    with pytest.raises(ConfigError, match=r"at most 8 test images \(voxceleb2.test_frames\)"):
        check_requirements(config, "paper-voxceleb2")


@pytest.mark.parametrize("files", [["config.yaml"], ["config.yaml", "smoke.yaml"]])
def test_default_and_smoke_configs_meet_every_methods_sampling(files):
    config: dict = {}
    for file in files:
        _deep_update(config, yaml.safe_load((REPO_ROOT / "config" / file).read_text()))
    check_requirements(validate_config(config), "+".join(files))


# -- snakemake -n on fake datasets of each layout ---------------------------------------------
def _faces(n_people: int, per_person: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Random 32 px images: a dry run lists the roots, it decodes nothing."""
    rng = np.random.default_rng(seed)
    return {
        f"Person_{p:02d}": [rng.integers(0, 256, (32, 32, 3), np.uint8) for _ in range(per_person)]
        for p in range(n_people)
    }


@pytest.fixture(scope="module")
def fake_roots(tmp_path_factory) -> dict[str, Path]:
    """Small fake LFW, CelebA, VoxCeleb2, Multi-PIE and face-folder trees in their layouts."""
    base = tmp_path_factory.mktemp("fake_datasets")
    people = _faces(4, 3, 0)
    five = {n: [np.array([[10, 12], [22, 12], [16, 18], [11, 24], [21, 24]])] * 3 for n in people}
    cameras = multipie_cameras(90)
    return {
        "lfw": write_lfw(base / "lfw", people, sets=2, per_set=1),
        "celeba": write_celeba(base / "celeba", people, five, {"Person_00", "Person_01"}),
        "voxceleb2": write_voxceleb2(base / "vox", {n: [v, v] for n, v in people.items()}),
        "multipie": write_multipie(
            base / "mpie",
            {n: dict(zip(cameras, v * 5, strict=False)) for n, v in _faces(3, 3, 1).items()},
        ),
        "folder": write_folder(base / "folder", {n: [v, v] for n, v in people.items()}),
    }


def dry_run(profile: str, roots: dict[str, Path], workdir: Path, *config: str):
    """``snakemake -n`` of a workflow profile in ``workdir`` (results/ of the repo untouched)."""
    env = {**os.environ, **{root_variable(d): str(p) for d, p in roots.items()}}
    command = [str(SNAKEMAKE), "-n", "--workflow-profile", f"profiles/{profile}"]
    command += ["-s", "workflow/Snakefile", "--directory", str(workdir)]
    if config:
        command += ["--config", *config]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def job_counts(output: str) -> dict[str, int]:
    """The dry run's job table: rule -> number of jobs."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.MULTILINE)}


@pytest.mark.slow
@pytest.mark.parametrize("profile", PAPER_PROFILES)
def test_paper_profile_dag_builds_on_fake_datasets(profile, fake_roots, tmp_path):
    result = dry_run(profile, fake_roots, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    config = profile_config(profile)
    counts = job_counts(result.stdout)
    per_dataset = 0
    for m in config["methods"]:  # trained runs (per K where the config says per_k), untrained rows
        spec = get_method(m)
        mode = per_k_mode(spec.resolved_config(config["scale"]), m)
        ks = config["protocols"]["pose_transfer"]["k"]
        trained, untrained = method_runs(
            trained_seeds(config, m), ks, mode, spec.cls.trainable, spec.cls.not_applicable_k
        )
        per_dataset += len(trained) + len(untrained)
    assert counts["train"] == per_dataset * len(config["datasets"])
    assert counts["prepare"] == len(config["datasets"])
    assert not (tmp_path / "results").exists()  # a dry run writes nothing


@pytest.mark.slow
def test_folder_layout_runs_the_clip_methods_dag(fake_roots, tmp_path):
    result = dry_run("paper-voxceleb2", fake_roots, tmp_path, "datasets=[folder]")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert job_counts(result.stdout)["prepare"] == 1


@pytest.mark.slow
def test_dag_build_stops_on_a_method_whose_grouping_the_dataset_lacks(fake_roots, tmp_path):
    result = dry_run("paper-celeba", fake_roots, tmp_path, "methods=[copy_source,caingan]")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "method 'caingan'" in output and "dataset 'celeba' has no clip grouping" in output


def test_validate_config_layers_a_profile_and_checks_the_sampling(tmp_path, monkeypatch, capsys):
    from bench.cli import main

    monkeypatch.chdir(REPO_ROOT)
    assert main(["validate-config", "--profile", "profiles/paper-voxceleb2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["datasets"] == ["voxceleb2"] and printed["voxceleb2"]["resolution"] == 256
    eight = tmp_path / "eight.yaml"
    eight.write_text("voxceleb2: {train_frames_per_clip: 8}\n")
    assert main(["validate-config", "--profile", "profiles/paper-voxceleb2", str(eight)]) == 2
    refused = capsys.readouterr()
    assert refused.out == ""  # nothing printed for a refused config
    assert "'caingan'" in refused.err and "voxceleb2.train_frames_per_clip" in refused.err
