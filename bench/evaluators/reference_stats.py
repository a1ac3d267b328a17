"""Cached feature statistics of a reference image set (the real side of FID and KID).

A cache entry is ``<cache_dir>/<dataset>/<extractor>-<split>-<res>-<sha8>.npz`` holding the
features, their mean and covariance, N and the full key. The key covers everything the
numbers depend on: the extractor's name and weights sha256, the dataset, split and resolution
(plus any other ``key_parts``) and a sha256 of the content itself (sorted relative paths and
the bytes of every image file, or the bytes of an array), so a changed folder under the same
name is a miss, never a stale hit (torch-fidelity's name-only key, harness_anchors §2.2).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from bench.errors import DataError
from bench.metrics.fid import feature_statistics

log = logging.getLogger(__name__)

#: Image files a reference folder may hold (pytorch-fid's list).
IMAGE_EXTENSIONS = frozenset(
    {".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"}
)
REQUIRED_KEY_PARTS = ("dataset", "split", "resolution")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

ImageSource = str | Path | Sequence[str | Path] | np.ndarray


class FeatureExtractor(Protocol):
    """What reference statistics need of an extractor (``InceptionFeatures`` is one)."""

    name: str
    weights_sha256: str

    def features(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        """Features [N, D] of uint8 images [N, H, W, 3]."""
        ...


def reference_statistics(
    images: ImageSource,
    extractor: FeatureExtractor,
    cache_dir: str | Path,
    key_parts: dict[str, Any],
    batch_size: int = 50,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean, covariance and N of the reference features, from the cache or computed and cached.

    ``images``: a folder (searched recursively), a list of image files, or a uint8 array
    [N, H, W, 3]. ``key_parts`` needs ``dataset``, ``split`` and ``resolution``; any other
    entries (a preprocessing name, a sample count) join the key too.
    """
    entry = _load_or_compute(images, extractor, Path(cache_dir), key_parts, batch_size)
    return entry["mu"], entry["sigma"], int(entry["n"])


def reference_features(
    images: ImageSource,
    extractor: FeatureExtractor,
    cache_dir: str | Path,
    key_parts: dict[str, Any],
    batch_size: int = 50,
) -> np.ndarray:
    """The reference features [N, D] (for KID), from the same cache entry as the statistics."""
    return _load_or_compute(images, extractor, Path(cache_dir), key_parts, batch_size)["features"]


def reference_cache_path(cache_dir: Path, key: dict[str, Any]) -> Path:
    """``<cache_dir>/<dataset>/<extractor>-<split>-<res>-<sha8>.npz`` for a full cache key."""
    sha8 = hashlib.sha256(_key_json(key).encode()).hexdigest()[:8]
    return (
        cache_dir
        / str(key["dataset"])
        / (f"{key['extractor']}-{key['split']}-{key['resolution']}-{sha8}.npz")
    )


