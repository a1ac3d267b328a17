"""Every dataset the harness prepares, and what each one can do, asked one way.

``capabilities(dataset)`` answers "does this dataset have exact targets, exact factors,
multi-view sessions, video clips, and where do its poses come from?" for a dataset name
(config keys, the DAG build), a ``meta.json`` mapping (prepared data) or a loaded split
(:class:`~bench.data.dataset.FaceData`). SynthFaces is rendered here
(:mod:`bench.data.synthfaces`, ``python -m bench prepare``); the real datasets are listed
and aligned by :mod:`bench.data.real` (``python -m bench.data.real prepare``), whose
``DATASETS`` table gives their names and pose sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Protocol

import pandas as pd

from bench.errors import ConfigError, DataError

#: ``pose_source`` of rendered images: the generator's exact angles.
EXACT_POSE = "gt"


@dataclass(frozen=True)
class DatasetCapabilities:
    """What a dataset offers the protocols and the DAG."""

    name: str
    rendered: bool  # prepared by rendering (SynthFaces), not by listing files on disk
    exact_targets: bool  # the true output of any (identity, pose, scene) can be rendered
    exact_factors: bool  # every generative factor is an index column (disentanglement)
    sessions: bool  # multi-view sessions (index column session >= 0)
    clips: bool  # video clips: several frames of one recording
    pose_source: str  # the index's pose_source: "gt" or the estimator's name
    #: test sequences for the sequence protocol (SynthFaces renders them; a real dataset
    #: declares none: its clips are not read as sequences yet)
    sequences: bool = False

    @property
    def prepare_module(self) -> str:
        """The module whose ``prepare`` command writes the dataset's files."""
        return "bench" if self.rendered else "bench.data.real"


class _Split(Protocol):
    name: str
    index: pd.DataFrame


SYNTHFACES = DatasetCapabilities(
    name="synthfaces",
    rendered=True,
    exact_targets=True,
    exact_factors=True,
    sessions=True,
    clips=True,
    pose_source=EXACT_POSE,
    sequences=True,
)
#: Groupings of the real datasets' layouts (bench/methods/requirements.py checks their sizes).
_REAL_GROUPINGS = {
    "lfw": (False, False),
    "celeba": (False, False),
    "voxceleb2": (False, True),
    "multipie": (True, False),
    "folder": (False, True),
    "aflw2000": (False, False),  # 2,000 still images, each its own identity
}


@cache
def dataset_registry() -> Mapping[str, DatasetCapabilities]:
    """Every known dataset by name: SynthFaces, then bench.data.real's datasets (read-only)."""
    from bench.data.real.datasets import DATASETS

    unknown = sorted(set(DATASETS) - set(_REAL_GROUPINGS))
    if unknown:
        raise ConfigError(
            f"bench/data/registry.py: real dataset(s) {unknown} have no entry in _REAL_GROUPINGS"
        )
    registry = {"synthfaces": SYNTHFACES}
    for name, spec in DATASETS.items():
        sessions, clips = _REAL_GROUPINGS[name]
        registry[name] = DatasetCapabilities(
            name=name,
            rendered=False,
            exact_targets=False,
            exact_factors=False,
            sessions=sessions,
            clips=clips,
            pose_source=spec.pose_source,
        )
    return MappingProxyType(registry)


def capabilities(dataset: str | Mapping[str, Any] | _Split) -> DatasetCapabilities:
    """The capabilities of ``dataset``: a name, a ``meta.json`` mapping or a loaded split.

    A name or a meta.json's ``dataset`` must be registered (an unknown one is an error
    listing the known ones); a meta.json whose ``has_exact_targets`` disagrees with the
    registry is stale and an error. A loaded split of an unregistered dataset (a test's
    toy data) has the capabilities its index shows: exact factors where every pose is
    exact (``pose_source`` gt), never exact targets (nothing can render them).
    """
    if isinstance(dataset, str):
        return _registered(dataset)
    if isinstance(dataset, Mapping):
        return _from_meta(dataset)
    if dataset.name in dataset_registry():
        return _registered(dataset.name)
    return _from_index(dataset.name, dataset.index)


def _registered(name: str) -> DatasetCapabilities:
    registry = dataset_registry()
    if name not in registry:
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(registry)}")
    return registry[name]


def _from_meta(meta: Mapping[str, Any]) -> DatasetCapabilities:
    if "dataset" not in meta:
        raise DataError("meta.json has no 'dataset' key; prepare the dataset again")
    found = _registered(str(meta["dataset"]))
    recorded = meta.get("has_exact_targets")
    if recorded is not None and bool(recorded) != found.exact_targets:
        raise DataError(
            f"meta.json of {found.name!r}: has_exact_targets is {recorded} but the dataset "
            f"registry says {found.exact_targets}; prepare the dataset again"
        )
    return found


def _from_index(name: str, index: pd.DataFrame) -> DatasetCapabilities:
    sources = sorted(set(index["pose_source"])) if "pose_source" in index else []
    session = index["session"] if "session" in index else pd.Series(-1, index=index.index)
    clip_sizes = index[session < 0].groupby(["identity", "clip"]).size()
    return DatasetCapabilities(
        name=name,
        rendered=False,
        exact_targets=False,
        exact_factors=sources == [EXACT_POSE],
        sessions=bool((session >= 0).any()),
        clips=bool((clip_sizes > 1).any()),
        pose_source=sources[0] if len(sources) == 1 else "mixed",
    )
