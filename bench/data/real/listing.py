"""The result of listing a dataset on disk: sources to prepare, given pairs, listing rejects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.data.pairs import Pair
from bench.data.real.sources import SourceImage


@dataclass
class Listing:
    """Everything a loader found: the sources, the dataset's own pairs file, early rejects.

    ``rejects`` are ``(origin, reason)`` for items dropped while listing (an unopenable
    video); ``skipped`` are ``(path, reason)`` for files under the root that are neither a
    source nor a reject (a format the loader does not read, a hidden file, a file outside the
    layout): counted in the log and meta.json and listed in ``skipped.csv``; ``notes`` go
    into meta.json (e.g. label names, counts of skipped cameras).
    """

    sources: list[SourceImage]
    pairs: list[Pair] | None = None
    pairs_file: str | None = None
    rejects: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
