"""The identity oracle's embeddings of real images, cached per dataset: the test split,
the tuples' sources and targets are the same in every run's score job."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.data.dataset import FaceData
from bench.data.index import cached_array


def reference_embeddings(
    oracle: Any, images: torch.Tensor, test: FaceData, settings: dict[str, Any]
) -> np.ndarray:
    """``oracle.embed(images)`` of real images (test split, sources, targets): the same in
    every run's score job, so kept under ``<reference_dir>/<dataset>/.cache`` keyed by the
    oracle's weights and the images' bytes."""
    if not settings.get("reference_dir"):
        return oracle.embed(images)
    digest = hashlib.sha256(f"{oracle.name}-identity-embed".encode())
    for tensor in oracle.identity_net.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(str(tuple(images.shape)).encode())
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    key = digest.hexdigest()
    return cached_array(
        Path(settings["reference_dir"]) / test.name,
        f"{oracle.name}-embeddings-{key[:16]}",
        key,
        lambda: oracle.embed(images),
    )
