"""One trained model per K for the K-shot methods their papers train per K (issue 19):
the ``per_k`` method config key, the run seeds ``0-k1``/``0-k8``, the DAG's runs and the
tables' rows of one method over its per-K runs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest

from bench import REPO_ROOT
from bench.config import validate_config
from bench.errors import ConfigError
from bench.methods.registry import get_method
from bench.report.summary import read_metrics, summarize
from bench.runs import (
    RunSeed,
    check_per_k_requirements,
    method_runs,
    one_model_per_seed,
    per_k_mode,
    protocol_k_of_run,
    run_seed,
)

SNAKEMAKE = os.path.join(os.path.dirname(sys.executable), "snakemake")


def test_per_k_seeds_parse_and_print_as_their_wildcard():
    for text in ("3", "0-untrained", "0-k8", "0-untrained-k1", "12-k16"):
        assert str(run_seed(text)) == text
    assert run_seed("0-k8") == RunSeed(0, False, 8)
    assert run_seed("0-untrained-k1") == RunSeed(0, True, 1)
    assert run_seed("0-k8").label("caingan") == "caingan"  # K is a column, not a label
    assert run_seed("0-untrained-k8").label("x") == "x (untrained)"
    for bad in ("0-k0", "0-k", "0-k8-untrained", "k8", "0-k08"):
        with pytest.raises(argparse.ArgumentTypeError, match=f"invalid seed '{bad}'"):
            run_seed(bad)


def test_a_per_k_run_trains_with_its_k_and_untrained_runs_with_no_steps():
    config = {"k_train": 4, "steps": 2200}
    assert run_seed("0-k1").method_config(config) == {"k_train": 1, "steps": 2200}
    assert run_seed("0-untrained-k8").method_config(config) == {"k_train": 8, "steps": 0}
    assert run_seed("0").method_config(config) == config
    with pytest.raises(ConfigError, match="no 'k_train' key"):
        run_seed("0-k8").method_config({"steps": 1})


def test_a_per_k_run_scores_its_own_k_only():
    assert run_seed("0").k_values([1, 8]) == [1, 8]
    assert run_seed("0-k8").k_values([1, 8]) == [8]
    with pytest.raises(ConfigError, match="K = 2 is not in protocols.pose_transfer.k"):
        run_seed("0-k2").k_values([1, 8])


@pytest.mark.parametrize(
    ("method", "mode"),
    [
        ("caingan", "trained"),  # Table 1: CainGAN (1) and CainGAN (8), stopped at 20 epochs
        ("caingan_no_target", "trained"),  # the ablations inherit it (base: caingan)
        ("caingan_no_ramp", "trained"),
        ("caingan_mean", "trained"),
        ("pix2pixhd_kshot", "all"),  # the input width (6K + 3 channels) fixes K
        ("fshm", None),  # meta-learned at K = 8, scored at every K
        ("pose_ae", None),
    ],
)
def test_the_methods_their_papers_train_per_k_declare_it(method, mode):
    for scale in ("smoke", "tiny", "paper"):
        assert per_k_mode(get_method(method).resolved_config(scale), method) == mode


def test_a_bad_per_k_value_names_the_method_config_key():
    with pytest.raises(ConfigError, match=r"methods/x/config.yaml: key 'per_k': 'yes'"):
        per_k_mode({"per_k": "yes", "k_train": 1}, "x")
    assert per_k_mode({"per_k": "one", "k_train": 1}, "x") is None  # an override turns it off
    with pytest.raises(ConfigError, match="needs a 'k_train' key"):
        per_k_mode({"per_k": "trained"}, "x")


def test_runs_per_seed_and_k_with_untrained_rows_per_k_only_where_k_shapes_the_networks():
    assert method_runs([0, 1], [1, 8], None, True) == ([RunSeed(0), RunSeed(1)], [RunSeed(0, True)])
    trained, untrained = method_runs([0, 1], [8, 1, 8], "trained", True)
    assert [str(r) for r in trained] == ["0-k1", "0-k8", "1-k1", "1-k8"]
    assert [str(r) for r in untrained] == ["0-untrained"]
    trained, untrained = method_runs([0], [1, 8], "all", True)
    assert [str(r) for r in untrained] == ["0-untrained-k1", "0-untrained-k8"]
    assert method_runs([0], [1, 8], "all", False)[1] == []


def test_the_stages_without_k_use_the_largest_k_model_of_each_seed():
    runs = [
        run_seed(t) for t in ("0-k1", "0-k8", "1-k1", "1-k8", "0-untrained-k1", "0-untrained-k8")
    ]
    assert [str(r) for r in one_model_per_seed(runs)] == ["0-k8", "1-k8", "0-untrained-k8"]
    plain = [run_seed("0"), run_seed("0-untrained")]
    assert one_model_per_seed(plain) == plain


def test_a_not_applicable_k_has_no_run_and_its_marker_rows_come_from_the_largest_k_run():
    trained, untrained = method_runs([0], [1, 2, 8], "trained", True, {1: "w/o R = caingan"})
    assert [str(r) for r in trained] == ["0-k2", "0-k8"] and untrained == [RunSeed(0, True)]
    assert run_seed("0-k8").k_values([1, 2, 8], {1: "why"}) == [1, 8]
    assert run_seed("0-k2").k_values([1, 2, 8], {1: "why"}) == [2]


def test_a_protocol_with_its_own_k_list_uses_the_run_of_its_k_else_the_largest():
    trained_k = [1, 4]  # the per-K runs; protocols.sequence.k = [1, 2]
    assert protocol_k_of_run(run_seed("0-k1"), [1, 2], trained_k) == [1]
    assert protocol_k_of_run(run_seed("0-k4"), [1, 2], trained_k) == [2]
    assert protocol_k_of_run(run_seed("0-k4"), [1], trained_k) == []  # no job then
    assert protocol_k_of_run(run_seed("0"), [1, 2], [1]) == [1, 2]


def test_per_k_training_needs_clips_of_k_plus_one_frames_at_every_k():
    config = validate_config({"methods": ["caingan"], "synthfaces": {"clip_length": 5}})
    config["protocols"]["pose_transfer"]["k"] = [1, 8]
    with pytest.raises(ConfigError, match=r"'caingan' trains one model per K .*K = 8.*at most 5"):
        check_per_k_requirements(config)
    config["protocols"]["pose_transfer"]["k"] = [1, 4]
    check_per_k_requirements(config)


def write_run(path, seed, k, value):
    """A metrics.json of one per-K run: its K's cross CSIM row only."""
    row = {"protocol": "pose_transfer/cross", "k": k, "method": "caingan", "seed": seed,
           "metric": "csim_target[synth-oracle]", "value": value, "n": 300,
           "ci95": [value - 0.01, value + 0.01], "higher_is_better": True,
           "evaluator": "synth-oracle"}  # fmt: skip
    path.write_text(json.dumps({"rows": [row]}))
    return path


