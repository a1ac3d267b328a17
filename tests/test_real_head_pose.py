"""Head pose on real photos (issue 22, defect 7): profile flag, the photo's roll, AFLW2000-3D
labels, the MediaPipe Face Mesh estimator and the benchmark that compares them all."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from bench.config import validate_config
from bench.data.index import read_index, read_meta
from bench.data.real.aflw2000 import list_aflw2000, read_label
from bench.data.real.align import FaceAligner, nose_ratio, pose_flag
from bench.data.real.layouts import save_jpeg, write_aflw2000, write_folder
from bench.data.real.prepare import prepare_real
from bench.data.synthfaces import Identity, Renderer, Scene
from bench.errors import EvaluatorUnavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import validate_head_pose  # noqa: E402

HAS_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None


def renders(angles: list[tuple[float, float, float]], resolution: int = 256, seed: int = 7):
    """Images and exact landmarks of one identity at each (yaw, pitch, roll)."""
    renderer = Renderer(resolution, supersample=2)
    person = Identity.from_seed(seed)
    out = [renderer.render(person, Scene(yaw=y, pitch=p, roll=r)) for y, p, r in angles]
    return [r.image for r in out], np.stack([r.landmarks for r in out])


@pytest.fixture(scope="module")
def aligner() -> FaceAligner:
    return FaceAligner(64)


def test_the_nose_ratio_and_the_flag_on_hand_built_points():
    eyes_mouth = [[40.0, 50.0], [80.0, 50.0], [0.0, 0.0], [45.0, 90.0], [75.0, 90.0]]
    frontal, profile = np.array(eyes_mouth), np.array(eyes_mouth)
    frontal[2], profile[2] = (60.0, 70.0), (84.0, 70.0)  # nose between the eyes / past one
    assert nose_ratio(frontal) == pytest.approx(0.5) and nose_ratio(profile) == pytest.approx(1.1)
    assert pose_flag(frontal, 10.0) == ""
    assert pose_flag(profile, 10.0).startswith("profile: nose tip at 1.10")
    assert pose_flag(frontal, -45.0).startswith("profile: 68-point yaw -45.0")


def test_a_profile_is_flagged_and_a_frontal_face_is_not(aligner):
    images, _ = renders([(0.0, 0.0, 0.0), (20.0, 0.0, 0.0), (65.0, 0.0, 0.0), (-65.0, 0.0, 0.0)])
    flags = [aligner.align(image).pose_flag for image in images]
    assert flags[0] == "" and flags[1] == ""
    assert flags[2].startswith("profile") and flags[3].startswith("profile")


def test_the_photo_roll_is_kept_beside_the_de_rotated_crop_roll(aligner):
    images, _ = renders([(0.0, 0.0, -20.0), (0.0, 0.0, 0.0), (0.0, 0.0, 20.0)])
    faces = [aligner.align(image) for image in images]
    assert [abs(face.pose[2]) < 4 for face in faces] == [True] * 3  # the crop is upright
    assert np.allclose([face.photo_roll for face in faces], [-20, 0, 20], atol=3)


def test_prepared_profiles_have_a_flag_and_no_estimated_pose(tmp_path):
    images, _ = renders([(0.0, 0.0, 10.0), (70.0, 0.0, 0.0), (10.0, 0.0, 0.0)])
    root = write_folder(tmp_path / "faces", {"me": [images]})
    settings = validate_config({"folder": {"root": str(root), "evaluation_only": True}})
    prepare_real("folder", tmp_path / "out", settings["folder"])
    index = read_index(tmp_path / "out")
    flagged = index["pose_flag"].fillna("").str.startswith("profile")
    assert flagged.tolist() == [False, True, False]
    assert index.loc[flagged, ["est_yaw", "est_pitch", "est_roll"]].isna().all().all()
    assert index.loc[~flagged, "est_yaw"].notna().all()
    # The columns training and evaluation read: n/a too, never the frontal fit's value.
    assert index.loc[flagged, ["yaw", "pitch", "roll"]].isna().all().all()
    assert index["pose_source"].tolist() == ["dlib68-pnp", "dlib68-pnp-unreliable", "dlib68-pnp"]
    assert np.allclose(index.loc[~flagged, "yaw"], index.loc[~flagged, "est_yaw"])
    assert abs(index["photo_roll"].iloc[0] - 10) < 3
    assert read_meta(tmp_path / "out")["pose_flagged"] == 1
    assert read_meta(tmp_path / "out")["pose_unlabelled"] == 1


def test_aflw2000_labels_are_read_in_the_harness_convention(tmp_path):
    """AFLW2000-3D stores pitch, yaw, roll in radians; its yaw is the harness' negated."""
    points = np.vstack([np.arange(68.0), np.arange(68.0) * 2, np.zeros(68)])
    pose = np.array([[np.radians(10.0), np.radians(30.0), np.radians(-5.0), 1, 2, 3, 0.5]])
    savemat(tmp_path / "image00002.mat", {"Pose_Para": pose, "pt3d_68": points})
    angles, pt2d = read_label(tmp_path / "image00002.mat")
    assert np.allclose(angles, [-30.0, 10.0, -5.0])
    assert np.allclose(pt2d, points[:2].T)


