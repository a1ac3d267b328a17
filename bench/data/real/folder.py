"""Any face folder: ``<root>/<identity>/[<clip>/]<image>`` (images or videos).

Images directly in an identity folder are clip 0; each subfolder is one clip (1, 2, ...
in natural order); each video file is one clip whose ``frames_per_video`` frames are
spread over its length. ``test_identities`` identities (default a fifth, at least 2) are
drawn with ``seed`` for the test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.real.listing import Listing
from bench.data.real.sources import (
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


def list_folder(root: Path, settings: dict[str, Any]) -> Listing:
    """Every image and sampled video frame of every identity folder."""
    require_dir(root, "one folder per identity (<identity>/[<clip>/]<image>)")
    identities = sorted_children(root, dirs=True)
    names = [safe_name(d.name) for d in identities]
    if len(set(names)) != len(names):
        raise DataError(f"{root}: identity folder names collide after removing special characters")
    test_count = settings["test_identities"] or max(2, round(len(identities) / 5))
    split = split_identities(names, test_count, settings["seed"])
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
    if not sources:
        raise DataError(f"{root}: no images or videos found in the identity folders")
    return Listing(sources, rejects=rejects)
