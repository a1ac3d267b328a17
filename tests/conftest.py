"""Shared fixtures: a tiny in-memory dataset, so most tests need no rendering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench.data.dataset import FaceData
from bench.data.index import PoseBins

#: A SynthFaces config small enough to render in about a second (32 px, 6 + 6 people, clips
#: of 5 frames, 2 x 4 verification pairs): the tests that prepare, export or import a
#: whole rendered dataset share it.
SMALL_SYNTHFACES = {
    "resolution": 32,
    "train_identities": 6,
    "test_identities": 6,
    "clips_per_identity": 2,
    "clip_length": 5,
    "supersample": 1,
    "pairs": {"sets": 2, "per_set": 4},
}


def make_face_data(
    n_identities: int = 6, per_identity: int = 4, resolution: int = 16, seed: int = 0
) -> FaceData:
    """Random images with consistent labels; enough for training-loop mechanics."""
    rng = np.random.default_rng(seed)
    n = n_identities * per_identity
    identity = np.repeat(np.arange(n_identities), per_identity)
    index = pd.DataFrame(
        {
            "path": [
                f"images/id{i:05d}/id{i:05d}_{j + 1:04d}.png"
                for i in range(n_identities)
                for j in range(per_identity)
            ],
            "identity": identity,
            "clip": np.tile(np.arange(per_identity) // 2, n_identities),
            # odd clips are multi-view sessions (session = clip // 2), even ones video clips
            "session": np.tile(
                np.where((np.arange(per_identity) // 2) % 2 == 1, np.arange(per_identity) // 4, -1),
                n_identities,
            ),
            "split": "train",
            "yaw": rng.uniform(-90, 90, n),
            "pitch": rng.uniform(-30, 30, n),
            "roll": rng.uniform(-20, 20, n),
            "pose_source": "gt",
            "expression": rng.integers(0, 3, n),
            "light": rng.uniform(-90, 90, n),
        }
    )
    return FaceData(
        name="toy",
        root=Path("/nonexistent/toy"),
        index=index,
        images=rng.integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8),
        landmarks=rng.uniform(0, resolution, (n, 68, 2)).astype(np.float32),
        visible=np.ones((n, 68), bool),
        pose_bins=PoseBins(15.0),
        resolution=resolution,
    )


@pytest.fixture
def toy_data() -> FaceData:
    return make_face_data()


class Killed(Exception):
    """Raised by a hook to simulate a job killed mid-training."""


def train_until_killed(spec, config, data, run_dir: Path, *, kill_at: int, **train_args) -> None:
    """``bench.train.train`` into ``run_dir``, "killed" when step ``kill_at`` ends (its
    checkpoints stay, as a killed job's do); ``train_args``: seed, settings."""
    from bench.train import train

    def kill(step: int) -> None:
        if step == kill_at:
            raise Killed

    with pytest.raises(Killed):
        train(spec, config, data, run_dir, on_step_end=kill, **train_args)


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The state dict of a finished run's ``model.pt``."""
    return torch.load(run_dir / "model.pt", weights_only=True)["model"]


def assert_same_weights(straight: dict, resumed: dict, what: str = "") -> None:
    """Every tensor of a resumed run equals the uninterrupted run's, key by key."""
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), f"{what}{key} differs after resume"
