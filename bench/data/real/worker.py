"""The per-image step of preparation, run in worker processes: read, align, save, record."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bench.data.index import save_image
from bench.data.pairs import pair_image_path
from bench.data.real.align import TEMPLATE, AlignmentFailed, FaceAligner
from bench.data.real.quality import dhash
from bench.data.real.records import append_record
from bench.data.real.sources import SourceImage
from bench.data.real.video import read_frames

#: Centre fallback (LFW): the template scaled to an eye distance of 16% of the image
#: width, eyes at 45% of the height: where LFW's centred photos have the face.
_EYE_DISTANCE, _EYE_HEIGHT = 0.16, 0.45


@dataclass(frozen=True)
class WorkerSettings:
    """What each worker needs: crop geometry and detector options."""

    out_dir: str
    resolution: int
    min_probability: float
    face_choice: str
    fallback: str


_ALIGNER: FaceAligner | None = None
_SETTINGS: WorkerSettings | None = None


def init_worker(settings: WorkerSettings) -> None:
    """Load MTCNN and dlib once per process."""
    global _ALIGNER, _SETTINGS
    os.environ["OMP_NUM_THREADS"] = "1"
    _SETTINGS = settings
    _ALIGNER = FaceAligner(settings.resolution, settings.min_probability, settings.face_choice)


def crop_path(source: SourceImage) -> str:
    """The crop's path relative to the dataset folder (LFW naming)."""
    return f"images/{pair_image_path(source.name, source.number)}"


def to_rgb8(image: Image.Image) -> np.ndarray:
    """A PIL image as upright RGB uint8: EXIF orientation applied, 16-bit scaled to 8 bits.

    Phones store photos sideways with an EXIF Orientation tag; 16-bit greyscale PNGs open
    as mode ``I;16``/``I`` (0-65535), which ``convert("RGB")`` would clip to white.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image, np.float64)
        grey = np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)  # 65535 -> 255
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    return np.asarray(image.convert("RGB"))


def read_photo(source: SourceImage) -> np.ndarray | str:
    """The source photo as RGB uint8 (upright, 8 bits), or the reject reason naming the file."""
    try:
        with Image.open(source.file) as image:
            image.load()
            return to_rgb8(image)
    except FileNotFoundError:
        return f"missing image: {source.origin}"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return f"corrupt image: {source.origin}: {error}"


def read_sources(chunk: list[SourceImage]) -> Iterator[tuple[SourceImage, np.ndarray | str]]:
    """Each source's pixels (or reject reason); video frames of one file read in one pass."""
    for file, group in groupby(chunk, key=lambda s: (s.file, s.frame is None)):
        sources = list(group)
        if file[1]:
            for source in sources:
                yield source, read_photo(source)
            continue
        frames = dict(read_frames(file[0], [s.frame for s in sources]))
        for source in sources:
            frame = frames[source.frame]
            yield source, (f"unreadable video: {frame}" if isinstance(frame, str) else frame)


def centre_points(shape: tuple[int, ...]) -> np.ndarray:
    """The 5 points where a centred photo (LFW) has its face: the fallback when MTCNN misses."""
    height, width = shape[:2]
    eyes = TEMPLATE[:2].mean(0)
    scale = _EYE_DISTANCE * width / (TEMPLATE[1, 0] - TEMPLATE[0, 0])
    return (TEMPLATE - eyes) * scale + np.array([width / 2, _EYE_HEIGHT * height])


def align_source(aligner: FaceAligner, source: SourceImage, pixels: np.ndarray, fallback: str):
    """Align with the annotated points, else MTCNN, else (when configured) the centre."""
    points = None if source.five_points is None else np.asarray(source.five_points)
    try:
        return aligner.align(pixels, points)
    except AlignmentFailed:
        if fallback != "centre" or points is not None:
            raise
    return aligner.align(pixels, centre_points(pixels.shape), source="centre")


def process_source(source: SourceImage, pixels: np.ndarray | str) -> dict[str, Any]:
    """Align one image and save its crop; the record says ok (with labels) or why it was rejected."""
    assert _ALIGNER is not None and _SETTINGS is not None, "init_worker was not called"
    record: dict[str, Any] = {"key": source.key, "origin": source.origin}
    if isinstance(pixels, str):
        return {**record, "status": "reject", "reason": pixels}
    if source.frame is None:
        record["dhash"] = dhash(pixels)
    try:
        face = align_source(_ALIGNER, source, pixels, _SETTINGS.fallback)
    except AlignmentFailed as error:
        return {**record, "status": "reject", "reason": f"{error}: {source.origin}"}
    path = Path(_SETTINGS.out_dir) / crop_path(source)
    partial = path.with_suffix(".partial.png")
    save_image(partial, face.crop)
    os.replace(partial, path)
    return {
        **record,
        "status": "ok",
        "pose": list(face.pose),
        "landmarks": np.round(face.landmarks, 3).tolist(),
        "visible": face.visible.astype(int).tolist(),
        "probability": round(face.probability, 6),
        "align_source": face.align_source,
        "outside_fraction": round(face.outside_fraction, 4),
        "photo_roll": round(face.photo_roll, 3),
        "pose_flag": face.pose_flag,
    }


def process_chunk(chunk: list[SourceImage], work: str) -> int:
    """Prepare a chunk of sources, recording each as soon as it is done; returns the count."""
    for source, pixels in read_sources(chunk):
        append_record(Path(work), process_source(source, pixels))
    return len(chunk)
