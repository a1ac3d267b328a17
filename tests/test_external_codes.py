"""An external method's codes.npz scored in protocol 2 exactly as a built-in method's codes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import SMALL_SYNTHFACES

from bench.cli import main as bench_main
from bench.config import validate_config
from bench.data.dataset import FaceData
from bench.data.prepare import prepare_synthfaces
from bench.errors import DataError
from bench.external import PROVENANCE_FILE
from bench.external.export import export_protocol
from bench.external.import_ import folder_sha256, import_outputs
from bench.methods.registry import get_method
from bench.protocols.pose_transfer import write_tuples
from bench.protocols.representation import encode, load_codes
from bench.train import load_trained, train

SMALL = SMALL_SYNTHFACES
K = [1]
SETTINGS = {"device": "cpu", "pose_bin_width": 15}


@pytest.fixture(scope="module")
def coded_root(tmp_path_factory):
    """A tiny SynthFaces with tuples and an export, and a 2-step pose_ae (identity codes)."""
    root = tmp_path_factory.mktemp("external_codes")
    data = root / "data"
    prepare_synthfaces(data, validate_config({"synthfaces": SMALL})["synthfaces"], workers=2)
    write_tuples(data, {"k": K, "tuples": 4, "seed": 0, "batch_size": 4})
    export_protocol(data, root / "export", K)
    spec = get_method("pose_ae")
    config = spec.resolved_config("tiny", {"steps": 2, "batch_size": 4})
    train(spec, config, FaceData.load(data, "train"), root / "pose_ae", seed=0)
    return root


def settings() -> dict:
    """The config's disentanglement settings (validated defaults), as the represent rule passes."""
    disentanglement = validate_config({})["protocols"]["disentanglement"]
    return {**SETTINGS, "disentanglement": disentanglement}


def represent(root, method: str, out, *source: str) -> tuple[list[dict], list[dict]]:
    """``python -m bench represent``; its verification/probe rows and disentanglement rows."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["represent", "--method", method, "--seed", "0", "--data", str(root / "data")]
    argv += ["--params", json.dumps(settings()), "--codes", str(out / "codes.npz")]
    argv += ["--out", str(out / "metrics.json"), "--disentanglement", str(out / "dis.json")]
    argv += ["--figure", str(out / "tsne.png"), *source]
    assert bench_main(argv) == 0
    return tuple(
        json.loads((out / name).read_text())["rows"] for name in ("metrics.json", "dis.json")
    )


def write_outputs(root, folder, codes: dict | None) -> None:
    """Copy-source images for every tuple, and the codes in reversed row order."""
    manifest = json.loads((root / "export" / "manifest.json").read_text())
    for entry in manifest["tuples"]:
        for name in entry["outputs"].values():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes((root / "export" / entry["sources"][0]).read_bytes())
    if codes is not None:
        paths = FaceData.load(root / "data", "test").index["path"].to_numpy(str)[::-1]
        np.savez(folder / "codes.npz", paths=paths, **{k: v[::-1] for k, v in codes.items()})


def scores(rows: list[dict]) -> dict:
    """Each row's identity and what it measured (NaN as None, so n/a rows compare equal)."""

    def value(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        (r["metric"], r["protocol"], r.get("kind"), r["k"]): (
            value(r["value"]), r["n"], r.get("ci95"), r.get("spread"), r.get("not_applicable")
        )
        for r in rows
    }  # fmt: skip


def test_external_codes_rows_equal_the_builtin_methods_own_rows(coded_root, tmp_path):
    root, data = coded_root, coded_root / "data"
    model = root / "pose_ae" / "model.pt"
    builtin, builtin_dis = represent(root, "pose_ae", tmp_path / "builtin", "--model", str(model))

    test = FaceData.load(data, "test")
    codes = encode(load_trained(model, get_method("pose_ae")), test)
    write_outputs(root, tmp_path / "outputs", codes)
    run_dir = tmp_path / "runs" / "mine" / "seed0"
    import_outputs(data, tmp_path / "outputs", "mine", K, run_dir)
    stored = load_codes(run_dir / "representation" / "codes.npz", test)
    assert all(np.array_equal(stored[name], codes[name]) for name in codes)
    provenance = run_dir / "pose_transfer" / PROVENANCE_FILE
    source = ("--external-codes", str(tmp_path / "outputs" / "codes.npz"))
    rows, dis = represent(
        root, "mine", run_dir / "representation", *source, "--provenance", str(provenance)
    )

    verification = [r for r in builtin if r.get("kind") != "probe"]
    assert len(verification) >= 4 and any(r["metric"].startswith("probe") for r in builtin)
    assert scores(rows) == scores(builtin) and scores(dis) == scores(builtin_dis)
    assert any(not math.isnan(r["value"]) for r in dis)
    sha = folder_sha256(tmp_path / "outputs")
    for external in (rows, dis):
        assert {r["method"] for r in external} == {"mine (external)"}
        assert all(r["external"] is True and r["outputs_sha256"] == sha for r in external)
    assert not any("external" in r for r in builtin + builtin_dis)
    assert (run_dir / "representation" / "tsne.png").is_file()


def test_external_codes_need_provenance_and_must_cover_the_test_split(coded_root, tmp_path):
    test = FaceData.load(coded_root / "data", "test")
    n = len(test)
    write_outputs(coded_root, tmp_path / "outputs", {"identity": np.ones((n, 3))})
    codes = tmp_path / "outputs" / "codes.npz"
    with pytest.raises(SystemExit):  # argparse: --model or --external-codes, not both
        represent(
            coded_root, "mine", tmp_path / "a", "--model", "m.pt", "--external-codes", str(codes)
        )
    assert represent_fails(coded_root, tmp_path / "b", "--external-codes", str(codes))
    paths = test.index["path"].to_numpy(str)
    np.savez(codes, paths=paths[1:], identity=np.ones((n - 1, 3)))
    with pytest.raises(DataError, match=r"codes.npz: 'paths' must list each of the"):
        import_outputs(coded_root / "data", tmp_path / "outputs", "mine", K, tmp_path / "run")