def content_sha256(images: ImageSource) -> str:
    """sha256 of an image set: sorted relative paths and file bytes, or an array's shape and bytes."""
    digest = hashlib.sha256()
    if isinstance(images, np.ndarray):
        array = np.ascontiguousarray(images)
        digest.update(f"array:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
        return digest.hexdigest()
    for relative, path in _image_files(images):
        data = path.read_bytes()
        digest.update(relative.encode() + b"\0" + len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _load_or_compute(
    images: ImageSource,
    extractor: FeatureExtractor,
    cache_dir: Path,
    key_parts: dict[str, Any],
    batch_size: int,
) -> dict[str, Any]:
    """The cache entry for this key: read on a hit, recomputed and written atomically on a miss."""
    key = _cache_key(images, extractor, key_parts)
    path = reference_cache_path(cache_dir, key)
    cached = _read_entry(path, key)
    if cached is not None:
        log.info("reference statistics: cache hit %s (N=%d)", path, cached["n"])
        return cached
    array = _load_images(images, key_parts["resolution"])
    log.info(
        "reference statistics: computing %s features of %d images -> %s",
        extractor.name,
        len(array),
        path,
    )
    features = np.asarray(extractor.features(array, batch_size=batch_size), dtype=np.float64)
    if features.ndim != 2 or features.shape[0] != len(array):
        raise ValueError(
            f"extractor {extractor.name} returned features of shape {features.shape} for "
            f"{len(array)} images; it must return one row per image."
        )
    mu, sigma = feature_statistics(features)
    entry = {"features": features, "mu": mu, "sigma": sigma, "n": len(array)}
    _write_entry(path, entry, key)
    return entry


def _cache_key(
    images: ImageSource, extractor: FeatureExtractor, key_parts: dict[str, Any]
) -> dict[str, Any]:
    """The full key: ``key_parts`` plus extractor name, weights sha256 and content sha256."""
    missing = [name for name in REQUIRED_KEY_PARTS if name not in key_parts]
    if missing:
        raise ValueError(
            f"reference statistics key_parts lacks {missing}; pass dataset, split and resolution."
        )
    for name in ("dataset", "split"):
        if not _SAFE_NAME.match(str(key_parts[name])):
            raise ValueError(
                f"reference statistics key_parts[{name!r}]={key_parts[name]!r} must be a plain "
                "name (letters, digits, '.', '_', '-'); it becomes part of a file name."
            )
    reserved = {"extractor", "weights_sha256", "content_sha256"} & set(key_parts)
    if reserved:
        raise ValueError(
            f"reference statistics key_parts may not set {sorted(reserved)}; they are computed."
        )
    return {
        **key_parts,
        "extractor": extractor.name,
        "weights_sha256": extractor.weights_sha256,
        "content_sha256": content_sha256(images),
    }


def _key_json(key: dict[str, Any]) -> str:
    """Canonical JSON of a cache key (sorted keys), what the file name hash and the file store."""
    return json.dumps(key, sort_keys=True, default=str)


def _read_entry(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached entry at ``path`` if it exists, is readable and carries exactly ``key``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != _key_json(key):
                log.warning("reference statistics: %s holds another key; recomputing", path)
                return None
            return {name: data[name] for name in ("features", "mu", "sigma")} | {
                "n": int(data["n"])
            }
    except (OSError, ValueError, KeyError) as error:
        log.warning("reference statistics: unreadable cache %s (%s); recomputing", path, error)
        return None


def _write_entry(path: Path, entry: dict[str, Any], key: dict[str, Any]) -> None:
    """Write the entry with its key so that a kill mid-write never leaves a truncated file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, key=np.array(_key_json(key)), **entry)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _image_files(images: str | Path | Sequence[str | Path]) -> list[tuple[str, Path]]:
    """Sorted (relative posix path, path) of a folder's image files or of a list of files."""
    if isinstance(images, str | Path):
        root = Path(images)
        if not root.is_dir():
            raise DataError(
                f"{root}: reference images folder does not exist; prepare the dataset first."
            )
        files = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    else:
        files = [Path(p) for p in images]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise DataError(
                f"reference image files missing: {missing[:3]} ({len(missing)} in all)."
            )
        root = (
            Path(os.path.commonpath([str(p.parent.resolve()) for p in files])) if files else Path()
        )
        files = [p.resolve() for p in files]
    if not files:
        raise DataError(
            f"no reference images found in {images}; expected {sorted(IMAGE_EXTENSIONS)} files."
        )
    return sorted((p.relative_to(root).as_posix(), p) for p in files)


def _load_images(images: ImageSource, resolution: Any) -> np.ndarray:
    """A uint8 array [N, H, W, 3] of the images (files decoded as RGB, as pytorch-fid does)."""
    if isinstance(images, np.ndarray):
        array = images
    else:
        decoded = []
        for relative, path in _image_files(images):
            with Image.open(io.BytesIO(path.read_bytes())) as image:
                decoded.append(np.asarray(image.convert("RGB")))
            if decoded[-1].shape != decoded[0].shape:
                raise DataError(
                    f"{path}: size {decoded[-1].shape[:2]} differs from the first image's "
                    f"{decoded[0].shape[:2]}; a reference set must have one resolution ({relative})."
                )
        array = np.stack(decoded)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(
            f"reference images must be uint8 [N,H,W,3], got {array.dtype} {array.shape}; "
            "convert floats with (x * 255).round().astype(np.uint8)."
        )
    if isinstance(resolution, int) and array.shape[1:3] != (resolution, resolution):
        raise ValueError(
            f"reference images are {array.shape[1]}x{array.shape[2]} but key_parts says "
            f"resolution {resolution}; pass the resolution the images have."
        )
    return array
