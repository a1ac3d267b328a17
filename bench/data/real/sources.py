"""What a dataset loader lists: one :class:`SourceImage` per image (or video frame) to prepare.

Loaders only read folder layouts and annotation files; they never decode images. Every
source carries where it came from (file, annotation line, video frame) so a reject or an
error names it. Annotation lines are parsed with :func:`split_fields`, which names the
file and line of a malformed entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import DataError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".pgm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SourceImage:
    """One image to prepare: its origin, identity, clip, split and dataset columns.

    ``number`` is the 1-based image number of the identity (the crop is
    ``images/<name>/<name>_<number:04d>.png``); numbers are fixed when listing, so a
    rejected image leaves a gap and resumed runs keep every name.
    """

    file: Path
    name: str  # identity name as written in paths and pairs.txt (no spaces)
    number: int
    clip: int
    split: str
    frame: int | None = None  # frame index in a video file
    session: int = -1  # multi-view session (Multi-PIE: = clip); -1 for photos and videos
    listed_at: str = ""  # "<annotation file>:<line>" that listed it, if any
    five_points: tuple[tuple[float, float], ...] | None = None  # annotated eye/nose/mouth
    columns: dict[str, Any] = field(default_factory=dict)  # dataset-specific index columns

    @property
    def key(self) -> str:
        """Stable identifier of this source (resume records and rejects use it)."""
        return f"{self.name}/{self.number}"

    @property
    def origin(self) -> str:
        """Human-readable origin: file, frame and the annotation line that listed it."""
        text = str(self.file)
        if self.frame is not None:
            text += f" frame {self.frame}"
        if self.listed_at:
            text += f" (listed at {self.listed_at})"
        return text


def safe_name(text: str) -> str:
    """An identity name usable in paths and pairs.txt: runs of other characters become ``_``."""
    name = _UNSAFE.sub("_", text.strip()).strip("_")
    if not name:
        raise DataError(f"identity name {text!r} has no usable characters")
    return name


def natural_key(path: Path | str) -> list[Any]:
    """Sort key that orders ``img2`` before ``img10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def sorted_children(folder: Path, *, dirs: bool) -> list[Path]:
    """Subfolders (``dirs``) or files of ``folder`` in natural order, hidden entries skipped."""
    return sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir() == dirs),
        key=natural_key,
    )


def media_files(folder: Path, suffixes: frozenset[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Files of ``folder`` with one of ``suffixes`` (case-insensitive), in natural order."""
    return [p for p in sorted_children(folder, dirs=False) if p.suffix.lower() in suffixes]


def annotation_lines(path: Path, skip: int = 0) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of every non-empty line after the first ``skip`` lines."""
    if not path.is_file():
        raise DataError(f"{path}: annotation file is missing")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not a UTF-8 text file ({error})") from error
    for number, line in enumerate(text.splitlines(), start=1):
        if number > skip and line.strip():
            yield number, line.strip()


def split_fields(
    path: Path, number: int, line: str, count: int, layout: str, numeric_from: int | None = None
) -> list[str]:
    """Whitespace fields of an annotation line; a wrong count or number names file and line."""
    fields = line.split()
    if len(fields) != count:
        raise DataError(
            f"{path}: line {number}: expected {count} fields '{layout}', "
            f"got {len(fields)}: {line!r}"
        )
    if numeric_from is not None:
        for value in fields[numeric_from:]:
            try:
                float(value)
            except ValueError:
                raise DataError(
                    f"{path}: line {number}: expected '{layout}', {value!r} is not a number"
                ) from None
    return fields


def split_identities(names: Iterable[str], test_identities: int, seed: int) -> dict[str, str]:
    """Deterministic identity-disjoint split: ``test_identities`` drawn with ``seed``."""
    import numpy as np

    ordered = sorted(set(names), key=natural_key)
    if not 0 < test_identities < len(ordered):
        raise DataError(
            f"cannot put {test_identities} of {len(ordered)} identities in the test split; "
            "both splits need at least one identity"
        )
    chosen = set(np.random.default_rng(seed).permutation(len(ordered))[:test_identities])
    return {name: ("test" if i in chosen else "train") for i, name in enumerate(ordered)}


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a DataError saying what was expected there."""
    if not path.is_dir():
        raise DataError(f"{path}: expected {what} here, but it is not a folder")
    return path
