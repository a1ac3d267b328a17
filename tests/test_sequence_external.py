"""Sequence outputs of a foreign method: export -> example script (frame folders and lossless
mp4 videos) -> import -> the same rows as the built-in reference methods."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import SMALL_SYNTHFACES
from PIL import Image

from bench import REPO_ROOT
from bench.cli import main as bench_main
from bench.config import validate_config
from bench.data.dataset import FaceData
from bench.data.prepare import prepare_synthfaces
from bench.data.synthfaces.sequences import render_sequences
from bench.errors import DataError
from bench.evaluators.synth_oracle import SynthOracle, train_identity_oracle, train_pose_oracle
from bench.external import PROVENANCE_FILE
from bench.external.export import export_protocol
from bench.external.import_ import detect_protocols, import_outputs
from bench.external.sequences import read_video
from bench.methods.registry import get_method
from bench.protocols.pose_transfer import write_tuples
from bench.protocols.sequence import (
    load_generated_sequences,
    load_sequences,
    score_sequences,
    synthesize_sequences,
)

FRAMES, CLIPS, K, SEQ_K = 16, 3, [1, 2], [1, 2]
ORACLE = {"steps": 3, "batch_size": 4, "width": 4, "lr": 1e-3, "seed": 0}
SETTINGS = {"bootstrap": 50, "seed": 0, "lpips": {"backbone": "alex", "weights_path": None}}
EXAMPLE = REPO_ROOT / "examples" / "export_copy_source.py"


@pytest.fixture(scope="module")
def ext_root(tmp_path_factory):
    """A tiny SynthFaces with tuples, sequences, two 3-step oracles and an export."""
    root = tmp_path_factory.mktemp("sequence_external")
    data = root / "data"
    prepare_synthfaces(data, validate_config({"synthfaces": SMALL_SYNTHFACES})["synthfaces"])
    write_tuples(data, {"k": K, "tuples": 4, "seed": 0, "batch_size": 4})
    render_sequences(data, FRAMES, CLIPS)
    train, test = FaceData.load(data, "train"), FaceData.load(data, "test")
    train_identity_oracle(
        train, test, data / "pairs.txt", root / "identity.pt", {**ORACLE, "embedding_dim": 8}
    )
    train_pose_oracle(train, test, root / "pose.pt", {**ORACLE, "degrade": 0.5})
    export_protocol(data, root / "export", K, SEQ_K)
    return SimpleNamespace(root=root, data=data, info=test.info())


def example(ext_root, out, *flags):
    command = [sys.executable, str(EXAMPLE), str(ext_root.root / "export"), str(out), *flags]
    subprocess.run(command, check=True, capture_output=True)


def example_module():
    """The example script as a module (its write_video makes a short video)."""
    spec = importlib.util.spec_from_file_location("export_copy_source", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows_of(ext_root, outputs, present=None):
    oracle = SynthOracle.load(ext_root.root / "identity.pt", ext_root.root / "pose.pt")
    rows = score_sequences(outputs, load_sequences(ext_root.data), oracle, SETTINGS, present)
    return json.dumps([{**row} for row in rows], sort_keys=True, default=str)  # NaN == NaN


def builtin(ext_root, name):
    method = get_method(name).cls({}, ext_root.info)
    return synthesize_sequences(method, load_sequences(ext_root.data), SEQ_K, 16)


def test_export_lists_each_sequence_its_frames_labels_and_expected_outputs(ext_root):
    manifest = json.loads((ext_root.root / "export" / "manifest.json").read_text())
    section = manifest["sequences"]
    assert section["k"] == SEQ_K and section["frames"] == FRAMES
    assert [e["sequence"] for e in section["sequences"]] == ["seq0000", "seq0001", "seq0002"]
    entry = section["sequences"][1]
    sequences = load_sequences(ext_root.data)
    frame = entry["frames"][5]
    image = np.asarray(Image.open(ext_root.root / "export" / frame["image"]))
    np.testing.assert_array_equal(image, sequences.videos()[1, 5])
    assert frame["pose_degrees"]["yaw"] == pytest.approx(sequences.frames.poses[FRAMES + 5, 0])
    assert np.asarray(frame["landmarks"]).shape == (68, 2)
    assert (ext_root.root / "export" / frame["landmark_image"]).is_file()
    assert entry["outputs"]["k2"] == {
        "frame_folder": "sequence_k2/seq0001",
        "frame_files": [f"frame_{t:03d}.png" for t in range(FRAMES)],
        "video": "sequence_k2/seq0001.mp4",
    }
    assert "sequence_k<K>/<seq>.mp4" in (ext_root.root / "export" / "README.txt").read_text()


@pytest.mark.parametrize(
    ("builtin_name", "flags"),
    [
        ("copy_source", ("--sequences", "mixed")),
        ("copy_driver", ("--driver", "--sequences", "video")),
    ],
)
def test_round_trip_rows_equal_the_builtin_rows(ext_root, tmp_path, builtin_name, flags):
    """Frame folders and lossless libx264rgb videos: the imported videos equal the built-in
    method's outputs byte for byte, so every row (value, N, interval) is equal."""
    out = tmp_path / "outputs"
    example(ext_root, out, *flags)
    if "mixed" in flags:
        assert (out / "sequence_k1" / "seq0000").is_dir()
        assert (out / "sequence_k1" / "seq0001.mp4").is_file()
    assert detect_protocols(out) == ("pose_transfer", "sequence")
    run = tmp_path / "run"
    import_outputs(ext_root.data, out, "mine", K, run, sequence_k=SEQ_K)
    generated, ids, k_values, present = load_generated_sequences(run / "sequence/generated.npz")
    expected = builtin(ext_root, builtin_name)
    assert k_values == SEQ_K and present == {} and ids == load_sequences(ext_root.data).ids
    for key in expected:
        np.testing.assert_array_equal(generated[key], expected[key])
    assert rows_of(ext_root, generated) == rows_of(ext_root, expected)
    provenance = json.loads((run / "sequence" / PROVENANCE_FILE).read_text())
    assert provenance["external"] and len(provenance["outputs_sha256"]) == 64
    assert (run / "pose_transfer" / "generated.npz").is_file()


