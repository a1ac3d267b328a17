"""The data contract: one index table per prepared dataset, images as PNG crops, landmarks beside.

``results/data/<dataset>/`` holds ``index.csv`` (one row per image, columns
:data:`INDEX_COLUMNS`), the crops under ``images/``, ``landmarks.npz`` (68 points per
row, in index order), ``pairs.txt`` (LFW format, test identities) and ``meta.json``.
Every reader here validates and names the file and line at fault.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from bench.errors import DataError

log = logging.getLogger(__name__)

CACHE_DIR = ".cache"  # inside a prepared dataset: packed copies of its PNG crops

INDEX_COLUMNS = (
    "path",
    "identity",
    "clip",
    "session",
    "split",
    "yaw",
    "pitch",
    "roll",
    "pose_source",
    "expression",
    "light",
)
SPLITS = ("train", "test")
POSE_COLUMNS = ["yaw", "pitch", "roll"]


def index_line(row: int) -> int:
    """1-based line of data row ``row`` in ``index.csv`` (line 1 is the header)."""
    return row + 2


def read_index(dataset_dir: Path) -> pd.DataFrame:
    """Read and validate ``index.csv``: required columns, types, splits, existing paths."""
    path = Path(dataset_dir) / "index.csv"
    if not path.is_file():
        raise DataError(f"{path}: no index table; run `python -m bench prepare` first")
    try:
        index = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV table: {error}") from error
    missing = [column for column in INDEX_COLUMNS if column not in index.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; the index needs "
            f"{', '.join(INDEX_COLUMNS)}"
        )
    for column in ("identity", "clip", "session"):
        bad = pd.to_numeric(index[column], errors="coerce").isna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{path}: line {index_line(row)}: column {column!r} must be an integer, "
                f"got {index[column].iloc[row]!r}"
            )
        index[column] = index[column].astype(np.int64)
    for column in POSE_COLUMNS:
        index[column] = pd.to_numeric(index[column], errors="coerce")
    bad_split = ~index["split"].isin(SPLITS)
    if bad_split.any():
        row = int(np.flatnonzero(bad_split)[0])
        raise DataError(
            f"{path}: line {index_line(row)}: split must be one of {SPLITS}, "
            f"got {index['split'].iloc[row]!r}"
        )
    shared = set(index.loc[index.split == "train", "identity"]) & set(
        index.loc[index.split == "test", "identity"]
    )
    if shared:
        raise DataError(
            f"{path}: identities {sorted(shared)[:5]} appear in both train and test; "
            "test identities must never be seen in training"
        )
    return index


#: Training groupings a method may ask for (``Sampling.group``), besides ``None``.
GROUPINGS = ("identity", "clip", "session")


def scene_groups(index: pd.DataFrame) -> np.ndarray:
    """One integer per row, equal for the rows of one (identity, clip): one scene.

    A clip is one recording (a video, a SynthFaces trajectory, a multi-view session): its
    images share background and light, so two of them are never independent photos of a
    person. Verification pairs of one person are drawn across scene groups.
    """
    keys = (
        index["identity"].astype(np.int64).to_numpy() * 1_000_003
        + index["clip"].astype(np.int64).to_numpy()
    )
    return np.unique(keys, return_inverse=True)[1].astype(np.int64)


def group_rows(index: pd.DataFrame, group: str) -> list[np.ndarray]:
    """Row numbers of each training group of ``group`` (see :data:`GROUPINGS`).

    ``identity``: every image of a person; ``clip``: the frames of one video clip (rows
    outside multi-view sessions, ``session == -1``), per (identity, clip); ``session``: the
    views of one multi-view session (``session >= 0``), per (identity, session).
    """
    if group not in GROUPINGS:
        raise ValueError(f"unknown grouping {group!r}; use one of {', '.join(GROUPINGS)}")
    identity = index["identity"].astype(np.int64).to_numpy()
    if group == "identity":
        codes, keep = identity, np.ones(len(index), bool)
    else:
        session = index["session"].astype(np.int64).to_numpy()
        column = index[group].astype(np.int64).to_numpy()
        keep = session < 0 if group == "clip" else session >= 0
        codes = identity * 1_000_003 + column
    rows = np.flatnonzero(keep)
    order = rows[np.argsort(codes[rows], kind="stable")]
    if not len(order):
        return []
    _, starts = np.unique(codes[order], return_index=True)
    return np.split(order, starts[1:])


def grouping_sizes(index: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per grouping: how many groups, and the largest and smallest group (images)."""
    out = {}
    for group in GROUPINGS:
        sizes = [len(g) for g in group_rows(index, group)]
        out[group] = {
            "groups": len(sizes),
            "max_images": max(sizes, default=0),
            "min_images": min(sizes, default=0),
        }
    return out


