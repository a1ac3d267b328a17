"""What the data layer hands a method: how items are drawn, the batch, the dataset facts.

``Sampling``, ``FaceBatch`` and ``DatasetInfo`` are part of the Method contract
(:mod:`bench.methods.api` re-exports them) but are built here, by :mod:`bench.data.dataset`,
so that the data layer imports nothing from the layers above it (docs/DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor


@dataclass(frozen=True)
class Sampling:
    """How the harness draws training items: ``frames`` images per item, grouped by ``group``.

    ``group=None`` draws independent images; ``"identity"`` draws the frames of one item
    from one person; ``"clip"`` from one clip (a video, or a SynthFaces trajectory; images of
    multi-view sessions are not clips); ``"session"`` from one multi-view session (Multi-PIE:
    one person, scene and light under many cameras; SynthFaces renders sessions of that shape).
    """

    group: str | None = None
    frames: int = 1


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about the training data a method may size itself by."""

    name: str
    resolution: int
    n_identities: int
    n_pose_bins: int
    pose_bin_edges: tuple[float, ...]
    n_expressions: int


@dataclass
class FaceBatch:
    """A training batch. Every tensor is ``[B, F, ...]`` with F = ``Sampling.frames``.

    Fields a method did not declare in ``needs`` are ``None``.
    """

    images: Tensor  # [B, F, 3, H, W] float in [0, 1]
    identity: Tensor | None = None  # [B, F] long, 0..n_identities-1
    pose: Tensor | None = None  # [B, F, 3] float degrees (yaw, pitch, roll)
    pose_bin: Tensor | None = None  # [B, F] long
    landmarks: Tensor | None = None  # [B, F, 68, 2] float pixels (x, y)
    landmark_images: Tensor | None = None  # [B, F, 3, H, W] float in [0, 1]
    clip: Tensor | None = None  # [B, F] long
    expression: Tensor | None = None  # [B, F] long

    def to(self, device: torch.device | str) -> FaceBatch:
        """The same batch with every tensor moved to ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device, non_blocking=True)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        return replace(self, **moved)
