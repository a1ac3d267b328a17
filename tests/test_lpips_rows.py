"""LPIPS rows in protocol 1 (vs targets) and reconstruction (vs inputs): the value is the
evaluator's on the same images; without backbone weights the row is n/a naming the file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_face_data
from test_following import LookupOracle
from test_psnr_lpips import random_backbone

from bench.data.dataset import to_float_images, to_uint8_images
from bench.errors import EvaluatorUnavailable
from bench.evaluators.lpips import LPIPS
from bench.methods.api import Method
from bench.protocols import pose_transfer
from bench.protocols.reconstruction import score_reconstruction


def _pose_transfer_rows(monkeypatch, lpips: dict) -> tuple[list, dict]:
    """copy_source outputs of 12 toy tuples at 32 px (K = 1), scored with ``lpips``."""
    test = make_face_data(n_identities=6, per_identity=4, resolution=32)
    test.index["split"] = "test"
    tuples = pose_transfer.make_tuples(test.index, 1, 12, seed=0)
    tuples["cross_target"] = ""
    resolved = pose_transfer.resolve_tuples(test, tuples)
    monkeypatch.setattr(
        pose_transfer.scoring, "load_inception", lambda *_: EvaluatorUnavailable("no weights")
    )
    copy = to_uint8_images(resolved.sources[:, 0])
    outputs = {"k1_self": copy, "k1_cross": copy}
    settings = {"bootstrap": 50, "seed": 0, "lpips": lpips}
    rows = pose_transfer.score_pose_transfer(outputs, test, tuples, LookupOracle(test), settings)
    expected_inputs = {"self": (to_float_images(copy), resolved.targets["self"])}
    return rows, expected_inputs


def test_pose_transfer_lpips_row_equals_the_evaluator_on_outputs_and_targets(monkeypatch, tmp_path):
    random_backbone("alex", tmp_path / "alex.pth")
    lpips = {"backbone": "alex", "weights_path": str(tmp_path / "alex.pth")}
    rows, inputs = _pose_transfer_rows(monkeypatch, lpips)
    found = [r for r in rows if r["metric"] == "lpips[alex-v0.1]"]
    # Only self tuples have a target here (the toy data renders no exact cross targets).
    assert [r["protocol"] for r in found] == ["pose_transfer/self"]
    expected = LPIPS("alex", tmp_path / "alex.pth").distances(*inputs["self"])
    row = found[0]
    assert row["value"] == pytest.approx(expected.mean(), rel=1e-12) and expected.mean() > 0
    assert row["n"] == 12 and row["higher_is_better"] is False
    assert row["evaluator"] == "alex-v0.1" and str(tmp_path / "alex.pth") in row["weights_sha256"]
    assert row["ci95"][0] <= row["value"] <= row["ci95"][1]


def test_pose_transfer_lpips_without_weights_is_na_naming_the_path(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "vgg16.pth"
    rows, _ = _pose_transfer_rows(monkeypatch, {"backbone": "vgg", "weights_path": str(missing)})
    row = next(r for r in rows if r["metric"] == "lpips[vgg-v0.1]")
    assert np.isnan(row["value"]) and str(missing) in row["na_reason"] and row["n"] == 12


class Noisy(Method):
    """Reconstructs each image plus fixed noise (LPIPS > 0)."""

    provides = frozenset({"reconstruct"})
    trainable = False

    def __init__(self) -> None:
        super().__init__({}, None)

    def reconstruct(self, images):
        noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(1))
        return (0.7 * images + 0.3 * noise).clamp(0, 1)


class FlatOracle:
    name = "flat-oracle"

    def embed(self, images):
        return torch.nn.functional.normalize(images.flatten(1).double(), dim=1).numpy()


SETTINGS = {"images": 10, "batch_size": 20, "seed": 0, "bootstrap": 50}


def test_reconstruction_lpips_row_equals_the_evaluator_on_reconstructions(tmp_path):
    random_backbone("vgg", tmp_path / "vgg.pth")
    data = make_face_data(resolution=32)
    lpips = {"backbone": "vgg", "weights_path": str(tmp_path / "vgg.pth")}
    rows = score_reconstruction(Noisy(), data, FlatOracle(), {**SETTINGS, "lpips": lpips})
    row = next(r for r in rows if r["metric"] == "lpips[vgg-v0.1]")
    # the same seeded subset and stored-image precision as the protocol
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(data), size=10, replace=False))
    real = to_float_images(data.images[chosen])
    recon = to_float_images(to_uint8_images(Noisy().reconstruct(real)))
    expected = LPIPS("vgg", tmp_path / "vgg.pth").distances(recon, real)
    assert row["value"] == pytest.approx(expected.mean(), rel=1e-12) and expected.mean() > 0
    assert row["n"] == 10 and row["protocol"] == "reconstruction/reconstruct"
    assert row["spread"] == "bootstrap95 over images"


def test_reconstruction_lpips_without_weights_or_too_small_is_na_with_the_reason(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    rows = score_reconstruction(Noisy(), make_face_data(resolution=32), FlatOracle(), SETTINGS)
    row = next(r for r in rows if r["metric"] == "lpips[alex-v0.1]")
    hub_file = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert np.isnan(row["value"]) and str(hub_file) in row["na_reason"]
    random_backbone("alex", tmp_path / "alex.pth")
    small = {**SETTINGS, "lpips": {"backbone": "alex", "weights_path": str(tmp_path / "alex.pth")}}
    rows = score_reconstruction(Noisy(), make_face_data(resolution=16), FlatOracle(), small)
    row = next(r for r in rows if r["metric"] == "lpips[alex-v0.1]")
    assert np.isnan(row["value"]) and "16 px are below its 31 px minimum" in row["na_reason"]
