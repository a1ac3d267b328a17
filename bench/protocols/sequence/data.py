"""The test sequences held in memory, and the ``generated.npz`` of one run's re-enactments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.dataset import FaceData
from bench.data.synthfaces.sequences import SEQUENCES_DIR
from bench.errors import DataError

PROTOCOL = "sequence"
#: ``generated.npz`` key of the sequence ids a key's videos stand for, where an import with
#: ``--allow-missing`` lacks some (``present_k1``); absent: every sequence, in order.
PRESENT_PREFIX = "present_"


def sequence_key(k: int) -> str:
    """The ``generated.npz`` key (and the rows' kind) of the re-enactments from K sources."""
    return f"k{k}"


def parse_sequence_key(key: str) -> int:
    match = re.fullmatch(r"k(\d+)", key)
    if match is None:
        raise DataError(f"{key!r} is not a sequence key (k<K>)")
    return int(match.group(1))


@dataclass
class Sequences:
    """Every test sequence: its frames as a :class:`FaceData` (index order: sequence, then
    frame) and ``rows[s, t]``, the row of frame t of sequence s."""

    frames: FaceData
    ids: list[str]
    rows: np.ndarray  # int [S, T]

    @property
    def length(self) -> int:
        return int(self.rows.shape[1])

    def videos(self) -> np.ndarray:
        """uint8 ``[S, T, H, W, 3]``: the real sequences (every output's targets)."""
        return self.frames.images[self.rows]

    def subset(self, ids: list[str]) -> Sequences:
        """The sequences named ``ids`` (in that order)."""
        position = {name: s for s, name in enumerate(self.ids)}
        return Sequences(self.frames, list(ids), self.rows[[position[i] for i in ids]])


def load_sequences(data: Path, pose_bin_width: float = 15.0) -> Sequences:
    """Read ``<data>/sequences/`` (``python -m bench sequences`` writes it)."""
    folder = Path(data) / SEQUENCES_DIR
    if not (folder / "index.csv").is_file():
        raise DataError(f"{folder / 'index.csv'}: missing; run `python -m bench sequences` first")
    frames = FaceData.load(folder, "test", pose_bin_width)
    index = frames.index
    for column in ("sequence", "frame"):
        if column not in index.columns:
            raise DataError(f"{folder / 'index.csv'}: no column {column!r}")
    ids = list(dict.fromkeys(index["sequence"].astype(str)))
    rows = [np.flatnonzero(index["sequence"].astype(str).to_numpy() == i) for i in ids]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise DataError(f"{folder / 'index.csv'}: sequences differ in length ({sorted(lengths)})")
    rows = np.stack(rows)
    if not (index["frame"].to_numpy()[rows] == np.arange(rows.shape[1])).all():
        raise DataError(f"{folder / 'index.csv'}: frames of a sequence are not 0..T-1 in order")
    return Sequences(frames, ids, rows)


def save_generated_sequences(
    path: Path, outputs: dict[str, np.ndarray], ids: list[str], k_values: list[int]
) -> None:
    """``generated.npz``: uint8 ``[S, T, H, W, 3]`` per ``k<K>``, the sequence ids and the
    K values asked for (plus ``present_k<K>`` where an import lacks some sequences)."""
    from bench.protocols.results import save_arrays

    save_arrays(
        Path(path), sequence=np.asarray(ids, str), requested_k=np.asarray(k_values), **outputs
    )


def load_generated_sequences(
    path: Path,
) -> tuple[dict[str, np.ndarray], list[str], list[int], dict[str, list[str]]]:
    """(videos per ``k<K>``, sequence ids, K values asked for, per key with missing
    sequences the ids its videos stand for)."""
    from bench.protocols.results import load_arrays

    arrays = load_arrays(Path(path), "synthesize-sequence")
    ids = [str(i) for i in arrays.pop("sequence")]
    k_values = [int(k) for k in arrays.pop("requested_k")]
    present = {
        key[len(PRESENT_PREFIX) :]: [str(i) for i in arrays.pop(key)]
        for key in [key for key in arrays if key.startswith(PRESENT_PREFIX)]
    }
    return arrays, ids, k_values, present
