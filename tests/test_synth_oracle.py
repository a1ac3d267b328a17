"""The pose oracle's degradation augmentation and its robustness report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.ndimage
import torch
from conftest import make_face_data

from bench.errors import CheckpointError
from bench.evaluators.synth_oracle import (
    ROBUSTNESS_CHECKS,
    SynthOracle,
    degrade,
    gaussian_blur,
    resample,
    train_pose_oracle,
)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_gaussian_blur_matches_scipy(sigma: float) -> None:
    images = torch.rand(2, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    ours = gaussian_blur(images, sigma).numpy()
    radius = max(1, int(np.ceil(3.0 * sigma)))
    reference = scipy.ndimage.gaussian_filter(
        images.numpy().astype(np.float64),
        sigma=(0, 0, sigma, sigma),
        mode="nearest",
        truncate=radius / sigma,
    )
    assert ours.shape == images.shape
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_resample_keeps_the_size_and_constant_images() -> None:
    images = torch.rand(3, 3, 32, 32)
    assert resample(images, 4).shape == images.shape
    flat = torch.full((1, 3, 32, 32), 0.25)
    torch.testing.assert_close(resample(flat, 3), flat)
    # a checkerboard at full resolution averages to its mean at factor 2
    board = (torch.arange(32)[:, None] + torch.arange(32)[None]) % 2
    board = board.float().expand(1, 3, 32, 32)
    torch.testing.assert_close(resample(board, 2), torch.full_like(board, 0.5))


def test_degrade_damages_the_asked_fraction_deterministically() -> None:
    images = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert degrade(images, np.random.default_rng(0), 0.0) is images
    every = degrade(images, np.random.default_rng(0), 1.0)
    changed = (every - images).abs().flatten(1).amax(1) > 0
    assert changed.all() and every.min() >= 0 and every.max() <= 1
    half = degrade(images, np.random.default_rng(0), 0.5)
    n_changed = int(((half - images).abs().flatten(1).amax(1) > 0).sum())
    assert 16 <= n_changed <= 48
    again = degrade(images, np.random.default_rng(0), 0.5)
    assert torch.equal(half, again)
    assert torch.equal(
        images, torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    )


def test_pose_oracle_reports_its_error_under_each_degradation(tmp_path) -> None:
    train = make_face_data(n_identities=4, per_identity=4, resolution=32, seed=0)
    test = make_face_data(n_identities=2, per_identity=4, resolution=32, seed=1)
    settings = {"steps": 3, "batch_size": 4, "width": 4, "lr": 1e-3, "seed": 0, "degrade": 0.5}
    quality = train_pose_oracle(train, test, tmp_path / "pose.pt", settings)
    json.dumps(quality)
    assert set(quality["pose_mae_degraded_degrees"]) == set(ROBUSTNESS_CHECKS)
    assert quality["pose_degrade_fraction"] == 0.5
    assert all(np.isfinite(v) for v in quality["pose_mae_degraded_degrees"].values())
    with pytest.raises(CheckpointError, match="pose.pt: not a synth-oracle-identity checkpoint"):
        SynthOracle.load(tmp_path / "pose.pt", tmp_path / "pose.pt")
