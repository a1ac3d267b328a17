"""Video frames through OpenCV: frame counts, evenly spaced frame choice, sequential reads.

A video that cannot be opened, or that ends before a frame its header promised
(a truncated download), is reported with the file and the frame number.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from bench.evaluators.dlib_face import _import


class VideoError(Exception):
    """A video file or frame that cannot be read; the message names the file and frame."""


def frame_count(path: Path) -> int:
    """Frames the container header announces; VideoError when OpenCV cannot open the file."""
    cv2 = _import("cv2")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoError(f"{path}: cannot open the video (corrupt, truncated or unsupported)")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
    if count <= 0:
        raise VideoError(f"{path}: the video has no frames (truncated or empty file)")
    return count


def spaced_frames(count: int, wanted: int) -> list[int]:
    """``wanted`` frame indices spread evenly over ``count`` frames (all when fewer)."""
    if wanted >= count:
        return list(range(count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, wanted)})


def read_frames(path: Path, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray | str]]:
    """Yield ``(index, RGB uint8 frame)`` for each wanted index, or ``(index, reason)``.

    Frames are decoded sequentially (seeking is unreliable in many containers); once the
    stream ends early every remaining index gets the truncation reason.
    """
    cv2 = _import("cv2")
    wanted = sorted(set(int(i) for i in indices))
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            for index in wanted:
                yield index, f"{path}: cannot open the video (corrupt or truncated file)"
            return
        announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        position = 0
        for index in wanted:
            frame = None
            while position <= index:
                ok, frame = capture.read()
                position += 1
                if not ok:
                    frame = None
                    break
            if frame is None:
                reason = (
                    f"{path}: truncated video: frame {index} cannot be read (the stream ended "
                    f"after {position - 1} frames; the header announces {announced})"
                )
                yield index, reason
                for rest in wanted[wanted.index(index) + 1 :]:
                    yield rest, reason.replace(f"frame {index}", f"frame {rest}")
                return
            yield index, np.ascontiguousarray(frame[:, :, ::-1])
    finally:
        capture.release()