def test_one_error_per_bad_file_all_at_once_and_nothing_written(ext_root, tmp_path):
    out = tmp_path / "outputs"
    example(ext_root, out, "--sequences", "mixed")
    shutil.rmtree(out / "sequence_k1" / "seq0000")  # missing
    (out / "sequence_k2" / "seq0001.mp4").write_bytes(b"not a video")  # corrupt
    Image.new("RGB", (8, 8)).save(out / "sequence_k2" / "seq0000" / "frame_003.png")  # size
    (out / "sequence_k2" / "seq0000" / "frame_016.png").write_bytes(b"")  # extra file
    frames = sorted((out / "sequence_k1" / "seq0002").glob("*.png"))
    frames[-1].unlink()  # a frame folder one frame short
    run = tmp_path / "run"
    with pytest.raises(DataError) as error:
        import_outputs(ext_root.data, out, "mine", K, run, sequence_k=SEQ_K)
    lines = str(error.value).splitlines()[1:]
    assert len(lines) == 5, lines
    text = str(error.value)
    assert "sequence_k1/seq0000/ or sequence_k1/seq0000.mp4: missing" in text
    assert "sequence_k2/seq0001.mp4: unreadable video" in text
    assert "sequence_k2/seq0000/frame_003.png: size 8x8, expected 32x32" in text
    assert "sequence_k1/seq0002/frame_015.png: missing" in text
    assert "sequence_k2/seq0000/frame_016.png: not an expected output" in text
    assert not run.exists()


def test_a_video_with_the_wrong_frame_count_or_a_folder_and_a_video_is_refused(ext_root, tmp_path):
    out = tmp_path / "outputs"
    example(ext_root, out, "--sequences", "video")
    short = tmp_path / "short"
    example_frames = sorted((ext_root.root / "export" / "sequences" / "seq0000").glob("frame_*"))
    example_module().write_video(short / "v.mp4", example_frames[:-2])
    assert read_video(short / "v.mp4", FRAMES, 32)[1] == f"{FRAMES - 2} frames, expected {FRAMES}"
    shutil.copyfile(short / "v.mp4", out / "sequence_k1" / "seq0001.mp4")
    (out / "sequence_k1" / "seq0002").mkdir()
    with pytest.raises(DataError) as error:
        import_outputs(ext_root.data, out, "mine", [], tmp_path / "run", sequence_k=SEQ_K)
    text = str(error.value)
    assert f"seq0001.mp4: {FRAMES - 2} frames, expected {FRAMES}" in text
    assert "seq0002.mp4: and a frame folder" in text


def test_allow_missing_counts_a_missing_sequence(ext_root, tmp_path):
    out = tmp_path / "outputs"
    example(ext_root, out, "--sequences", "frames")
    shutil.rmtree(out / "sequence_k1" / "seq0001")
    run = tmp_path / "run"
    import_outputs(ext_root.data, out, "mine", [], run, allow_missing=True, sequence_k=SEQ_K)
    generated, _, _, present = load_generated_sequences(run / "sequence/generated.npz")
    assert present == {"k1": ["seq0000", "seq0002"]}
    assert not (run / "pose_transfer").exists()  # sequence outputs only
    rows = json.loads(rows_of(ext_root, generated, present))
    rows = [r for r in rows if r["protocol"] == "sequence/k1"]
    assert rows and all(r["n"] == CLIPS - 1 and r["n_missing"] == 1 for r in rows if "ci95" in r)


def test_cli_import_of_sequences_only_and_score_stage_label(ext_root, tmp_path):
    out = tmp_path / "outputs"
    example(ext_root, out, "--sequences", "video")
    for folder in out.glob("k*_*"):
        shutil.rmtree(folder)
    assert detect_protocols(out) == ("sequence",)
    run, data = tmp_path / "run", tmp_path / "data"  # sequences without pose-transfer tuples
    shutil.copytree(ext_root.data / "sequences", data / "sequences")
    shutil.copyfile(ext_root.data / "meta.json", data / "meta.json")
    argv = ["import", "synthfaces", "--name", "mine", "--outputs", str(out)]
    argv += ["--data", str(data), "--run-dir", str(run), "--sequence-k", *map(str, SEQ_K)]
    assert bench_main(argv) == 0
    provenance = json.loads((run / "sequence" / PROVENANCE_FILE).read_text())
    assert provenance["tuples_file_sha256"] is None and provenance["outputs_files"] == 6
    metrics = tmp_path / "metrics.json"
    argv = ["score-sequence", "--method", "mine", "--seed", "0", "--data", str(ext_root.data)]
    argv += ["--generated", str(run / "sequence" / "generated.npz")]
    argv += ["--params", json.dumps(SETTINGS), "--out", str(metrics)]
    argv += ["--identity-oracle", str(ext_root.root / "identity.pt")]
    argv += ["--pose-oracle", str(ext_root.root / "pose.pt")]
    assert bench_main(argv) == 0
    rows = json.loads(metrics.read_text())["rows"]
    assert {row["method"] for row in rows} == {"mine (external)"}
    assert all(row["external"] for row in rows)