def test_the_rows_of_per_k_runs_are_one_method_with_the_seed_counted_once(tmp_path):
    files = [write_run(tmp_path / "k1.json", 0, 1, 0.2), write_run(tmp_path / "k8.json", 0, 8, 0.3)]
    out = summarize(read_metrics(files))
    assert list(out["method"]) == ["caingan", "caingan"]
    assert list(out["k"]) == [1, 8] and list(out["mean"]) == [0.2, 0.3]
    assert list(out["seeds"]) == [1, 1]


@pytest.mark.slow
def test_the_dag_trains_one_run_per_k_and_scores_each_at_its_k(tmp_path):
    """A dry run of the smoke DAG with caingan (per K), pix2pixhd_kshot (per K, untrained
    too) and fshm (one model): the jobs' seeds and the K each synthesize job draws."""
    command = [SNAKEMAKE, "-n", "-p", "--workflow-profile", "profiles/smoke"]
    command += ["-s", "workflow/Snakefile", "--directory", str(tmp_path)]
    command += ["--config", "methods=[caingan,pix2pixhd_kshot,fshm]"]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for run in ("caingan/seed0-k1", "caingan/seed0-k4", "caingan/seed0-untrained",
                "pix2pixhd_kshot/seed0-untrained-k1", "pix2pixhd_kshot/seed0-k4", "fshm/seed0"):  # fmt: skip
        assert f"--run-dir results/runs/synthfaces/{run} " in out, run
    assert "caingan/seed0 " not in out and "caingan/seed0-untrained-k" not in out
    assert "--model results/runs/synthfaces/caingan/seed0-k4/model.pt --params" in out
    # "bench synthesize " with its space: "bench synthesize-sequence" lines carry other K
    synth = [line for line in out.splitlines() if "bench synthesize " in line]
    k_of = {line.split("/model.pt")[0].split("/")[-1]: json.loads(line.split("'")[1])["k"]
            for line in synth if "--method caingan " in line}  # fmt: skip
    assert k_of == {"seed0-k1": [1], "seed0-k4": [4], "seed0-untrained": [1, 4]}
    # protocols.sequence.k [1, 2] (config/smoke.yaml): K = 1 from its own model, K = 2
    # (no per-K run) from the largest K's
    sequence = [
        line for line in out.splitlines() if "bench synthesize-sequence --method caingan" in line
    ]
    seq_k = {line.split("/model.pt")[0].split("/")[-1]: json.loads(line.split("'")[1])["k"]
             for line in sequence}  # fmt: skip
    assert seq_k == {"seed0-k1": [1], "seed0-k4": [2]}
    # represent (no K): the largest K's model, and the untrained one
    represent = [line for line in out.splitlines() if "bench represent --method caingan" in line]
    assert sorted(line.split("--seed ")[1].split()[0] for line in represent) == [
        "0-k4",
        "0-untrained",
    ]
