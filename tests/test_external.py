"""Score any method's outputs: export -> a foreign script -> import -> the same score rows."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import SMALL_SYNTHFACES
from PIL import Image

from bench import REPO_ROOT
from bench.cli import main as bench_main
from bench.config import validate_config
from bench.data.dataset import FaceData
from bench.data.prepare import prepare_synthfaces
from bench.errors import DataError
from bench.evaluators.synth_oracle import train_identity_oracle, train_pose_oracle
from bench.external import PROVENANCE_FILE
from bench.external.export import export_protocol
from bench.external.import_ import folder_sha256, import_outputs
from bench.methods.registry import get_method
from bench.protocols.pose_transfer import (
    load_generated,
    read_tuples,
    save_generated,
    synthesize,
    write_tuples,
)

SMALL = SMALL_SYNTHFACES
K = [1, 3]
ORACLE = {"steps": 3, "batch_size": 4, "width": 4, "lr": 1e-3, "seed": 0}


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory):
    """A tiny SynthFaces with its tuples, two 3-step oracles and an export."""
    root = tmp_path_factory.mktemp("external")
    data = root / "data"
    prepare_synthfaces(data, validate_config({"synthfaces": SMALL})["synthfaces"], workers=2)
    write_tuples(data, {"k": K, "tuples": 8, "seed": 0, "batch_size": 4})
    train, test = FaceData.load(data, "train"), FaceData.load(data, "test")
    train_identity_oracle(
        train, test, data / "pairs.txt", root / "identity.pt", {**ORACLE, "embedding_dim": 8}
    )
    train_pose_oracle(train, test, root / "pose.pt", {**ORACLE, "degrade": 0.5})
    export_protocol(data, root / "export", K)
    return root


def score(root, method: str, generated, out) -> list[dict]:
    params = json.dumps({"bootstrap": 50, "seed": 0, "reference_dir": str(root / "reference")})
    argv = ["score", "--method", method, "--seed", "0", "--data", str(root / "data")]
    argv += ["--generated", str(generated), "--params", params, "--out", str(out)]
    argv += ["--identity-oracle", str(root / "identity.pt"), "--pose-oracle", str(root / "pose.pt")]
    assert bench_main(argv) == 0
    return json.loads(out.read_text())["rows"]


def run_example(export, out, *flags: str) -> None:
    script = REPO_ROOT / "examples" / "export_copy_source.py"
    subprocess.run([sys.executable, str(script), str(export), str(out), *flags], check=True)


def test_export_lists_every_file_and_the_expected_outputs(bench_root):
    export = bench_root / "export"
    manifest = json.loads((export / "manifest.json").read_text())
    tuples = read_tuples(bench_root / "data")
    assert manifest["k"] == K and manifest["kinds"] == ["self", "cross"]
    assert len(manifest["tuples"]) == len(tuples) == 8
    entry = manifest["tuples"][0]
    assert len(entry["sources"]) == max(K) and entry["outputs"]["k3_cross"] == "k3_cross/0000.png"
    cross = entry["drivers"]["cross"]
    assert np.asarray(cross["landmarks"]).shape == (68, 2) and set(cross["pose_degrees"]) == {
        "yaw",
        "pitch",
        "roll",
    }
    listed = {f for e in manifest["tuples"] for f in e["sources"]}
    listed |= {
        d[key]
        for e in manifest["tuples"]
        for d in e["drivers"].values()
        for key in ("image", "landmark_image")
    }
    listed |= {i["file"] for i in manifest["representation"]["images"]}
    listed |= {p["file"] for p in manifest["representation"]["pairs"]}
    on_disk = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    assert on_disk - listed == {"manifest.json", "README.txt"} and listed <= on_disk
    # the first source is the dataset's file, byte for byte
    first = tuples["sources"].iloc[0].split(";")[0]
    assert (export / entry["sources"][0]).read_bytes() == (bench_root / "data" / first).read_bytes()
    # the representation images carry pairs.txt's names and numbers
    assert (export / "representation" / "pairs.txt").is_file()
    assert all(
        i["file"].startswith("representation/images/") for i in manifest["representation"]["images"]
    )
    with pytest.raises(DataError, match="not empty"):
        export_protocol(bench_root / "data", export, K)


@pytest.mark.parametrize(
    ("builtin", "flags"), [("copy_source", ()), ("copy_driver", ("--driver",))]
)
def test_round_trip_rows_equal_the_builtin_reference_rows(bench_root, tmp_path, builtin, flags):
    data = bench_root / "data"
    test, tuples = FaceData.load(data, "test"), read_tuples(data)
    method = get_method(builtin).cls({}, test.info())
    save_generated(tmp_path / "builtin.npz", synthesize(method, test, tuples, K, 4), tuples, K)
    reference = score(bench_root, builtin, tmp_path / "builtin.npz", tmp_path / "builtin.json")

    run_example(bench_root / "export", tmp_path / "outputs", *flags)
    run_dir = tmp_path / "runs" / f"mine_{builtin}" / "seed0"
    import_outputs(data, tmp_path / "outputs", f"mine_{builtin}", K, run_dir)
    generated = run_dir / "pose_transfer" / "generated.npz"
    ours, k_values = load_generated(generated)
    theirs, _ = load_generated(tmp_path / "builtin.npz")
    assert k_values == K and sorted(ours) == sorted(theirs)
    assert all(np.array_equal(ours[key], theirs[key]) for key in theirs)
    rows = score(bench_root, f"mine_{builtin}", generated, tmp_path / "imported.json")

    def scores(rs):
        return {
            (r["metric"], r["protocol"], r["k"]): (r["value"], r["n"], r.get("ci95")) for r in rs
        }

    assert scores(rows) == scores(reference) and len(rows) > 20
    sha = folder_sha256(tmp_path / "outputs")
    assert {r["method"] for r in rows} == {f"mine_{builtin} (external)"}
    assert all(r["external"] is True and r["outputs_sha256"] == sha for r in rows)
    assert not any("external" in r for r in reference)


def break_three_files(outputs):
    """One missing, one corrupt (truncated PNG) and one wrongly sized output."""
    (outputs / "k1_self" / "0001.png").unlink()
    corrupt = outputs / "k3_cross" / "0002.png"
    corrupt.write_bytes(corrupt.read_bytes()[:40])
    Image.new("RGB", (16, 16)).save(outputs / "k1_cross" / "0003.png")


def test_bad_outputs_give_one_error_per_file_and_keep_what_was_scored(bench_root, tmp_path):
    data = bench_root / "data"
    run_example(bench_root / "export", tmp_path / "outputs")
    run_dir = tmp_path / "runs" / "mine" / "seed0"
    import_outputs(data, tmp_path / "outputs", "mine", K, run_dir)
    generated = run_dir / "pose_transfer" / "generated.npz"
    scored = score(bench_root, "mine", generated, run_dir / "pose_transfer" / "metrics.json")
    before = {p: p.read_bytes() for p in (run_dir / "pose_transfer").iterdir()}

    break_three_files(tmp_path / "outputs")
    (tmp_path / "outputs" / "notes.txt").write_text("an extra file")
    with pytest.raises(DataError) as error:
        import_outputs(data, tmp_path / "outputs", "mine", K, run_dir)
    lines = str(error.value).splitlines()
    assert lines[0].endswith("4 problem(s), nothing imported:")
    out = tmp_path / "outputs"
    assert lines[1:] == [
        f"  {out / 'k1_self/0001.png'}: missing",
        f"  {out / 'k1_cross/0003.png'}: size 16x16, expected 32x32",
        lines[3],
        f"  {out / 'notes.txt'}: not an expected output (--allow-extra)",
    ]
    assert lines[3].startswith(f"  {out / 'k3_cross/0002.png'}: unreadable")
    # nothing already imported or scored was touched
    assert {p: p.read_bytes() for p in (run_dir / "pose_transfer").iterdir()} == before
    assert json.loads((run_dir / "pose_transfer" / "metrics.json").read_text())["rows"] == scored


def test_extra_files_are_listed_with_allow_extra_and_change_the_hash(bench_root, tmp_path):
    run_example(bench_root / "export", tmp_path / "outputs")
    before = folder_sha256(tmp_path / "outputs")
    (tmp_path / "outputs" / "notes.txt").write_text("an extra file")
    run_dir = tmp_path / "run"
    record = import_outputs(bench_root / "data", tmp_path / "outputs", "mine", K, run_dir, True)
    assert record["extra_files"] == ["notes.txt"] and record["outputs_sha256"] != before
    stored = json.loads((run_dir / "pose_transfer" / PROVENANCE_FILE).read_text())
    assert stored == record and stored["external"] is True


def test_codes_are_reordered_to_the_test_split_and_checked(bench_root, tmp_path):
    from bench.protocols.representation import load_codes

    data = bench_root / "data"
    test = FaceData.load(data, "test")
    run_example(bench_root / "export", tmp_path / "outputs")
    paths = test.index["path"].to_numpy(str)
    identity = np.arange(len(paths) * 2, dtype=np.float64).reshape(-1, 2)
    flip = np.arange(len(paths))[::-1]
    np.savez(tmp_path / "outputs" / "codes.npz", paths=paths[flip], identity=identity[flip])
    import_outputs(data, tmp_path / "outputs", "mine", K, tmp_path / "run")
    codes = load_codes(tmp_path / "run" / "representation" / "codes.npz", test)
    np.testing.assert_array_equal(codes["identity"], identity)
    np.savez(tmp_path / "outputs" / "codes.npz", paths=paths[:-1], identity=identity[:-1])
    with pytest.raises(DataError, match=r"codes.npz: 'paths' must list each of the \d+ test"):
        import_outputs(data, tmp_path / "outputs", "mine", K, tmp_path / "run2")


def test_allow_missing_counts_a_missing_output_and_scores_the_rest_unchanged(bench_root, tmp_path):
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.protocols.pose_transfer import score_pose_transfer

    data = bench_root / "data"
    run_example(bench_root / "export", tmp_path / "outputs")
    full_dir, gap_dir = tmp_path / "full" / "seed0", tmp_path / "gap" / "seed0"
    import_outputs(data, tmp_path / "outputs", "mine", K, full_dir)
    (tmp_path / "outputs" / "k1_self" / "0001.png").unlink()
    with pytest.raises(DataError, match="k1_self/0001.png: missing"):
        import_outputs(data, tmp_path / "outputs", "mine", K, gap_dir)
    argv = ["import", "synthfaces", "--name", "mine", "--outputs", str(tmp_path / "outputs")]
    argv += ["--k", *map(str, K)]
    assert (
        bench_main([*argv, "--data", str(data), "--run-dir", str(gap_dir), "--allow-missing"]) == 0
    )
    record = json.loads((gap_dir / "pose_transfer" / PROVENANCE_FILE).read_text())
    assert record["missing_outputs"] == ["k1_self/0001.png"]
    gap = score(
        bench_root, "mine", gap_dir / "pose_transfer" / "generated.npz", tmp_path / "g.json"
    )
    full = score(
        bench_root, "mine", full_dir / "pose_transfer" / "generated.npz", tmp_path / "f.json"
    )

    def scores(rows, where):  # NaN (an n/a row) as None, so equal rows compare equal
        return {
            r["metric"]: (None if np.isnan(r["value"]) else r["value"], r["n"], r.get("ci95"))
            for r in rows
            if (r["protocol"], r["k"]) == where
        }

    # the gap's key: N one lower, n_missing 1, every value as scoring without that tuple
    tuples = read_tuples(data)
    keep = (tuples["tuple"] != 1).to_numpy()
    outputs, _ = load_generated(full_dir / "pose_transfer" / "generated.npz")
    oracle = SynthOracle.load(bench_root / "identity.pt", bench_root / "pose.pt")
    settings = {"bootstrap": 50, "seed": 0, "reference_dir": str(bench_root / "reference")}
    without = score_pose_transfer(
        {"k1_self": outputs["k1_self"][keep]},
        FaceData.load(data, "test"),
        tuples[keep].reset_index(drop=True),
        oracle,
        settings,
    )
    got = scores(gap, ("pose_transfer/self", 1))
    assert got == scores(without, ("pose_transfer/self", 1)) and len(got) > 10
    assert {r["n"] for r in gap if (r["protocol"], r["k"]) == ("pose_transfer/self", 1)} == {7}
    assert all(
        r["n_missing"] == 1 for r in gap if r["protocol"] == "pose_transfer/self" and r["k"] == 1
    )
    # every other key as the complete import
    for where in [
        ("pose_transfer/cross", 1),
        ("pose_transfer/self", 3),
        ("pose_transfer/cross", 3),
    ]:
        assert scores(gap, where) == scores(full, where)
