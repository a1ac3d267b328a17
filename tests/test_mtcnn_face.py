"""``mtcnn-5`` landmarks and ``mtcnn5-pnp`` head pose: MTCNN's 5 points and the shared PnP."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data.synthfaces import Identity, Renderer, Scene, rotation_matrix
from bench.data.synthfaces.mesh import head_template
from bench.evaluators.head_pose import MODEL_POINTS, POSE_LANDMARKS, solve_head_pose
from bench.evaluators.mtcnn_face import (
    MIN_EYE_MOUTH_ASPECT,
    MODEL_POINTS_5,
    PNP_ORDER,
    MtcnnFace,
    MtcnnHeadPose,
    estimate_head_pose_5,
    profile_flag,
    usable_pose,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import validate_head_pose  # noqa: E402

_OPENCV_TO_HEAD = np.diag([1.0, -1.0, -1.0])


@pytest.fixture(scope="module")
def face() -> MtcnnFace:
    return MtcnnFace()


def exact_five(landmarks: np.ndarray) -> np.ndarray:
    """The renderer's exact 68 points ``[N, 68, 2]`` as MTCNN's 5: eye centres, nose tip, mouth corners."""
    return np.stack(
        [
            landmarks[:, 36:42].mean(1),
            landmarks[:, 42:48].mean(1),
            landmarks[:, 30],
            landmarks[:, 48],
            landmarks[:, 54],
        ],
        1,
    )


def project(angles: tuple[float, float, float], size: int, focal_scale: float) -> np.ndarray:
    """MTCNN-ordered image points ``[5, 2]`` of the 5-point model at ``angles``, pinhole camera."""
    rotation = _OPENCV_TO_HEAD @ rotation_matrix(*angles) @ _OPENCV_TO_HEAD
    focal = focal_scale * size
    depth = focal * 100.0 / (0.4 * size)  # the eye-corner distance spans 40% of the image
    camera = MODEL_POINTS_5 @ rotation.T + np.array([3.0, -2.0, depth])
    pixels = focal * camera[:, :2] / camera[:, 2:] + size / 2.0
    mtcnn_order = np.empty_like(pixels)
    mtcnn_order[list(PNP_ORDER)] = pixels
    return mtcnn_order


def test_five_model_points_are_the_synthfaces_mean_head() -> None:
    template = head_template()
    ibug = template.vertices[template.ibug68]
    points = np.stack([ibug[30], ibug[36:42].mean(0), ibug[42:48].mean(0), ibug[48], ibug[54]])
    expected = (points - points[0]) * np.array([1.0, -1.0, -1.0]) * 100.0
    np.testing.assert_allclose(MODEL_POINTS_5, expected, atol=0.01)
    # mouth corners and nose tip are the 68-point model's own
    np.testing.assert_array_equal(MODEL_POINTS_5[[0, 3, 4]], MODEL_POINTS[[0, 4, 5]])
    assert POSE_LANDMARKS[0] == 30


@pytest.mark.parametrize(
    "angles", [(0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (-45.0, 10.0, 5.0), (15.0, -20.0, -12.0)]
)
def test_five_point_pnp_recovers_known_angles_from_projected_model_points(angles) -> None:
    for focal_scale in (1.0, 8.0):
        points = project(angles, 128, focal_scale)
        fitted, flags = estimate_head_pose_5(
            points[None], 128, focal_scale=focal_scale, pitch_offset=0.0
        )
        np.testing.assert_allclose(fitted[0], angles, atol=1e-3)
        assert flags == [""]
    shifted, _ = estimate_head_pose_5(project(angles, 128, 8.0)[None], 128, pitch_offset=2.5)
    np.testing.assert_allclose(shifted[0], np.add(angles, (0.0, 2.5, 0.0)), atol=1e-3)


def test_the_shared_pnp_refuses_points_that_do_not_match_the_model() -> None:
    with pytest.raises(Exception, match=r"expected points \[N, 5, 2\]"):
        solve_head_pose(np.zeros((1, 6, 2)), MODEL_POINTS_5, 64)
    with pytest.raises(ValueError, match=r"MTCNN points \[N, 5, 2\]"):
        estimate_head_pose_5(np.zeros((1, 68, 2)), 64)
    nan_row, flags = estimate_head_pose_5(np.full((1, 5, 2), np.nan), 64)
    assert np.isnan(nan_row).all() and flags == [""]


def test_a_profile_is_flagged_and_its_pose_left_out() -> None:
    frontal = project((0.0, 0.0, 0.0), 128, 8.0)
    assert profile_flag(frontal) == ""
    squeezed = frontal.copy()
    squeezed[1, 0] = squeezed[0, 0] + 0.4 * (squeezed[1, 0] - squeezed[0, 0])  # eyes 0.4 as far
    assert "profile: eye distance" in profile_flag(squeezed)
    angles, flags = estimate_head_pose_5(np.stack([frontal, squeezed]), 128)
    assert np.isfinite(angles).all()  # the fit itself runs; the flag says it is not to be used
    kept = usable_pose(angles, flags)
    assert np.isfinite(kept[0]).all() and np.isnan(kept[1]).all()
    assert MIN_EYE_MOUTH_ASPECT < 0.6


def renders(resolution: int, scenes: list[Scene], seed: int = 700):
    renderer = Renderer(resolution, supersample=2)
    out = [renderer.render(Identity.from_seed(seed + i), s) for i, s in enumerate(scenes)]
    return np.stack([r.image for r in out]), np.stack([r.landmarks for r in out])


NEAR_FRONTAL = [
    Scene(yaw=y, pitch=p, roll=r) for y, p, r in ((0, 0, 0), (-12, 5, 3), (10, -8, -5), (5, 10, 8))
]


@pytest.mark.parametrize("resolution", [64, 128])
def test_the_five_points_are_found_near_the_renderers_exact_landmarks(face, resolution) -> None:
    images, landmarks = renders(resolution, NEAR_FRONTAL)
    points, found = face.landmarks(images)
    assert found.all()
    exact = exact_five(landmarks)
    eye_corners = np.linalg.norm(landmarks[:, 36] - landmarks[:, 45], axis=1)
    error = np.linalg.norm(points - exact, axis=2) / eye_corners[:, None]
    # measured: 0.05-0.07 of the outer eye-corner distance per point, on 64 and 128 px renders
    assert error.mean() < 0.1 and error.max() < 0.2, error.round(3)


def test_a_blank_image_is_a_counted_miss(face) -> None:
    images, _ = renders(64, NEAR_FRONTAL[:1])
    batch = np.concatenate([images, np.zeros_like(images)])
    points, found = face.landmarks(batch)
    assert found.tolist() == [True, False]
    assert np.isfinite(points[0]).all() and np.isnan(points[1]).all()
    angles, ok, flags = MtcnnHeadPose(face).estimate(batch)
    assert ok.tolist() == [True, False] and np.isnan(angles[1]).all() and len(flags) == 2


def test_head_pose_on_renders_with_exact_angles(face) -> None:
    cases = [(-30.0, 0.0, 0.0), (0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (0.0, 0.0, 15.0)]
    images, _ = renders(128, [Scene(yaw=y, pitch=p, roll=r) for y, p, r in cases])
    angles, ok, _ = MtcnnHeadPose(face).estimate(images)
    assert ok.all()
    truth = np.array(cases)
    assert np.abs(angles[:, 0] - truth[:, 0]).max() < 10.0
    assert np.abs(angles[:, 2] - truth[:, 2]).max() < 5.0
    assert angles[0, 0] < -15.0 < 15.0 < angles[2, 0]  # the sign of yaw


def test_the_validation_benchmark_runs_the_mtcnn_evaluator(tmp_path) -> None:
    root = tmp_path / "aflw"
    validate_head_pose.main(["--write-aflw2000-like", str(root), "--n", "6", "--max-yaw", "90"])
    results = validate_head_pose.main(
        ["--dataset", "aflw2000", "--root", str(root), "--evaluators", "mtcnn5-pnp"]
    )
    rows = results["mtcnn5-pnp"]
    assert {"0-30", "30-60", "60-90", "all"} <= set(rows)
    assert rows["all"]["n"] == 6 and rows["all"]["detected"] >= 3
    assert rows["all"]["labelled"] + rows["all"]["flagged"] == rows["all"]["detected"]
