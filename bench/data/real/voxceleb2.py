"""VoxCeleb2: ``<root>/id<speaker>/<video>/<clip>.mp4`` or pre-extracted ``<clip>/<frame>.jpg``.

Frames are sampled per clip (the index's ``clip`` column numbers the (video, clip) pairs
of a speaker). Speakers are split as CainGAN does: ``train_speakers`` (150) speakers for
training, and ``test_videos`` (50) videos of other speakers, one per speaker, with
``test_frames`` (32) frames each spread over the video's clips.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.real.listing import Listing
from bench.data.real.sources import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    SourceImage,
    media_files,
    require_dir,
    sorted_children,
)
from bench.data.real.video import VideoError, frame_count, spaced_frames
from bench.errors import DataError


def clip_items(video_dir: Path) -> list[Path]:
    """The clips of one video: mp4 files, or folders of pre-extracted frames."""
    clips = media_files(video_dir, VIDEO_SUFFIXES)
    clips += [d for d in sorted_children(video_dir, dirs=True) if media_files(d)]
    return clips


def clip_frames(clip: Path) -> list[tuple[Path, int | None]]:
    """Every frame of a clip as (file, frame index in that file or None for an image)."""
    if clip.is_dir():
        return [(file, None) for file in media_files(clip, IMAGE_SUFFIXES)]
    return [(clip, i) for i in range(frame_count(clip))]


def sample_clip(clip: Path, wanted: int) -> list[tuple[Path, int | None]]:
    """``wanted`` frames spread evenly over the clip."""
    frames = clip_frames(clip)
    return [frames[i] for i in spaced_frames(len(frames), wanted)]


def list_voxceleb2(root: Path, settings: dict[str, Any]) -> Listing:
    """Train speakers' clips (``train_frames_per_clip`` each) and the test videos' frames."""
    require_dir(root, "VoxCeleb2 speaker folders id<speaker>/<video>/<clip>.mp4")
    speakers = [d for d in sorted_children(root, dirs=True) if d.name.startswith("id")]
    if len(speakers) < settings["train_speakers"] + 2:
        raise DataError(
            f"{root}: {len(speakers)} speaker folders (id*), but voxceleb2.train_speakers = "
            f"{settings['train_speakers']} leaves fewer than 2 test speakers"
        )
    order = np.random.default_rng(settings["seed"]).permutation(len(speakers))
    train = [speakers[i] for i in sorted(order[: settings["train_speakers"]])]
    test = [speakers[i] for i in sorted(order[settings["train_speakers"] :])]
    sources: list[SourceImage] = []
    rejects: list[tuple[str, str]] = []

    numbers: Counter = Counter()

    def add(speaker: Path, clip_number: int, frames, split: str, video: str, clip: str) -> None:
        for file, frame in frames:
            numbers[speaker.name] += 1
            number = numbers[speaker.name]
            sources.append(
                SourceImage(
                    file,
                    speaker.name,
                    number,
                    clip_number,
                    split,
                    frame=frame,
                    columns={"video": video, "clip_name": clip},
                )
            )

    for speaker in train:
        clips = [(v, c) for v in sorted_children(speaker, dirs=True) for c in clip_items(v)]
        for clip_number, (video, clip) in enumerate(clips[: settings["max_clips_per_speaker"]]):
            try:
                frames = sample_clip(clip, settings["train_frames_per_clip"])
            except VideoError as error:
                rejects.append((str(clip), f"unreadable video: {error}"))
                continue
            add(speaker, clip_number, frames, "train", video.name, clip.stem)
    for speaker in test[: settings["test_videos"]]:
        videos = sorted_children(speaker, dirs=True)
        if not videos:
            continue
        video = videos[0]
        clips, frames = clip_items(video), []
        for clip in clips:
            try:
                frames += [(f, i, clip) for f, i in clip_frames(clip)]
            except VideoError as error:
                rejects.append((str(clip), f"unreadable video: {error}"))
        chosen = [frames[i] for i in spaced_frames(len(frames), settings["test_frames"])]
        for clip_number, clip in enumerate(clips):
            picked = [(f, i) for f, i, c in chosen if c == clip]
            add(speaker, clip_number, picked, "test", video.name, clip.stem)
    return Listing(sources, rejects=rejects)
