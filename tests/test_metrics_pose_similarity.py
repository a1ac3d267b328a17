"""Pose error in degrees and row-wise cosine similarity (CSIM)."""

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity as sklearn_cosine_similarity

from bench.metrics.pose import pose_error_degrees
from bench.metrics.similarity import cosine_similarity


def test_pose_error_matches_hand_computed_values() -> None:
    predicted = np.array([[10.0, -5.0, 0.0], [0.0, 0.0, 0.0], [30.0, 20.0, -10.0]])
    target = np.array([[12.0, -5.0, 3.0], [0.0, 0.0, 0.0], [-30.0, 25.0, 10.0]])
    errors = pose_error_degrees(predicted, target)
    np.testing.assert_allclose(errors["yaw"], [2.0, 0.0, 60.0])
    np.testing.assert_allclose(errors["pitch"], [0.0, 0.0, 5.0])
    np.testing.assert_allclose(errors["roll"], [3.0, 0.0, 20.0])
    np.testing.assert_allclose(errors["mean"], [5.0 / 3.0, 0.0, 85.0 / 3.0])


def test_pose_error_wraps_around_180_degrees() -> None:
    predicted = np.array([[179.0, -179.0, 350.0], [180.0, 0.0, -90.0]])
    target = np.array([[-179.0, 179.0, -10.0], [0.0, 360.0, 90.0]])
    errors = pose_error_degrees(predicted, target)
    np.testing.assert_allclose(errors["yaw"], [2.0, 180.0])
    np.testing.assert_allclose(errors["pitch"], [2.0, 0.0])
    np.testing.assert_allclose(errors["roll"], [0.0, 180.0])
    for values in errors.values():
        assert np.all((values >= 0) & (values <= 180))


def test_pose_error_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        pose_error_degrees(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\[N,3\]"):
        pose_error_degrees(np.zeros((4, 2)), np.zeros((4, 2)))


def test_cosine_similarity_equals_sklearn_diagonal() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 128)), rng.normal(size=(50, 128))
    expected = np.diag(sklearn_cosine_similarity(a, b))
    np.testing.assert_allclose(cosine_similarity(a, b), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        cosine_similarity(torch.from_numpy(a).float(), torch.from_numpy(b).float()),
        expected,
        atol=1e-6,
    )


def test_cosine_similarity_of_zero_vectors_is_zero_not_nan() -> None:
    a = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    b = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    similarity = cosine_similarity(a, b)
    np.testing.assert_array_equal(similarity, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(similarity, np.diag(sklearn_cosine_similarity(a, b)))


def test_cosine_similarity_of_identical_and_opposite_rows() -> None:
    a = np.array([[3.0, 4.0], [1.0, -1.0]])
    np.testing.assert_allclose(cosine_similarity(a, a), [1.0, 1.0])
    np.testing.assert_allclose(cosine_similarity(a, -a), [-1.0, -1.0])


def test_cosine_similarity_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same shape"):
        cosine_similarity(np.ones((3, 4)), np.ones((3, 5)))
