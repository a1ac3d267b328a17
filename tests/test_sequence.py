"""The sequence protocol: rendered test sequences, self-reenactment through the Method
contract, per-sequence frame metrics, the stage and the table."""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import SMALL_SYNTHFACES
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from bench.cli import main as bench_main
from bench.config import validate_config
from bench.data.dataset import FaceData
from bench.data.prepare import prepare_synthfaces, scene_from_row
from bench.data.registry import capabilities, dataset_registry
from bench.data.synthfaces.sequences import SEQUENCES_DIR, render_sequences
from bench.errors import DataError
from bench.evaluators.synth_oracle import SynthOracle, train_identity_oracle, train_pose_oracle
from bench.methods.registry import get_method
from bench.protocols.sequence import (
    load_sequences,
    save_generated_sequences,
    score_sequences,
    synthesize_sequences,
)

FRAMES, CLIPS = 16, 3
ORACLE = {"steps": 3, "batch_size": 4, "width": 4, "lr": 1e-3, "seed": 0}
SETTINGS = {"bootstrap": 50, "seed": 0, "lpips": {"backbone": "alex", "weights_path": None}}


def tree_digest(folder, skip=SEQUENCES_DIR) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] != skip
    }


@pytest.fixture(scope="module")
def seq_root(tmp_path_factory):
    """A tiny SynthFaces, its digest before the sequences, the sequences, two 3-step oracles."""
    root = tmp_path_factory.mktemp("sequence")
    data = root / "data"
    prepare_synthfaces(data, validate_config({"synthfaces": SMALL_SYNTHFACES})["synthfaces"])
    before = tree_digest(data)
    render_sequences(data, FRAMES, CLIPS)
    after = tree_digest(data)
    train, test = FaceData.load(data, "train"), FaceData.load(data, "test")
    train_identity_oracle(
        train, test, data / "pairs.txt", root / "identity.pt", {**ORACLE, "embedding_dim": 8}
    )
    train_pose_oracle(train, test, root / "pose.pt", {**ORACLE, "degrade": 0.5})
    return SimpleNamespace(root=root, data=data, before=before, after=after, info=test.info())


def oracle(seq_root):
    return SynthOracle.load(seq_root.root / "identity.pt", seq_root.root / "pose.pt")


def test_sequences_leave_every_file_of_the_dataset_unchanged(seq_root):
    assert seq_root.after == seq_root.before and len(seq_root.before) > 100


def test_sequences_are_deterministic(seq_root, tmp_path):
    other = tmp_path / "copy"
    prepare_synthfaces(other, validate_config({"synthfaces": SMALL_SYNTHFACES})["synthfaces"])
    render_sequences(other, FRAMES, CLIPS)
    ours = tree_digest(seq_root.data / SEQUENCES_DIR, skip=".cache")
    assert tree_digest(other / SEQUENCES_DIR, skip=".cache") == ours


def test_sequence_frames_carry_their_exact_pose_and_landmarks(seq_root):
    from bench.data.synthfaces import Identity, Renderer

    sequences = load_sequences(seq_root.data)
    assert sequences.rows.shape == (CLIPS, FRAMES)
    index = sequences.frames.index
    first_test = SMALL_SYNTHFACES["train_identities"]
    assert sorted(set(index["identity"])) == list(range(first_test, first_test + CLIPS))
    settings = json.loads((seq_root.data / "meta.json").read_text())["settings"]
    renderer = Renderer(resolution=settings["resolution"], supersample=settings["supersample"])
    for row in (0, FRAMES - 1, 2 * FRAMES + 5):
        record = index.iloc[row]
        person = Identity.from_seed(int(record["identity_seed"]), settings["shape_gain"])
        render = renderer.render(person, scene_from_row(record))
        np.testing.assert_array_equal(render.image, sequences.frames.images[row])
        np.testing.assert_array_equal(render.landmarks, sequences.frames.landmarks[row])
        np.testing.assert_array_equal(render.visible, sequences.frames.visible[row])
    poses = sequences.frames.poses[sequences.rows[0]]
    assert np.ptp(poses[:, 0]) > 5  # the head moves along the sequence


def test_only_synthfaces_declares_sequences(seq_root):
    assert capabilities("synthfaces").sequences
    assert not any(c.sequences for name, c in dataset_registry().items() if name != "synthfaces")
    with pytest.raises(DataError, match="test identities"):
        render_sequences(seq_root.data, FRAMES, SMALL_SYNTHFACES["test_identities"] + 1)