def represent_fails(root, out, *source: str) -> bool:
    """``represent`` stops with exit status 2 (a named error) and writes no metrics."""
    argv = ["represent", "--method", "mine", "--seed", "0", "--data", str(root / "data")]
    argv += ["--params", json.dumps(settings()), "--codes", str(out / "codes.npz")]
    argv += ["--out", str(out / "metrics.json"), "--disentanglement", str(out / "dis.json")]
    argv += ["--figure", str(out / "tsne.png"), *source]
    return bench_main(argv) == 2 and not (out / "metrics.json").exists()


def test_import_without_codes_copy_checks_the_codes_but_leaves_them_to_represent(
    coded_root, tmp_path
):
    n = len(FaceData.load(coded_root / "data", "test"))
    write_outputs(coded_root, tmp_path / "outputs", {"identity": np.ones((n, 3))})
    argv = ["import", "synthfaces", "--name", "mine", "--outputs", str(tmp_path / "outputs")]
    argv += ["--data", str(coded_root / "data"), "--k", "1", "--no-codes-copy"]
    assert bench_main([*argv, "--run-dir", str(tmp_path / "run")]) == 0
    assert not (tmp_path / "run" / "representation").exists()
    record = json.loads((tmp_path / "run" / "pose_transfer" / PROVENANCE_FILE).read_text())
    assert record["codes"] == ["identity"]
    np.savez(
        tmp_path / "outputs" / "codes.npz", paths=np.array(["x.png"]), identity=np.ones((1, 3))
    )
    assert bench_main([*argv, "--run-dir", str(tmp_path / "run2")]) == 2  # still checked


def test_dag_gives_protocol_2_to_external_runs_with_codes_only(tmp_path):
    """``snakemake -n`` of the smoke profile with two external folders, one with codes.npz."""
    import subprocess
    import sys

    from bench import REPO_ROOT

    for name in ("with_codes", "no_codes"):
        (tmp_path / name / "k1_self").mkdir(parents=True)
        (tmp_path / name / "k1_self" / "0000.png").touch()
    (tmp_path / "with_codes" / "codes.npz").touch()
    # sequences only: imported for the sequence protocol, no pose-transfer import or row
    (tmp_path / "seq_only" / "sequence_k1").mkdir(parents=True)
    (tmp_path / "seq_only" / "sequence_k1" / "seq0000.mp4").touch()
    external = tmp_path / "external.yaml"
    folders = {name: str(tmp_path / name) for name in ("with_codes", "no_codes", "seq_only")}
    external.write_text(json.dumps({"external": {"synthfaces": folders}}))
    configs = [REPO_ROOT / "config/config.yaml", REPO_ROOT / "config/smoke.yaml", external]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "workflow/Snakefile")]
        + ["--workflow-profile", str(REPO_ROOT / "profiles/smoke"), "--configfiles", *configs]
        + ["--directory", str(tmp_path / "work"), "-n", "-p", "--cores", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = result.stdout.split("\nrule ")
    represent = [job for job in jobs if job.startswith("represent_external:")]
    assert len(represent) == 1 and "--external-codes " + folders["with_codes"] in represent[0]
    assert (
        "--provenance results/runs/synthfaces/with_codes/seed0/pose_transfer/external.json"
        in (represent[0])
    )
    assert "no_codes/seed0/representation" not in result.stdout
    for table in ("verification_table:", "method_table:"):
        inputs = [job.split("\n")[1] for job in jobs if job.startswith(table)]
        assert any("with_codes/seed0/representation/" in i for i in inputs), table
    imports = [job for job in jobs if job.startswith("import_outputs:")]
    assert len(imports) == 2 and all("--no-codes-copy" in job for job in imports)
    assert not any("seq_only" in job for job in imports)
    sequence_imports = [job for job in jobs if job.startswith("import_sequence_outputs:")]
    assert len(sequence_imports) == 1 and folders["seq_only"] in sequence_imports[0]
    pose_table = [job.split("\n")[1] for job in jobs if job.startswith("pose_transfer_table:")]
    assert pose_table and "seq_only" not in pose_table[0]


def test_external_codes_alone_get_the_verification_table(tmp_path):
    """Reference methods only (none provides a code) and one external folder with
    codes.npz: the DAG still builds the verification and disentanglement tables for it."""
    import subprocess
    import sys

    from bench import REPO_ROOT

    (tmp_path / "mine" / "k1_self").mkdir(parents=True)
    (tmp_path / "mine" / "k1_self" / "0000.png").touch()
    (tmp_path / "mine" / "codes.npz").touch()
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        json.dumps(
            {
                "methods": ["copy_source", "copy_driver", "ground_truth"],
                "external": {"synthfaces": {"mine": str(tmp_path / "mine")}},
            }
        )
    )
    configs = [REPO_ROOT / "config/config.yaml", REPO_ROOT / "config/smoke.yaml", extra]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO_ROOT / "workflow/Snakefile")]
        + ["--workflow-profile", str(REPO_ROOT / "profiles/smoke"), "--configfiles", *configs]
        + ["--directory", str(tmp_path / "work"), "-n", "--cores", "1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = result.stdout.split("\nrule ")
    verification = [job for job in jobs if job.startswith("verification_table:")]
    assert len(verification) == 1 and "mine/seed0/representation/" in verification[0]
    assert any(job.startswith("represent_external:") for job in jobs)
