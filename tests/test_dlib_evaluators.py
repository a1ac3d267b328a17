"""dlib evaluators (detector, 68 landmarks, ResNet embedding, PnP head pose) and the AKD/AED metrics."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys

import numpy as np
import pytest

from bench.data.synthfaces import N_SHAPE, Identity, Renderer, Scene, rotation_matrix
from bench.data.synthfaces.mesh import head_template
from bench.errors import BenchError, EvaluatorUnavailable
from bench.evaluators import dlib_face
from bench.evaluators.dlib_face import (
    DESCRIPTOR_FILE,
    SHAPE_PREDICTOR_FILE,
    DlibFace,
    dlib_models_dir,
)
from bench.evaluators.head_pose import (
    MODEL_POINTS,
    POSE_LANDMARKS,
    DlibHeadPose,
    estimate_head_pose,
    rotation_to_angles,
)
from bench.metrics.keypoints import average_euclidean_distance, average_keypoint_distance


@pytest.fixture(scope="module")
def face() -> DlibFace:
    return DlibFace()


def render(
    seeds: list[int], scenes: list[Scene], resolution: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Images [N,H,W,3] and exact landmarks [N,68,2] of identity seeds[i] in scenes[i]."""
    renderer = Renderer(resolution, supersample=2)
    renders = [
        renderer.render(Identity.from_seed(s), sc) for s, sc in zip(seeds, scenes, strict=True)
    ]
    return np.stack([r.image for r in renders]), np.stack([r.landmarks for r in renders])