class Recorder:
    """A stand-in method that records what the protocol hands it and returns the driver."""

    name = "recorder"
    not_applicable_k: dict[int, str] = {}
    needs = frozenset({"landmarks", "pose_angles"})
    device = torch.device("cpu")

    def __init__(self):
        self.calls = []

    def transfer_k(self, sources, driver, ks):
        self.calls.append((sources.clone(), driver))
        return {k: driver.image.clone() for k in ks}


def test_sources_are_the_first_k_frames_and_drivers_every_frame(seq_root):
    sequences = load_sequences(seq_root.data)
    method = Recorder()
    outputs = synthesize_sequences(method, sequences, [1, 3], batch_size=7)
    videos = sequences.videos()
    np.testing.assert_array_equal(outputs["k1"], videos)
    np.testing.assert_array_equal(outputs["k3"], videos)
    sources = torch.cat([s for s, _ in method.calls]).numpy()
    assert sources.shape[:2] == (CLIPS * FRAMES, 3)
    expected = videos[:, :3].transpose(0, 1, 4, 2, 3) / 255.0  # [S, 3, C, H, W]
    np.testing.assert_allclose(sources, np.repeat(expected, FRAMES, axis=0), atol=1e-6)
    landmarks = torch.cat([d.landmarks for _, d in method.calls]).numpy()
    np.testing.assert_array_equal(landmarks, sequences.frames.landmarks[sequences.rows.ravel()])
    poses = torch.cat([d.pose for _, d in method.calls]).numpy()
    np.testing.assert_allclose(poses, sequences.frames.poses[sequences.rows.ravel()])
    assert all(d.expression is None and d.target is None for _, d in method.calls)


def builtin_outputs(seq_root, name: str, k_values=(1, 2)) -> dict[str, np.ndarray]:
    method = get_method(name).cls({}, seq_root.info)
    return synthesize_sequences(method, load_sequences(seq_root.data), list(k_values), 10)


def by_metric(rows, kind="k1") -> dict[str, object]:
    return {row.metric: row for row in rows if row.kind == kind}


def test_reference_rows_copy_driver_and_ground_truth_are_perfect(seq_root):
    sequences = load_sequences(seq_root.data)
    for name in ("copy_driver", "ground_truth"):
        outputs = builtin_outputs(seq_root, name)
        np.testing.assert_array_equal(outputs["k1"], sequences.videos())
        rows = by_metric(score_sequences(outputs, sequences, oracle(seq_root), SETTINGS))
        assert rows["l1[rgb-0-1]"].value == 0.0 and rows["ssim[gauss11-1.5]"].value == 1.0
        assert rows["csim_target[synth-oracle]"].value == pytest.approx(1.0, abs=1e-5)
        assert rows["l1[rgb-0-1]"].n == CLIPS


def test_copy_source_rows_equal_an_independent_computation(seq_root):
    sequences = load_sequences(seq_root.data)
    outputs = builtin_outputs(seq_root, "copy_source")
    videos = sequences.videos()
    np.testing.assert_array_equal(outputs["k1"], np.repeat(videos[:, :1], FRAMES, axis=1))
    rows = by_metric(score_sequences(outputs, sequences, oracle(seq_root), SETTINGS, None, [1, 2]))
    # frames 0 and 1 are sources (K = 2): the frame metrics score frames 2..15
    outputs, videos = {"k1": outputs["k1"][:, 2:]}, videos[:, 2:]
    l1 = np.abs(outputs["k1"] / 255.0 - videos / 255.0).mean(axis=(2, 3, 4)).mean(1)
    assert rows["l1[rgb-0-1]"].value == pytest.approx(l1.mean(), rel=1e-6)
    psnr = [
        [
            min(peak_signal_noise_ratio(v, o, data_range=255), 100.0)
            for v, o in zip(vs, os_, strict=True)
        ]
        for vs, os_ in zip(videos, outputs["k1"], strict=True)
    ]
    assert rows["psnr[rgb-range1-cap100]"].value == pytest.approx(np.mean(psnr, 1).mean(), 1e-4)
    assert rows["l1[rgb-0-1]"].spread == "bootstrap95 over sequences"
    lpips = rows["lpips[alex-v0.1]"]
    assert np.isnan(lpips.value) and "alexnet" in lpips.na_reason