def read_meta(dataset_dir: Path) -> dict:
    path = Path(dataset_dir) / "meta.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise DataError(f"{path}: missing; run `python -m bench prepare` first") from error
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON: {error}") from error


def load_image(path: Path, resolution: int | None = None) -> np.ndarray:
    """One RGB image as uint8 ``[H, W, 3]``; a corrupt or wrongly sized file is a DataError."""
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    except FileNotFoundError as error:
        raise DataError(f"{path}: image file is missing") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{path}: corrupt or unreadable image ({error})") from error
    if resolution is not None and array.shape[:2] != (resolution, resolution):
        raise DataError(
            f"{path}: image is {array.shape[1]}x{array.shape[0]}, the dataset's resolution "
            f"is {resolution}x{resolution}"
        )
    return array


def load_images(
    paths: Sequence[Path], resolution: int | None = None, threads: int = 4
) -> np.ndarray:
    """Load many images into one uint8 array ``[N, H, W, 3]`` (PNG decoding in threads)."""
    if not len(paths):
        return np.zeros((0, resolution or 0, resolution or 0, 3), np.uint8)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        arrays = list(pool.map(lambda p: load_image(p, resolution), paths))
    return np.stack(arrays)


def images_fingerprint(paths: Sequence[Path], resolution: int | None) -> str:
    """A digest of the files behind a packed copy: each path, size and modification time."""
    digest = hashlib.sha256(f"resolution={resolution}\n".encode())
    for path in paths:
        try:
            stat = os.stat(path)
        except FileNotFoundError as error:
            raise DataError(f"{path}: image file is missing") from error
        digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cached_array(
    root: Path, name: str, fingerprint: str, compute: Callable[[], np.ndarray]
) -> np.ndarray:
    """``compute()``, through a packed copy ``<root>/.cache/<name>.npy`` of its result.

    The copy is used only while its ``fingerprint`` matches, rewritten otherwise, written
    atomically (parallel jobs may race) and skipped where the folder is read-only.
    """
    array_path = Path(root) / CACHE_DIR / f"{name}.npy"
    stamp_path = array_path.with_suffix(".sha256")
    try:
        if stamp_path.read_text() == fingerprint:
            return np.load(array_path, allow_pickle=False)
    except (OSError, ValueError):
        pass  # no copy yet, or a broken one: compute and rewrite
    array = compute()
    try:
        array_path.parent.mkdir(exist_ok=True)
        for target, write in (
            (array_path, lambda f: np.save(f, array, allow_pickle=False)),
            (stamp_path, lambda f: f.write(fingerprint.encode())),
        ):
            with tempfile.NamedTemporaryFile(dir=array_path.parent, delete=False) as handle:
                write(handle)
            os.chmod(handle.name, 0o644)
            os.replace(handle.name, target)
    except OSError as error:
        log.debug("no packed copy %s in %s: %s", name, root, error)
    return array