def nme(pred: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Per-image NME over points 17-67 normalised by the exact outer eye-corner distance."""
    iod = np.linalg.norm(exact[:, 36] - exact[:, 45], axis=1)
    return np.linalg.norm(pred[:, 17:] - exact[:, 17:], axis=2).mean(1) / iod


def test_dlib_models_are_found_without_importing_the_package() -> None:
    folder = dlib_models_dir()
    for name in (SHAPE_PREDICTOR_FILE, DESCRIPTOR_FILE):
        assert os.path.getsize(os.path.join(folder, name)) > 1_000_000
    assert "face_recognition_models" not in sys.modules


def test_missing_model_package_raises_an_error_naming_what_to_install(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "face_recognition_models" else real(name, *a),
    )  # fmt: skip
    with pytest.raises(EvaluatorUnavailable, match="pip install .*face-recognition-models"):
        DlibFace()
    assert issubclass(EvaluatorUnavailable, BenchError)


def test_missing_dlib_raises_an_error_naming_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` raise ImportError
    with pytest.raises(EvaluatorUnavailable, match="dlib-bin"):
        DlibFace()


def test_non_uint8_images_are_rejected_with_a_conversion_hint(face: DlibFace) -> None:
    with pytest.raises(BenchError, match="astype"):
        face.landmarks(np.zeros((1, 128, 128, 3), dtype=np.float32))


def test_frontal_renders_are_detected_with_accurate_landmarks(face: DlibFace) -> None:
    scenes = [Scene(yaw=y, pitch=0.0, roll=0.0) for y in (-10.0, 0.0, 10.0, -5.0, 5.0, 0.0)]
    images, exact = render(list(range(100, 106)), scenes)
    points, found = face.landmarks(images)
    assert found.all()
    assert nme(points, exact).mean() < 0.15
    boxes = face.detect(images)
    for box, landmarks in zip(boxes, exact, strict=True):
        nose_x, nose_y = landmarks[30]
        assert box is not None and box.left < nose_x < box.right and box.top < nose_y < box.bottom


def test_small_images_are_enlarged_and_landmarks_mapped_back(face: DlibFace) -> None:
    scenes = [Scene(yaw=y, pitch=0.0, roll=0.0) for y in (-10.0, 0.0, 10.0)]
    images, exact = render([200, 201, 202], scenes, resolution=64)
    points, found = face.landmarks(images)
    assert found.all()
    assert nme(points, exact).mean() < 0.15
    assert np.abs(np.nanmean(points - exact, axis=(0, 1))).max() < 1.0  # no scale or offset slip


def test_blank_image_is_reported_as_not_found_and_counted(face: DlibFace) -> None:
    images, exact = render([300], [Scene(yaw=0.0, pitch=0.0, roll=0.0)])
    grey = np.full_like(images[0], 128)
    batch = np.stack([images[0], grey])
    points, found = face.landmarks(batch)
    embeddings, embedded = face.embed(batch)
    assert found.tolist() == [True, False] and embedded.tolist() == [True, False]
    assert np.isnan(points[1]).all() and np.isfinite(points[0]).all()
    assert np.isnan(embeddings[1]).all() and embeddings.shape == (2, 128)
    assert face.detect(batch)[1] is None
    target = np.concatenate([exact, exact])
    akd = average_keypoint_distance(points, target, found, np.ones(2, bool))
    assert akd["n_used"] == 1 and akd["missing_rate"] == 0.5 and np.isfinite(akd["akd"])
    angles, posed = DlibHeadPose(face).estimate(batch)
    assert posed.tolist() == [True, False] and np.isnan(angles[1]).all()


def test_head_pose_at_yaw_30_has_the_right_sign_and_is_close(face: DlibFace) -> None:
    yaws = [30.0, -30.0, 30.0, -30.0, 30.0, -30.0]
    scenes = [Scene(yaw=y, pitch=0.0, roll=0.0) for y in yaws]
    images, _ = render(list(range(400, 406)), scenes)
    angles, found = DlibHeadPose(face).estimate(images)
    assert found.sum() >= 5
    estimated = angles[found]
    truth = np.array([[y, 0.0, 0.0] for y in yaws])[found]
    assert (np.sign(estimated[:, 0]) == np.sign(truth[:, 0])).all()
    assert np.abs(estimated - truth).mean() < 15.0


def test_pnp_on_exact_landmarks_of_the_mean_head_recovers_each_angle_with_its_sign() -> None:
    mean_head = dataclasses.replace(Identity.from_seed(500), shape=np.zeros(N_SHAPE))
    cases = [(25.0, 0.0, 0.0), (0.0, 20.0, 0.0), (0.0, 0.0, 15.0), (-20.0, -15.0, -10.0)]
    renderer = Renderer(128)
    exact = np.stack(
        [renderer.render(mean_head, Scene(yaw=y, pitch=p, roll=r)).landmarks for y, p, r in cases]
    )
    near_orthographic = estimate_head_pose(exact, 128, focal_scale=30.0, pitch_offset=0.0)
    assert np.abs(near_orthographic - np.array(cases)).max() < 1.0
    default_camera = estimate_head_pose(exact, 128, pitch_offset=0.0)  # perspective vs orthographic
    assert np.abs(default_camera - np.array(cases)).max() < 3.0
    nan_row = estimate_head_pose(np.full((1, 68, 2), np.nan), 128)
    assert np.isnan(nan_row).all()


def test_rotation_to_angles_inverts_the_synthfaces_rotation() -> None:
    for angles in [(30.0, -10.0, 5.0), (-60.0, 25.0, -15.0)]:
        np.testing.assert_allclose(rotation_to_angles(rotation_matrix(*angles)), angles, atol=1e-9)


def test_model_points_are_the_synthfaces_mean_head() -> None:
    template = head_template()
    points = template.vertices[template.ibug68[list(POSE_LANDMARKS)]]
    expected = (points - points[0]) * np.array([1.0, -1.0, -1.0]) * 100.0
    np.testing.assert_allclose(MODEL_POINTS, expected, atol=0.01)


def test_embeddings_place_the_same_identity_closer_than_different_ones(face: DlibFace) -> None:
    seeds = [600, 601, 602, 603]
    scenes = [Scene(yaw=-15.0, pitch=0.0, roll=0.0, light_azimuth=-20.0),
              Scene(yaw=15.0, pitch=5.0, roll=0.0, light_azimuth=20.0)]  # fmt: skip
    images, _ = render([s for s in seeds for _ in scenes], scenes * len(seeds))
    embeddings, found = face.embed(images)
    assert found.all()
    distance = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=2)
    identity = np.repeat(np.arange(len(seeds)), len(scenes))
    same = identity[:, None] == identity[None]
    off_diagonal = ~np.eye(len(images), dtype=bool)
    assert distance[same & off_diagonal].mean() < distance[~same].mean()


def test_average_keypoint_distance_on_hand_computed_points() -> None:
    target = np.zeros((3, 2, 2))
    pred = np.zeros((3, 2, 2))
    pred[0] = [[3.0, 4.0], [0.0, 1.0]]  # distances 5 and 1 -> 3
    pred[1] = [[0.0, 2.0], [0.0, 0.0]]  # distances 2 and 0 -> 1
    pred[2] = np.nan  # not found
    result = average_keypoint_distance(pred, target, [True, True, False], [True, True, True])
    assert result == {"akd": 2.0, "n_used": 2, "missing_rate": pytest.approx(1 / 3)}
    none = average_keypoint_distance(pred, target, [False] * 3, [True] * 3)
    assert np.isnan(none["akd"]) and none["n_used"] == 0 and none["missing_rate"] == 1.0
    with pytest.raises(ValueError, match="found mask"):
        average_keypoint_distance(pred, target, [True] * 3, [True] * 3)


def test_average_euclidean_distance_on_hand_computed_embeddings() -> None:
    target = np.zeros((4, 3))
    pred = np.array([[1.0, 2.0, 2.0], [0.0, 0.0, 1.0], [np.nan] * 3, [9.0, 9.0, 9.0]])
    found = np.array([True, True, False, False])  # the 4th was found but its target was not
    result = average_euclidean_distance(pred, target, found)
    assert result == {"aed_id": 2.0, "n_used": 2, "missing_rate": 0.5}


def test_module_names_follow_the_evaluator_naming() -> None:
    assert DlibFace.name == "dlib-resnet" and DlibFace.landmarks_name == "dlib-68"
    assert DlibHeadPose.name == "dlib68-pnp"
    assert dlib_face.EMBEDDING_DIM == 128
