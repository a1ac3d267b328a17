"""The real datasets: each one's loader, pose source and where its root folder comes from."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data.real.aflw2000 import list_aflw2000
from bench.data.real.celeba import list_celeba
from bench.data.real.folder import list_folder
from bench.data.real.lfw import list_lfw
from bench.data.real.listing import Listing
from bench.data.real.multipie import list_multipie
from bench.data.real.voxceleb2 import list_voxceleb2
from bench.errors import ConfigError

ESTIMATED_POSE = "dlib68-pnp"


@dataclass(frozen=True)
class DatasetSpec:
    """How to list a dataset and what its yaw/pitch/roll columns are."""

    loader: Callable[[Path, dict[str, Any]], Listing]
    pose_source: str = ESTIMATED_POSE  # the estimator recorded in the index


DATASETS: dict[str, DatasetSpec] = {
    "lfw": DatasetSpec(list_lfw),
    "celeba": DatasetSpec(list_celeba),
    "voxceleb2": DatasetSpec(list_voxceleb2),
    "multipie": DatasetSpec(list_multipie, pose_source="multipie-camera"),
    "folder": DatasetSpec(list_folder),
    "aflw2000": DatasetSpec(list_aflw2000, pose_source="aflw2000-3d"),
}


def root_variable(dataset: str) -> str:
    """The environment variable naming a dataset's root: ``IDPOSE_<DATASET>_ROOT``."""
    return f"IDPOSE_{dataset.upper()}_ROOT"


def resolve_root(dataset: str, settings: dict[str, Any]) -> Path:
    """The dataset's root: the config key ``<dataset>.root``, else ``IDPOSE_<DATASET>_ROOT``."""
    root = settings.get("root") or os.environ.get(root_variable(dataset))
    if not root:
        raise ConfigError(
            f"dataset {dataset!r} has no root folder: set the config key '{dataset}.root' "
            f"(in a config file such as config/paper.yaml) or the environment variable "
            f"{root_variable(dataset)}"
        )
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{dataset}.root = {str(path)!r} is not a folder")
    return path.resolve()
