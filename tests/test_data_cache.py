"""The packed copies in a dataset's ``.cache``: same arrays as decoding, invalidated by any
change of the files behind them, never required."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench.data.index import CACHE_DIR, cached_array, load_images, load_images_cached, save_image
from bench.errors import DataError


def write_pngs(root, n=5, resolution=8, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = root / "images" / f"{i:03d}.png"
        save_image(path, rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def test_packed_copy_equals_decoding_and_is_reused(tmp_path):
    paths = write_pngs(tmp_path)
    first = load_images_cached(tmp_path, "images-x", paths, 8, threads=1)
    assert (tmp_path / CACHE_DIR / "images-x.npy").exists()
    np.testing.assert_array_equal(first, load_images(paths, 8, threads=1))
    calls = []
    stamp = (tmp_path / CACHE_DIR / "images-x.sha256").read_text()
    again = cached_array(tmp_path, "images-x", stamp, lambda: calls.append(1) or first)
    assert calls == [] and again.dtype == np.uint8
    np.testing.assert_array_equal(again, first)


def test_changed_file_invalidates_the_copy(tmp_path):
    paths = write_pngs(tmp_path)
    before = load_images_cached(tmp_path, "images-x", paths, 8, threads=1)
    save_image(paths[2], np.zeros((8, 8, 3), np.uint8))
    os.utime(paths[2], ns=(1, 1))  # a rewrite within the same mtime tick still differs here
    after = load_images_cached(tmp_path, "images-x", paths, 8, threads=1)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after[2], 0)
    np.testing.assert_array_equal(after, load_images(paths, 8, threads=1))


def test_missing_file_is_named_and_unwritable_cache_still_loads(tmp_path):
    paths = write_pngs(tmp_path)
    paths[1].unlink()
    with pytest.raises(DataError, match="001.png"):
        load_images_cached(tmp_path, "images-x", paths, 8)
    other = tmp_path / "other"
    paths = write_pngs(other)
    (other / CACHE_DIR).write_text("a file where the cache folder would go")  # mkdir fails
    images = load_images_cached(other, "images-x", paths, 8, threads=1)
    np.testing.assert_array_equal(images, load_images(paths, 8, threads=1))
    assert (other / CACHE_DIR).is_file()


def test_broken_copy_is_recomputed(tmp_path):
    calls = []
    cached_array(tmp_path, "a", "f1", lambda: np.arange(3))
    (tmp_path / CACHE_DIR / "a.npy").write_bytes(b"not an npy file")
    out = cached_array(tmp_path, "a", "f1", lambda: calls.append(1) or np.arange(3))
    assert calls == [1]
    np.testing.assert_array_equal(out, np.arange(3))
    np.testing.assert_array_equal(cached_array(tmp_path, "a", "f1", lambda: None), np.arange(3))
