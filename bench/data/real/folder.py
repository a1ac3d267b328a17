"""Any face folder: ``<root>/<identity>/[<clip>/]<image>`` (images or videos).

Images directly in an identity folder are clip 0; each subfolder is one clip (1, 2, ...
in natural order); each video file is one clip whose ``frames_per_video`` frames are
spread over its length. ``test_identities`` identities (default a fifth, at least 4 so
that two pairs sets of two people exist, and at least one left to train) are drawn with
``seed`` for the test split; ``evaluation_only`` puts every identity in the test split
(nothing trains on the folder, so one person is enough). Every other file under the root
is listed in ``Listing.skipped`` with its reason (:func:`skipped_files`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.data.real.listing import Listing
from bench.data.real.sources import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    SourceImage,
    media_files,
    require_dir,
    safe_name,
    sorted_children,
    split_identities,
)
from bench.data.real.video import VideoError, frame_count, spaced_frames
from bench.errors import DataError


def identity_clips(folder: Path) -> list[list[Path]]:
    """Clip 0 (loose images), then one list per subfolder; videos are handled separately."""
    clips = [media_files(folder)]
    clips += [media_files(sub) for sub in sorted_children(folder, dirs=True)]
    return clips


NOT_READ = "not an image format this loader reads"


def skip_reason(root: Path, path: Path) -> str:
    """Why a file under ``root`` is not a source of the ``<identity>/[<clip>/]<file>`` layout."""
    parts = path.relative_to(root).parts
    suffix = path.suffix.lower()
    if any(part.startswith(".") for part in parts):
        return "hidden file or folder"
    if len(parts) == 1:
        return "file directly in the root (not in an identity folder)"
    if len(parts) > 3:
        return "nested deeper than <identity>/<clip>/<image>"
    if suffix in VIDEO_SUFFIXES:  # parts == 3: a video inside a clip folder
        return "video inside a clip folder (videos are read directly in an identity folder)"
    if not suffix:
        return f"{NOT_READ} (no extension)"
    return f"{NOT_READ} ({suffix})" if suffix not in IMAGE_SUFFIXES else "not in the layout"


def skipped_files(root: Path, used: set[str]) -> list[tuple[str, str]]:
    """``(path, reason)`` of every file under ``root`` whose path is not in ``used``."""
    skipped = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for file in sorted(files):
            path = Path(folder) / file
            if str(path) not in used:
                skipped.append((str(path), skip_reason(root, path)))
    return skipped


def folder_split(names: list[str], settings: dict[str, Any]) -> dict[str, str]:
    """Identity -> split: all test for ``evaluation_only``, else ``test_identities`` drawn."""
    if settings.get("evaluation_only"):
        return dict.fromkeys(names, "test")
    test_count = settings["test_identities"] or min(
        max(4, round(len(names) / 5)), max(1, len(names) - 1)
    )
    try:
        return split_identities(names, test_count, settings["seed"])
    except DataError as error:
        raise DataError(
            f"folder.test_identities: {error}; a folder this small can be prepared for "
            "evaluation only (folder.evaluation_only: true puts every identity in the test split)"
        ) from error


def list_folder(root: Path, settings: dict[str, Any]) -> Listing:
    """Every image and sampled video frame of every identity folder; other files skipped."""
    require_dir(root, "one folder per identity (<identity>/[<clip>/]<image>)")
    identities = sorted_children(root, dirs=True)
    names = [safe_name(d.name) for d in identities]
    if len(set(names)) != len(names):
        raise DataError(f"{root}: identity folder names collide after removing special characters")
    split = folder_split(names, settings) if names else {}
    sources, rejects = [], []
    for folder, name in zip(identities, names, strict=True):
        number = 0
        clips = identity_clips(folder)
        for clip, files in enumerate(clips):
            for file in files:
                number += 1
                sources.append(SourceImage(file, name, number, clip, split[name]))
        for offset, video in enumerate(media_files(folder, VIDEO_SUFFIXES)):
            try:
                frames = spaced_frames(frame_count(video), settings["frames_per_video"])
            except VideoError as error:
                rejects.append((str(video), f"unreadable video: {error}"))
                continue
            for frame in frames:
                number += 1
                clip = len(clips) + offset
                sources.append(SourceImage(video, name, number, clip, split[name], frame=frame))
    used = {str(s.file) for s in sources} | {origin for origin, _ in rejects}
    skipped = skipped_files(root, used)
    if not sources:
        kinds = sorted({reason for _, reason in skipped})
        raise DataError(
            f"{root}: no images or videos found in the identity folders "
            f"({len(skipped)} other file(s): {'; '.join(kinds) or 'none'})"
        )
    return Listing(sources, rejects=rejects, skipped=skipped)
