"""The data contract's readers: every malformed input names the file and line or column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.data.dataset import to_float_images, to_uint8_images
from bench.data.index import (
    INDEX_COLUMNS,
    PoseBins,
    load_image,
    read_index,
    read_landmarks,
    save_image,
)
from bench.errors import DataError


def write_index(folder, rows):
    pd.DataFrame(rows).to_csv(folder / "index.csv", index=False)


def good_rows():
    return [
        {
            "path": f"images/a_{i}.png",
            "identity": i // 2,
            "clip": 0,
            "session": -1,
            "split": "train" if i < 4 else "test",
            "yaw": 0.0,
            "pitch": 0.0,
            "roll": 0.0,
            "pose_source": "gt",
            "expression": 0,
            "light": 0.0,
        }
        for i in range(6)
    ]


def test_valid_index_is_read_with_integer_labels(tmp_path):
    write_index(tmp_path, good_rows())
    index = read_index(tmp_path)
    assert list(index.columns[: len(INDEX_COLUMNS)]) == list(INDEX_COLUMNS)
    assert index["identity"].dtype == np.int64
    assert index["session"].dtype == np.int64


def test_non_integer_session_names_the_line(tmp_path):
    rows = good_rows()
    rows[2]["session"] = "front"
    write_index(tmp_path, rows)
    with pytest.raises(DataError, match="line 4: column 'session' must be an integer"):
        read_index(tmp_path)


def test_missing_index_column_is_named(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "yaw"} for r in good_rows()]
    write_index(tmp_path, rows)
    with pytest.raises(DataError, match=r"index.csv: missing column\(s\) yaw"):
        read_index(tmp_path)


def test_bad_identity_names_the_line(tmp_path):
    rows = good_rows()
    rows[2]["identity"] = "bob"
    write_index(tmp_path, rows)
    with pytest.raises(DataError, match=r"index.csv: line 4: column 'identity' must be an integer"):
        read_index(tmp_path)


def test_unknown_split_names_the_line(tmp_path):
    rows = good_rows()
    rows[5]["split"] = "val"
    write_index(tmp_path, rows)
    with pytest.raises(DataError, match=r"line 7: split must be one of"):
        read_index(tmp_path)


def test_identity_in_both_splits_is_refused(tmp_path):
    rows = good_rows()
    rows[4]["identity"] = 0
    write_index(tmp_path, rows)
    with pytest.raises(DataError, match=r"identities \[0\] appear in both train and test"):
        read_index(tmp_path)


def test_corrupt_png_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    save_image(path, np.zeros((8, 8, 3), np.uint8))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match=rf"{path}: corrupt or unreadable image"):
        load_image(path)


def test_missing_and_wrongly_sized_images_are_named(tmp_path):
    with pytest.raises(DataError, match="image file is missing"):
        load_image(tmp_path / "nope.png")
    save_image(tmp_path / "small.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(
        DataError, match="small.png: image is 8x8, the dataset's resolution is 16x16"
    ):
        load_image(tmp_path / "small.png", 16)


def test_landmarks_out_of_order_name_the_index_line(tmp_path):
    write_index(tmp_path, good_rows())
    index = read_index(tmp_path)
    paths = index["path"].to_numpy(str).copy()
    paths[[1, 2]] = paths[[2, 1]]
    np.savez(
        tmp_path / "landmarks.npz",
        points=np.zeros((6, 68, 2)),
        visible=np.ones((6, 68), bool),
        paths=paths,
    )
    with pytest.raises(DataError, match=r"entry 1 is for 'images/a_2.png' but index line 3"):
        read_landmarks(tmp_path, index)


def test_pose_bins_cover_minus_90_to_90():
    bins = PoseBins(15.0)
    assert len(bins) == 13
    assert list(bins.assign(np.array([-90, -83, -82, 0, 7.4, 7.6, 95]))) == [0, 0, 1, 6, 6, 7, 12]


def test_image_conversions_round_trip():
    images = np.random.default_rng(0).integers(0, 256, (3, 5, 5, 3), dtype=np.uint8)
    assert np.array_equal(to_uint8_images(to_float_images(images)), images)
