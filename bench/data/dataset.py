"""A prepared split held in memory, and the deterministic batch sampler of training.

Batches are a pure function of ``(seed, step)``: a job resumed from a checkpoint at
step ``s`` draws exactly the batches an uninterrupted run would have drawn.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.data.batch import DatasetInfo, FaceBatch, Sampling
from bench.data.index import (
    GROUPINGS,
    POSE_COLUMNS,
    POSE_SUPERVISION,
    PoseBins,
    cached_array,
    group_rows,
    load_images_cached,
    pose_labelled,
    read_index,
    read_landmarks,
    read_meta,
)
from bench.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass
class FaceData:
    """One split of a prepared dataset: uint8 images and per-image labels, in index order."""

    name: str
    root: Path
    index: pd.DataFrame  # rows of this split, original index order, reset to 0..N-1
    images: np.ndarray  # uint8 [N, H, W, 3]
    landmarks: np.ndarray  # float32 [N, 68, 2]
    visible: np.ndarray  # bool [N, 68]
    pose_bins: PoseBins
    resolution: int

    @classmethod
    def load(
        cls, root: Path, split: str, pose_bin_width: float = 15.0, threads: int = 4
    ) -> FaceData:
        """Read the index, the crops and the landmarks of ``split`` from ``root``."""
        root = Path(root)
        meta = read_meta(root)
        index = read_index(root)
        points, visible = read_landmarks(root, index)
        mask = (index["split"] == split).to_numpy()
        if not mask.any():
            raise DataError(f"{root / 'index.csv'}: no rows with split {split!r}")
        rows = index[mask].reset_index(drop=True)
        images = load_images_cached(
            root, f"images-{split}", [root / p for p in rows["path"]], meta["resolution"], threads
        )
        return cls(
            name=meta["dataset"],
            root=root,
            index=rows,
            images=images,
            landmarks=points[mask],
            visible=visible[mask],
            pose_bins=PoseBins(pose_bin_width),
            resolution=int(meta["resolution"]),
        )

    def __len__(self) -> int:
        return len(self.index)

    def with_pose_labels(self, needs: frozenset[str], method: str) -> FaceData:
        """This split, or, where ``method`` needs pose labels, its rows that have one (counted
        and logged); a split without any is an error naming the index."""
        keep = pose_labelled(self.index)
        if not POSE_SUPERVISION & needs or keep.all():
            return self
        if not keep.any():
            raise DataError(
                f"{self.root / 'index.csv'}: method {method!r} needs pose labels, but none of "
                f"the {len(self)} {self.index['split'].iloc[0]} rows has one (yaw/pitch/roll "
                "n/a: profiles flagged by the 68-point fit); train it on another dataset"
            )
        log.warning(
            "%s: method %s needs pose labels: training on the %d of %d rows that have one (%d "
            "without: pose_source %s)",
            self.root / "index.csv", method, keep.sum(), len(self), (~keep).sum(),
            ", ".join(sorted(set(self.index.loc[~keep, "pose_source"].astype(str)))),
        )  # fmt: skip
        return dataclasses.replace(
            self,
            index=self.index[keep].reset_index(drop=True),
            images=self.images[keep],
            landmarks=self.landmarks[keep],
            visible=self.visible[keep],
        )

    # -- labels ---------------------------------------------------------------------------
    @cached_property
    def identity_labels(self) -> np.ndarray:
        """Identities renumbered 0..n-1 in sorted order (what classifiers train on)."""
        return np.unique(self.index["identity"].to_numpy(), return_inverse=True)[1]

    @cached_property
    def poses(self) -> np.ndarray:
        return self.index[POSE_COLUMNS].to_numpy(np.float32)

    @cached_property
    def pose_bin_labels(self) -> np.ndarray:
        return self.pose_bins.assign(self.poses[:, 0])

    @cached_property
    def expression_labels(self) -> np.ndarray:
        return self.index["expression"].to_numpy(np.int64)

    @cached_property
    def landmark_images(self) -> np.ndarray:
        """uint8 ``[N, H, W, 3]`` landmark drawings, made once when a method needs them.

        Kept as a packed copy in the dataset's ``.cache`` (:func:`cached_array`), keyed by
        the landmarks, the resolution and the source of the drawing code."""
        from bench.data import synthfaces

        def draw() -> np.ndarray:
            return np.stack(
                [
                    synthfaces.landmark_image(p, self.resolution, v)
                    for p, v in zip(self.landmarks, self.visible, strict=True)
                ]
            )

        digest = hashlib.sha256(Path(synthfaces.__file__).read_bytes())
        for array in (self.landmarks, self.visible):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(f"{self.resolution}".encode())
        split = "-".join(sorted(set(self.index["split"])))
        return cached_array(self.root, f"landmark-images-{split}", digest.hexdigest(), draw)

    @cached_property
    def _groups(self) -> dict[str, list[np.ndarray]]:
        return {group: group_rows(self.index, group) for group in GROUPINGS}

    def info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            resolution=self.resolution,
            n_identities=int(self.identity_labels.max()) + 1,
            n_pose_bins=len(self.pose_bins),
            pose_bin_edges=self.pose_bins.edges,
            n_expressions=int(self.expression_labels.max()) + 1,
        )

    # -- batches --------------------------------------------------------------------------
    def draw_rows(
        self, sampling: Sampling, batch_size: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Row numbers ``[B, F]`` of one batch drawn as ``sampling`` asks."""
        if sampling.group is None:
            return rng.integers(0, len(self), size=(batch_size, sampling.frames))
        if sampling.group not in GROUPINGS:
            raise ConfigError(
                f"unknown sampling group {sampling.group!r}; use one of {', '.join(GROUPINGS)}"
            )
        groups = [g for g in self._groups[sampling.group] if len(g) >= sampling.frames]
        if not groups:
            raise DataError(
                f"{self.root}: no {sampling.group} has {sampling.frames} images for this method"
                + (
                    " (the dataset has no multi-view sessions: its index.csv column 'session' "
                    "is -1 everywhere; set the method's sampling_group to identity or clip)"
                    if sampling.group == "session" and not self._groups["session"]
                    else ""
                )
            )
        chosen = rng.integers(0, len(groups), size=batch_size)
        return np.stack(
            [rng.choice(groups[g], size=sampling.frames, replace=False) for g in chosen]
        )

    def batch(self, rows: np.ndarray, needs: frozenset[str]) -> FaceBatch:
        """A :class:`FaceBatch` for row numbers ``[B, F]`` holding only the labels in ``needs``."""

        def images(array: np.ndarray) -> torch.Tensor:
            tensor = torch.from_numpy(array[rows])  # [B, F, H, W, 3] uint8
            return tensor.permute(0, 1, 4, 2, 3).float().div_(255.0)

        def labels(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array[rows]))

        return FaceBatch(
            images=images(self.images),
            identity=labels(self.identity_labels) if "identity" in needs else None,
            pose=labels(self.poses) if "pose_angles" in needs else None,
            pose_bin=labels(self.pose_bin_labels) if "pose_bins" in needs else None,
            landmarks=labels(self.landmarks) if "landmarks" in needs else None,
            landmark_images=images(self.landmark_images) if "landmarks" in needs else None,
            clip=labels(self.index["clip"].to_numpy(np.int64)) if "clip" in needs else None,
            expression=labels(self.expression_labels) if "expression" in needs else None,
        )

    def sample_batch(
        self, sampling: Sampling, batch_size: int, needs: frozenset[str], seed: int, step: int
    ) -> FaceBatch:
        """The training batch of ``step``: a pure function of ``(seed, step)``."""
        rng = np.random.default_rng([seed, step])
        return self.batch(self.draw_rows(sampling, batch_size, rng), needs)


def to_float_images(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, H, W]`` in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """float ``[N, 3, H, W]`` in [0, 1] -> uint8 ``[N, H, W, 3]`` (round to nearest)."""
    array = images.detach().float().clamp(0, 1).mul(255.0).round().to(torch.uint8)
    return array.permute(0, 2, 3, 1).cpu().numpy()