def load_images_cached(
    root: Path, name: str, paths: Sequence[Path], resolution: int | None, threads: int = 4
) -> np.ndarray:
    """:func:`load_images` through :func:`cached_array`: the PNGs stay the data, the packed
    copy only saves decoding them in every job (SynthFaces' 7,200 training crops: 3.6 s ->
    0.3 s). Its fingerprint is every file's path, size and mtime, and the resolution."""
    images = cached_array(
        root,
        name,
        images_fingerprint(paths, resolution),
        lambda: load_images(paths, resolution, threads),
    )
    if images.shape[0] != len(paths):  # a digest collision would be needed; cheap to check
        raise DataError(
            f"{Path(root) / CACHE_DIR / name}.npy: {images.shape[0]} images, "
            f"index lists {len(paths)}; delete the .cache folder"
        )
    return images


def save_image(path: Path, image: np.ndarray) -> None:
    """Write a uint8 ``[H, W, 3]`` image as PNG (lossless; what every metric reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(image)).save(path, optimize=False, compress_level=1)


def read_landmarks(dataset_dir: Path, index: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The 68 landmarks ``[N, 68, 2]`` and their visibility ``[N, 68]`` in index order."""
    path = Path(dataset_dir) / "landmarks.npz"
    try:
        with np.load(path) as data:
            points, visible, paths = data["points"], data["visible"], data["paths"]
    except FileNotFoundError as error:
        raise DataError(f"{path}: landmarks side file is missing") from error
    except (KeyError, ValueError, OSError) as error:
        raise DataError(f"{path}: unreadable landmarks file ({error})") from error
    if points.shape != (len(index), 68, 2) or visible.shape != (len(index), 68):
        raise DataError(
            f"{path}: expected points [{len(index)}, 68, 2] and visible [{len(index)}, 68], "
            f"got {list(points.shape)} and {list(visible.shape)}"
        )
    mismatch = np.flatnonzero(paths.astype(str) != index["path"].to_numpy(str))
    if len(mismatch):
        row = int(mismatch[0])
        raise DataError(
            f"{path}: entry {row} is for {str(paths[row])!r} but index line {index_line(row)} "
            f"is {index['path'].iloc[row]!r}; re-run prepare"
        )
    return points.astype(np.float32), visible.astype(bool)


@dataclass(frozen=True)
class PoseBins:
    """Discrete yaw bins (DR-GAN's pose code): centres from -90 to 90 every ``width`` degrees."""

    width: float = 15.0

    @property
    def centres(self) -> np.ndarray:
        return np.arange(-90.0, 90.0 + 1e-9, self.width)

    @property
    def edges(self) -> tuple[float, ...]:
        centres = self.centres
        return tuple(
            float(x) for x in np.r_[centres - self.width / 2, centres[-1:] + self.width / 2]
        )

    def __len__(self) -> int:
        return len(self.centres)

    def assign(self, yaw: np.ndarray) -> np.ndarray:
        """Bin index of each yaw (degrees), clipped to the outer bins; :data:`NO_BIN` (-1)
        where the yaw is NaN (no pose label: a flagged profile), never a wrong bin."""
        yaw = np.asarray(yaw, float)
        labelled = np.isfinite(yaw)
        bins = np.rint((np.where(labelled, yaw, 0.0) + 90.0) / self.width).astype(np.int64)
        return np.where(labelled, np.clip(bins, 0, len(self) - 1), NO_BIN)


#: The bin of a row without a pose label (:meth:`PoseBins.assign`).
NO_BIN = -1
#: Supervision (``Method.needs``) that reads the pose columns: such methods train on the
#: rows with a pose label only (:func:`pose_labelled`).
POSE_SUPERVISION = frozenset({"pose_angles", "pose_bins"})


def pose_labelled(index: pd.DataFrame) -> np.ndarray:
    """Rows whose yaw, pitch and roll are all known (real profiles flagged by the 68-point
    fit have NaN there, ``pose_source`` ending in ``-unreliable``)."""
    return np.isfinite(index[POSE_COLUMNS].to_numpy(np.float64)).all(axis=1)