def test_score_stage_writes_valid_rows_and_the_table(seq_root, tmp_path):
    sequences = load_sequences(seq_root.data)
    files = []
    for name in ("copy_source", "copy_driver"):
        generated = tmp_path / name / "generated.npz"
        save_generated_sequences(generated, builtin_outputs(seq_root, name), sequences.ids, [1, 2])
        out = tmp_path / name / "metrics.json"
        argv = ["score-sequence", "--method", name, "--seed", "0", "--data", str(seq_root.data)]
        argv += ["--generated", str(generated), "--params", json.dumps(SETTINGS)]
        argv += ["--identity-oracle", str(seq_root.root / "identity.pt")]
        argv += ["--pose-oracle", str(seq_root.root / "pose.pt"), "--out", str(out)]
        assert bench_main(argv) == 0
        rows = json.loads(out.read_text())["rows"]
        assert {row["protocol"] for row in rows} == {"sequence/k1", "sequence/k2"}
        files.append(str(out))
    argv = ["tables", "--table", "sequence", "--dataset", "synthfaces"]
    assert bench_main([*argv, "--out-dir", str(tmp_path / "tables"), *files]) == 0
    table = (tmp_path / "tables" / "synthfaces_sequence.md").read_text()
    assert "copy_source" in table and "copy_driver" in table and "k2" in table


def test_sequences_stage_refuses_a_dataset_without_sequences(seq_root, tmp_path):
    meta = json.loads((seq_root.data / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(
        json.dumps({**meta, "dataset": "lfw", "has_exact_targets": False})
    )
    params = json.dumps({"frames": FRAMES, "clips": CLIPS})
    out = str(tmp_path / "sequences" / "index.csv")
    argv = ["sequences", "--data", str(tmp_path), "--params", params, "--out", out]
    assert bench_main(argv) == 2


def test_a_png_of_the_sequences_is_what_the_protocol_reads(seq_root):
    sequences = load_sequences(seq_root.data)
    path = seq_root.data / SEQUENCES_DIR / sequences.frames.index["path"].iloc[3]
    np.testing.assert_array_equal(np.asarray(Image.open(path)), sequences.frames.images[3])


def test_fvd_row_compares_the_videos_with_generated_i3d_weights(seq_root, tmp_path):
    """FVD through bench.metrics.fvd on a scripted stand-in for i3d_torchscript.pt (the
    real weights are not on this machine): the exact copies score ~0, copy_source more;
    a missing file gives n/a naming it."""
    from test_fvd import TinyVideoNet

    from bench.evaluators.i3d import TORCHSCRIPT_FILENAME

    torch.manual_seed(0)
    weights = tmp_path / TORCHSCRIPT_FILENAME
    torch.jit.save(torch.jit.script(TinyVideoNet().eval()), str(weights))
    sequences = load_sequences(seq_root.data)
    settings = {**SETTINGS, "fvd_weights": str(weights)}
    values = {}
    for name in ("copy_driver", "copy_source"):
        rows = score_sequences(
            builtin_outputs(seq_root, name), sequences, oracle(seq_root), settings
        )
        fvd = [row for row in rows if row.family == "fvd" and row.kind == "k1"]
        assert len(fvd) == 1 and fvd[0].n == CLIPS and fvd[0].protocol == "sequence"
        values[name] = fvd[0].value
    assert abs(values["copy_driver"]) < 1e-6 < values["copy_source"]
    missing = {**SETTINGS, "fvd_weights": str(tmp_path / "absent.pt")}
    rows = score_sequences(
        builtin_outputs(seq_root, "copy_source"), sequences, oracle(seq_root), missing
    )
    reason = next(row.na_reason for row in rows if row.family == "fvd")
    assert str(tmp_path / "absent.pt") in reason


def test_score_stage_skips_the_configured_source_frames_for_every_run(seq_root, tmp_path):
    """A run re-enacting only K = 1 (a per-K run) is scored on the frames after max(K) of
    protocols.sequence.k (``skip_frames``), as every other run, not after its own K."""
    sequences = load_sequences(seq_root.data)
    outputs = {"k1": builtin_outputs(seq_root, "copy_source", (1,))["k1"]}
    generated = tmp_path / "generated.npz"
    save_generated_sequences(generated, outputs, sequences.ids, [1])
    out = tmp_path / "metrics.json"
    argv = ["score-sequence", "--method", "copy_source", "--seed", "0-k1"]
    argv += ["--data", str(seq_root.data), "--generated", str(generated), "--out", str(out)]
    argv += ["--params", json.dumps({**SETTINGS, "skip_frames": 4})]
    argv += ["--identity-oracle", str(seq_root.root / "identity.pt")]
    argv += ["--pose-oracle", str(seq_root.root / "pose.pt")]
    assert bench_main(argv) == 0
    l1 = next(
        r["value"] for r in json.loads(out.read_text())["rows"] if r["metric"] == "l1[rgb-0-1]"
    )
    videos = sequences.videos()[:, 4:] / 255.0
    expected = np.abs(outputs["k1"][:, 4:] / 255.0 - videos).mean(axis=(2, 3, 4)).mean()
    assert l1 == pytest.approx(expected, rel=1e-6)
