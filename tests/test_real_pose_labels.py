"""Never a silent wrong pose label (issue 22): a profile flagged by the 68-point fit has n/a
yaw/pitch/roll in index.csv, and every reader copes: no pose bin, pose-supervised training
on the labelled rows only, and pose-transfer drivers with a label only."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from conftest import make_face_data

from bench.data.index import NO_BIN, PoseBins, pose_labelled
from bench.data.real.prepare import contract_pose
from bench.errors import DataError
from bench.protocols.pose_transfer import make_tuples, read_tuples, write_tuples

NAN3 = [float("nan")] * 3


def test_a_flagged_estimate_is_no_label_and_says_so_in_pose_source():
    flagged = contract_pose(NAN3, None, [None] * 3, "dlib68-pnp")
    assert np.isnan([flagged["yaw"], flagged["pitch"], flagged["roll"]]).all()
    assert flagged["pose_source"] == "dlib68-pnp-unreliable"
    fitted = contract_pose([12.0, -3.0, 1.0], None, [None] * 3, "dlib68-pnp")
    assert fitted == {"yaw": 12.0, "pitch": -3.0, "roll": 1.0, "pose_source": "dlib68-pnp"}
    # A dataset's own label (AFLW2000-3D) or nominal yaw (Multi-PIE) is kept on a profile.
    labelled = contract_pose(NAN3, None, [70.0, 5.0, -2.0], "aflw2000-3d")
    assert labelled == {"yaw": 70.0, "pitch": 5.0, "roll": -2.0, "pose_source": "aflw2000-3d"}
    assert contract_pose(NAN3, -45.0, [None] * 3, "multipie-camera")["yaw"] == -45.0


def test_a_row_without_a_yaw_gets_no_pose_bin():
    bins = PoseBins(15.0)
    assert bins.assign(np.array([np.nan, -90.0, 0.0, 95.0, np.nan])).tolist() == [
        NO_BIN,
        0,
        6,
        12,
        NO_BIN,
    ]


def real_like(n_identities: int = 3, per_identity: int = 5, unlabelled=()) -> pd.DataFrame:
    """A test split of photos (one clip per person, no sessions), NaN poses at ``unlabelled``."""
    data = make_face_data(n_identities, per_identity)
    index = data.index.assign(clip=0, session=-1, split="test", pose_source="dlib68-pnp")
    index.loc[list(unlabelled), ["yaw", "pitch", "roll"]] = np.nan
    index.loc[list(unlabelled), "pose_source"] = "dlib68-pnp-unreliable"
    return index


def test_pose_supervised_training_reads_the_labelled_rows_only(caplog):
    data = make_face_data(3, 4)
    data.index.loc[[0, 5, 6], ["yaw", "pitch", "roll"]] = np.nan
    data.index.loc[[0, 5, 6], "pose_source"] = "dlib68-pnp-unreliable"
    assert data.with_pose_labels(frozenset({"identity"}), "m") is data  # no pose: all rows
    with caplog.at_level(logging.WARNING):
        kept = data.with_pose_labels(frozenset({"pose_bins"}), "drgan")
    assert len(kept) == 9 and pose_labelled(kept.index).all()
    assert kept.images.shape[0] == kept.landmarks.shape[0] == kept.visible.shape[0] == 9
    assert np.array_equal(kept.images, data.images[pose_labelled(data.index)])
    assert (kept.pose_bin_labels != NO_BIN).all() and np.isfinite(kept.poses).all()
    assert "drgan needs pose labels: training on the 9 of 12 rows" in caplog.text
    assert "3 without: pose_source dlib68-pnp-unreliable" in caplog.text
    batch = kept.batch(np.arange(9).reshape(3, 3), frozenset({"pose_angles", "pose_bins"}))
    assert bool(batch.pose.isfinite().all()) and int(batch.pose_bin.min()) >= 0
    data.index[["yaw", "pitch", "roll"]] = np.nan
    with pytest.raises(DataError, match="index.csv: method 'drgan' needs pose labels, but none"):
        data.with_pose_labels(frozenset({"pose_angles"}), "drgan")


def test_drivers_are_drawn_from_pose_labelled_images_only():
    unlabelled = [0, 1, 2, 5, 6, 7, 8, 10, 11, 12, 13, 14]  # person 2 has no label at all
    index = real_like(unlabelled=unlabelled)
    tuples = make_tuples(index, 2, 60, seed=0, sources="identity")
    by_path = index.set_index("path")
    for kind in ("self_driver", "cross_driver"):
        assert by_path.loc[tuples[kind], "yaw"].notna().all(), kind
    assert set(tuples["identity"]) == {0, 1} and set(tuples["cross_identity"]) == {0, 1}
    sources = {p for s in tuples["sources"] for p in s.split(";")}
    assert sources & set(index.loc[unlabelled, "path"])  # unlabelled rows are still sources
    assert tuples.attrs["unlabelled_test_images"] == 12
    with pytest.raises(
        DataError,
        match="holding a pose-labelled driver; found 1 .13 test images have no pose label",
    ):
        make_tuples(real_like(unlabelled=[*unlabelled, 9]), 2, 4, seed=0, sources="identity")


def test_the_tuple_table_counts_the_unlabelled_test_images(tmp_path):
    index = real_like(unlabelled=[3, 4])
    index.to_csv(tmp_path / "index.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps({"dataset": "folder", "resolution": 16}))
    path = write_tuples(tmp_path, {"k": [1, 2], "tuples": 10, "seed": 1, "sources": "identity"})
    summary = json.loads(path.with_suffix(".json").read_text())
    assert summary == {
        "tuples": 10,
        "test_images": 15,
        "unlabelled_test_images": 2,
        "drivers": "images with a pose label only",
    }
    drivers = set(read_tuples(tmp_path)[["self_driver", "cross_driver"]].to_numpy().ravel())
    assert not drivers & set(index.loc[[3, 4], "path"])


EXPECTED = {
    "identity": [2, 1, 0, 1],
    "self_driver": [
        f"images/id0000{i}/id0000{i}_000{j}.png" for i, j in [(2, 1), (1, 1), (0, 4), (1, 4)]
    ],
    "cross_driver": [
        f"images/id0000{i}/id0000{i}_000{j}.png" for i, j in [(1, 5), (2, 3), (1, 3), (2, 3)]
    ],
}


def test_a_fully_labelled_index_draws_the_tuples_it_always_drew():
    """The labelled-driver rule must not move a single draw where every pose is known:
    these are the tuples of this index before the rule existed (commit 24bf828)."""
    tuples = make_tuples(real_like(), 2, 4, seed=3, sources="identity")
    assert tuples[["identity", "self_driver", "cross_driver"]].to_dict("list") == EXPECTED
