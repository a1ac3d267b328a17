"""Each real dataset's loader, on a fixture in its exact on-disk layout, round-trips to the index.

Fixtures mix real photos shipped with installed packages (scikit-image's astronaut,
matplotlib's Grace Hopper) and SynthFaces renders, written as JPEG, PNG and mp4 in
LFW, CelebA, VoxCeleb2, Multi-PIE and face-folder layouts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.config import validate_config
from bench.data.dataset import FaceData
from bench.data.index import INDEX_COLUMNS, read_index, read_landmarks, read_meta
from bench.data.pairs import read_pairs
from bench.data.real.demo import packaged_faces, synthfaces_views, view
from bench.data.real.layouts import (
    multipie_cameras,
    write_celeba,
    write_folder,
    write_lfw,
    write_multipie,
    write_voxceleb2,
)
from bench.data.real.prepare import prepare_real

RESOLUTION = 32
YAWS = [-20.0, -10.0, 0.0, 10.0, 20.0, 5.0]


def settings(dataset: str, **overrides) -> dict:
    """The dataset's validated config section with ``overrides``."""
    return validate_config({dataset: {"resolution": RESOLUTION, **overrides}})[dataset]


@pytest.fixture(scope="module")
def people() -> dict[str, list[np.ndarray]]:
    """Two real people (6 augmented views each) and four SynthFaces identities (6 renders)."""
    rng = np.random.default_rng(0)
    faces = {}
    for name, photo in packaged_faces(n_lfw=0).items():
        small = np.asarray(
            Image.fromarray(photo).resize((256, 256 * photo.shape[0] // photo.shape[1]))
        )
        faces[name.title()] = [np.asarray(view(small, rng).convert("RGB")) for _ in range(6)]
    for identity in range(4):
        faces[f"Synth_{identity:02d}"] = synthfaces_views(identity, YAWS)
    return faces


def check_round_trip(out: Path, expected_images: int) -> None:
    """The prepared folder satisfies the data contract end to end."""
    index = read_index(out)
    assert list(index.columns[: len(INDEX_COLUMNS)]) == list(INDEX_COLUMNS)
    assert len(index) == expected_images
    points, visible = read_landmarks(out, index)
    assert np.isfinite(points).all() and visible.mean() > 0.9
    meta = read_meta(out)
    assert meta["has_exact_targets"] is False and meta["resolution"] == RESOLUTION
    test = FaceData.load(out, "test")
    assert test.images.shape[1:] == (RESOLUTION, RESOLUTION, 3)
    names = set(test.index["name"])
    for pair in read_pairs(out / "pairs.txt"):
        assert {pair.name1, pair.name2} <= names


def test_folder_layout_round_trips(tmp_path, people):
    root = write_folder(tmp_path / "faces", {n: [v[:3], v[3:]] for n, v in people.items()})
    out = tmp_path / "prepared"
    prepare_real(
        "folder",
        out,
        settings("folder", root=str(root), test_identities=4, pairs={"sets": 2, "per_set": 3}),
    )
    check_round_trip(out, 36)
    index = read_index(out)
    assert set(index.groupby("name")["clip"].nunique()) == {2}
    assert (index["pose_source"] == "dlib68-pnp").all()
    synth = index[index["name"] == "Synth_00"].sort_values("number")
    assert np.corrcoef(synth["yaw"], YAWS)[0, 1] > 0.8  # estimated pose follows the renders


def test_lfw_layout_round_trips_with_the_given_pairs(tmp_path, people):
    root = write_lfw(tmp_path, {n.replace("-", "_"): v for n, v in people.items()}, 2, 5)
    out = tmp_path / "prepared"
    prepare_real("lfw", out, settings("lfw", root=str(root)))
    index = read_index(out)
    assert len(index) == 36
    given = (tmp_path / "pairs.txt").read_text()
    assert (out / "pairs.txt").read_text() == given  # image-restricted: used as given
    assert set(index.loc[index.split == "test", "name"]) == {
        p.name1 for p in read_pairs(out / "pairs.txt")
    } | {p.name2 for p in read_pairs(out / "pairs.txt")}
    check_round_trip(out, 36)


def test_celeba_layout_aligns_with_its_annotated_points(tmp_path, people):
    from bench.data.real.align import FaceAligner

    aligner = FaceAligner(RESOLUTION)
    points = {n: [aligner.five_points(image)[0] for image in v] for n, v in people.items()}
    test = {"Grace_Hopper", "Synth_00", "Synth_01", "Synth_02"}
    root = write_celeba(tmp_path / "celeba", people, points, test)
    out = tmp_path / "prepared"
    prepare_real("celeba", out, settings("celeba", root=str(root), pairs={"sets": 2, "per_set": 3}))
    check_round_trip(out, 36)
    index = read_index(out)
    assert (index["align_source"] == "annotation").all()
    assert index.loc[index.split == "test", "name"].nunique() == 4


def test_voxceleb2_layout_samples_frames_per_clip_from_mp4(tmp_path, people):
    speakers = {n: [v[:3], v[3:]] for n, v in people.items()}
    root = write_voxceleb2(tmp_path / "vox", speakers)
    out = tmp_path / "prepared"
    prepare_real(
        "voxceleb2",
        out,
        settings(
            "voxceleb2",
            root=str(root),
            train_speakers=2,
            train_frames_per_clip=2,
            test_videos=4,
            test_frames=4,
            pairs={"sets": 2, "per_set": 1},
        ),
    )
    index = read_index(out)
    train, test = index[index.split == "train"], index[index.split == "test"]
    assert len(train) == 2 * 2 * 2  # 2 speakers x 2 clips x 2 frames
    assert test.groupby("name").size().tolist() == [4, 4, 4, 4]
    assert (index["frame"] >= 0).all() and index["source"].str.endswith(".mp4").all()
    check_round_trip(out, 24)


def test_multipie_layout_gives_nominal_yaw_and_pose_clips(tmp_path):
    cameras = multipie_cameras(30)
    subjects = {
        f"s{i}": dict(zip(cameras, synthfaces_views(10 + i, list(cameras.values())), strict=True))
        for i in range(6)
    }
    root = write_multipie(tmp_path / "mpie", subjects)
    (root / "session01" / "multiview" / "001" / "01" / "08_1").mkdir()  # an elevated camera
    out = tmp_path / "prepared"
    prepare_real(
        "multipie",
        out,
        settings(
            "multipie",
            root=str(root),
            sessions=[1],
            train_subjects=2,
            pairs={"sets": 2, "per_set": 1},
        ),
    )
    check_round_trip(out, 30)
    index = read_index(out)
    assert (index["pose_source"] == "multipie-camera").all()
    assert sorted(index["yaw"].unique()) == sorted(cameras.values())
    assert index.groupby("name")["clip"].nunique().eq(1).all()  # one recording, one flash
    assert read_meta(out)["notes"]["skipped_folders"] == {"camera 08_1": 1}