def test_aflw2000_listing_rejects_missing_or_bad_labels_naming_the_file(tmp_path):
    images, exact = renders([(0.0, 0.0, 0.0), (40.0, 5.0, 0.0), (-30.0, 0.0, 0.0)], 64)
    root = write_aflw2000(
        tmp_path / "aflw", images, np.array([[0, 0, 0], [40, 5, 0], [-30, 0, 0]]), exact
    )
    (root / "image00001.mat").unlink()
    savemat(root / "image00002.mat", {"other": np.zeros(3)})
    save_jpeg(root / "photo.jpg", images[0])
    listing = list_aflw2000(root, {})
    assert [s.name for s in listing.sources] == ["image00000"]
    assert listing.sources[0].split == "test"
    reasons = dict(listing.rejects)
    assert reasons[str(root / "image00001.jpg")] == f"missing label file: {root / 'image00001.mat'}"
    assert (
        reasons[str(root / "image00002.jpg")]
        == f"label file without Pose_Para: {root / 'image00002.mat'}"
    )
    assert dict(listing.skipped) == {
        str(root / "photo.jpg"): "not an AFLW2000-3D imageNNNNN.jpg or its .mat"
    }


def test_an_aflw2000_folder_prepares_with_its_labels_as_the_pose(tmp_path):
    truth = np.array([[0.0, 0.0, 0.0], [25.0, -10.0, 5.0], [-20.0, 10.0, -5.0]])
    images, exact = renders([tuple(t) for t in truth])
    root = write_aflw2000(tmp_path / "aflw", images, truth, exact)
    settings = validate_config({"aflw2000": {"root": str(root), "resolution": 64}})["aflw2000"]
    prepare_real("aflw2000", tmp_path / "out", settings)
    index = read_index(tmp_path / "out")
    assert np.allclose(index[["yaw", "pitch", "roll"]].to_numpy(), truth, atol=1e-6)
    assert set(index["pose_source"]) == {"aflw2000-3d"} and set(index["split"]) == {"test"}
    assert np.abs(index["est_yaw"] - truth[:, 0]).max() < 15  # dlib68-pnp beside the label
    assert not (tmp_path / "out" / "pairs.txt").exists()


def test_the_benchmark_reports_every_evaluator_by_yaw_bin_on_an_aflw2000_folder(tmp_path, capsys):
    root = tmp_path / "aflw"
    validate_head_pose.main(["--write-aflw2000-like", str(root), "--n", "6", "--max-yaw", "90"])
    results = validate_head_pose.main(["--dataset", "aflw2000", "--root", str(root)])
    for name in ("dlib68-pnp", "prepare-dlib68-pnp"):
        assert {"0-30", "30-60", "60-90", "all"} <= set(results[name])
        assert results[name]["all"]["n"] == 6
    if not HAS_MEDIAPIPE:
        assert (
            "pip install --no-deps mediapipe==0.10.14" in results["mediapipe-facemesh-pnp"]["n/a"]
        )
    check = results["labels vs PnP on pt3d_68"]
    assert check["n"] == 6 and max(check["mae_yaw_pitch_roll"]) < 4  # the convention agrees
    assert "prepare-dlib68-pnp" in capsys.readouterr().out


def test_without_mediapipe_the_evaluator_is_unavailable_naming_what_to_install(monkeypatch):
    from bench.evaluators import mediapipe_face

    def missing(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(EvaluatorUnavailable, match=r"pip install --no-deps mediapipe==0\.10\.14"):
        mediapipe_face.MediaPipeFace()


@pytest.mark.skipif(not HAS_MEDIAPIPE, reason="mediapipe is not installed (see mediapipe_face.py)")
def test_mediapipe_head_pose_on_renders_with_exact_angles():
    from bench.evaluators.head_pose import POSE_LANDMARKS
    from bench.evaluators.mediapipe_face import MESH_OF_IBUG, MediaPipeHeadPose

    assert set(MESH_OF_IBUG) == set(POSE_LANDMARKS)
    truth = np.array([[y, 0.0, 0.0] for y in (-30.0, -15.0, 0.0, 15.0, 30.0, 60.0, -60.0)])
    images, _ = renders([tuple(t) for t in truth], resolution=192)
    angles, found = MediaPipeHeadPose().estimate(np.stack(images))
    assert found.all()
    assert (np.sign(angles[[0, 1, 3, 4, 5, 6], 0]) == np.sign(truth[[0, 1, 3, 4, 5, 6], 0])).all()
    assert np.abs(angles[:5] - truth[:5]).mean() < 8.0
    assert np.abs(angles[5:, 0] - truth[5:, 0]).max() < 20.0  # past dlib's 40-degree ceiling


def test_mesh_indices_match_the_pnp_points():
    from bench.evaluators.head_pose import POSE_LANDMARKS
    from bench.evaluators.mediapipe_face import MESH_OF_IBUG, ibug_pose_points

    assert set(MESH_OF_IBUG) == set(POSE_LANDMARKS)
    mesh = np.arange(2 * 468 * 2, dtype=float).reshape(2, 468, 2)
    points = ibug_pose_points(mesh)
    assert np.array_equal(points[:, 8], mesh[:, 152]) and np.isnan(points[:, 0]).all()
    assert dataclasses.is_dataclass(Scene)
