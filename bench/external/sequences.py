"""The sequence protocol as plain files, and a foreign method's re-enacted sequences back.

Export (beside the pose-transfer tuples, when the dataset has sequences):

    DIR/sequences/<seq>/frame_<NNN>.png            every frame (frame 0..K-1 are the sources)
    DIR/sequences/<seq>/landmarks_<NNN>.png        its 68-point landmark drawing

with each frame's landmarks, visibility, exact pose and expression label in the manifest's
``sequences`` section. A method writes, per sequence and K, EITHER a frame folder
``sequence_k<K>/<seq>/frame_<NNN>.png`` (8-bit RGB PNG, one per frame) OR one video file
``sequence_k<K>/<seq>.mp4`` (every frame, in order, at the dataset's resolution; read
through imageio-ffmpeg's ffmpeg: lossless H.264 ``libx264rgb -qp 0`` gives the exact
frames, a lossy codec scores what it decodes to).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataError

#: Top-level folders of an outputs folder that hold sequence outputs: ``sequence_k<K>``.
SEQUENCE_FOLDER = re.compile(r"sequence_k(\d+)")
VIDEO_SUFFIX = ".mp4"


def sequence_folder(k: int) -> str:
    return f"sequence_k{k}"


def output_frames(k: int, sequence: str) -> str:
    """The frame folder of one re-enacted sequence: ``sequence_k<K>/<seq>``."""
    return f"{sequence_folder(k)}/{sequence}"


def output_video(k: int, sequence: str) -> str:
    """The video file of one re-enacted sequence: ``sequence_k<K>/<seq>.mp4``."""
    return f"{sequence_folder(k)}/{sequence}{VIDEO_SUFFIX}"


def is_sequence_path(relative: str) -> bool:
    """Whether a path of an outputs folder lies under a ``sequence_k<K>`` folder."""
    return SEQUENCE_FOLDER.fullmatch(relative.split("/", 1)[0]) is not None


def export_sequences(data: Path, out: Path, k_values: list[int]) -> dict[str, Any] | None:
    """Copy every frame of the dataset's sequences and draw its landmarks; the manifest's
    ``sequences`` section (None when the dataset has no sequences)."""
    from bench.data.index import save_image
    from bench.data.synthfaces.sequences import frame_name
    from bench.protocols.sequence import load_sequences

    if not (Path(data) / "sequences" / "index.csv").is_file():
        return None
    sequences = load_sequences(Path(data))
    if max(k_values) > sequences.length:
        raise DataError(f"sequence K {k_values}: the sequences have {sequences.length} frames")
    frames = sequences.frames
    drawings = frames.landmark_images
    entries = []
    for name, rows in zip(sequences.ids, sequences.rows, strict=True):
        listed = []
        for t, row in enumerate(rows):
            image = f"sequences/{name}/{frame_name(t)}"
            drawing = f"sequences/{name}/landmarks_{t:03d}.png"
            (out / image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(frames.root / frames.index["path"].iloc[row], out / image)
            save_image(out / drawing, drawings[row])
            yaw, pitch, roll = (float(v) for v in frames.poses[row])
            listed.append(
                {
                    "image": image,
                    "landmark_image": drawing,
                    "landmarks": np.round(frames.landmarks[row].astype(np.float64), 4).tolist(),
                    "visible": frames.visible[row].astype(bool).tolist(),
                    "pose_degrees": {"yaw": yaw, "pitch": pitch, "roll": roll},
                    "expression": int(frames.index["expression"].iloc[row]),
                }
            )
        entries.append(
            {
                "sequence": name,
                "identity": str(frames.index["identity"].iloc[rows[0]]),
                "frames": listed,
                "outputs": {
                    f"k{k}": {
                        "frame_folder": output_frames(k, name),
                        "frame_files": [frame_name(t) for t in range(len(rows))],
                        "video": output_video(k, name),
                    }
                    for k in k_values
                },
            }
        )
    return {
        "k": [int(k) for k in k_values],
        "frames": sequences.length,
        "sources": "the first K frames of the sequence",
        "output_format": "per sequence and K a frame folder of 8-bit RGB PNGs OR one .mp4 "
        "video (every frame in order; lossless libx264rgb -qp 0 keeps the exact frames)",
        "sequences": entries,
    }


@dataclass
class SequenceReport:
    """What validation found: videos per ``k<K>``, problems, extras and counted misses."""

    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def read_video(path: Path, length: int, resolution: int) -> tuple[np.ndarray | None, str | None]:
    """Every frame of a video file as uint8 ``[T, H, W, 3]``, or why it cannot be used."""
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        info = next(reader)
        width, height = info["size"]
        frames = [np.frombuffer(b, np.uint8).reshape(height, width, 3) for b in reader]
    except (RuntimeError, OSError, StopIteration, ValueError) as error:
        reason = str(error).strip().splitlines()
        return None, f"unreadable video ({reason[-1] if reason else type(error).__name__})"
    if (width, height) != (resolution, resolution):
        return None, f"video size {width}x{height}, expected {resolution}x{resolution}"
    if len(frames) != length:
        return None, f"{len(frames)} frames, expected {length}"
    return np.stack(frames), None


def read_frame_folder(folder: Path, length: int, resolution: int) -> tuple[Any, list[str]]:
    """Every ``frame_<NNN>.png`` of a frame folder as ``[T, H, W, 3]``, or the problems."""
    from bench.data.synthfaces.sequences import frame_name
    from bench.external.import_ import read_output

    frames, problems = [], []
    for t in range(length):
        array, problem = read_output(folder / frame_name(t), resolution)
        if problem is not None:
            problems.append(f"{folder / frame_name(t)}: {problem}")
        frames.append(array)
    return (None if problems else np.stack(frames)), problems


def read_sequence_output(
    folder: Path, k: int, sequence: str, length: int, resolution: int
) -> tuple[np.ndarray | None, list[str]]:
    """One re-enacted sequence from its frame folder or its video; ``(None, [])``: missing."""
    frames, video = folder / output_frames(k, sequence), folder / output_video(k, sequence)
    if frames.is_dir() and video.is_file():
        return None, [f"{video}: and a frame folder {frames}; keep one of them"]
    if video.is_file():
        array, problem = read_video(video, length, resolution)
        return array, [] if problem is None else [f"{video}: {problem}"]
    if frames.is_dir():
        return read_frame_folder(frames, length, resolution)
    return None, []


def validate_sequences(
    folder: Path,
    ids: list[str],
    k_values: list[int],
    length: int,
    resolution: int,
    allow_missing: bool = False,
) -> SequenceReport:
    """Read every expected sequence output and list every unexpected file under
    ``sequence_k<K>/``; with ``allow_missing`` a missing sequence is a counted miss."""
    from bench.data.synthfaces.sequences import frame_name

    folder, report = Path(folder), SequenceReport()
    wanted: set[str] = set()
    for k in k_values:
        key, videos, present = f"k{k}", [], []
        for sequence in ids:
            wanted.add(output_video(k, sequence))
            wanted.update(f"{output_frames(k, sequence)}/{frame_name(t)}" for t in range(length))
            array, problems = read_sequence_output(folder, k, sequence, length, resolution)
            if array is None and not problems:
                where = f"{folder / output_frames(k, sequence)}/ or {output_video(k, sequence)}"
                if allow_missing:
                    report.missing.append(where)
                    continue
                problems = [f"{where}: missing"]
            report.problems += problems
            videos.append(array)
            present.append(sequence)
        if not videos:
            report.problems.append(f"{folder / sequence_folder(k)}: no sequence at all for K={k}")
        elif all(v is not None for v in videos):
            report.outputs[key] = np.stack(videos)
            if len(present) < len(ids):
                report.present[key] = present
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and is_sequence_path(relative) and relative not in wanted:
            report.extra.append(relative)
    return report


def import_sequences(
    data: Path, folder: Path, k_values: list[int], allow_missing: bool
) -> tuple[SequenceReport, Any]:
    """Validate ``folder``'s sequence outputs against the dataset's sequences (no writing)."""
    from bench.data.index import read_meta
    from bench.protocols.sequence import load_sequences

    sequences = load_sequences(Path(data))
    resolution = int(read_meta(Path(data))["resolution"])
    report = validate_sequences(
        folder, sequences.ids, k_values, sequences.length, resolution, allow_missing
    )
    return report, sequences


def write_sequence_run(
    run_dir: Path, report: SequenceReport, ids: list[str], k_values: list[int], provenance: dict
) -> None:
    """``<run>/sequence/generated.npz`` (synthesize-sequence's format) and ``external.json``."""
    from bench.external import PROVENANCE_FILE
    from bench.protocols.sequence import save_generated_sequences
    from bench.protocols.sequence.data import PRESENT_PREFIX

    out = Path(run_dir) / "sequence"
    present = {f"{PRESENT_PREFIX}{k}": np.asarray(v, str) for k, v in report.present.items()}
    save_generated_sequences(out / "generated.npz", {**report.outputs, **present}, ids, k_values)
    record = {**provenance, "missing_outputs": report.missing, "extra_files": report.extra}
    record["outputs_files"] = int(sum(len(v) for v in report.outputs.values()))
    (out / PROVENANCE_FILE).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
