"""LFW 10-fold verification: thresholds learnt on training folds, exact against brute force."""

import json

import numpy as np
import pytest
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve
from sklearn.metrics.pairwise import cosine_distances

from bench.metrics.verification import evaluate_verification, pair_distances

N_FOLDS = 10


def lfw_layout(n_per_set: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and folds in LFW file order: per fold n matched then n mismatched pairs."""
    same = np.tile(np.repeat([True, False], n_per_set), N_FOLDS)
    folds = np.repeat(np.arange(N_FOLDS), 2 * n_per_set)
    return same, folds


def exact_candidate_thresholds(training_distances: np.ndarray) -> np.ndarray:
    """Below all, every midpoint of consecutive distinct values, above all (the documented rule)."""
    values = np.unique(training_distances)
    return np.concatenate(
        ([values[0]], (values[:-1] + values[1:]) / 2, [np.nextafter(values[-1], np.inf)])
    )


def brute_force_protocol(
    distances: np.ndarray, same: np.ndarray, folds: np.ndarray, far_target: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain re-computation with sklearn, one threshold at a time: accuracies, thresholds, TARs."""
    accuracies, thresholds, true_accept_rates = [], [], []
    for fold in range(N_FOLDS):
        train, test = folds != fold, folds == fold
        candidates = exact_candidate_thresholds(distances[train])
        train_accuracies = [accuracy_score(same[train], distances[train] < t) for t in candidates]
        best = candidates[int(np.argmax(train_accuracies))]
        thresholds.append(best)
        accuracies.append(accuracy_score(same[test], distances[test] < best))
        negatives = distances[train & ~same]
        far_ok = [t for t in candidates if np.mean(negatives < t) <= far_target]
        true_accept_rates.append(np.mean(distances[test & same] < max(far_ok)))
    return np.array(accuracies), np.array(thresholds), np.array(true_accept_rates)


def test_verification_is_perfect_when_matched_pairs_have_identical_embeddings() -> None:
    rng = np.random.default_rng(0)
    same, folds = lfw_layout(30)
    embeddings1 = rng.normal(size=(same.size, 64))
    embeddings2 = np.where(same[:, None], embeddings1, rng.normal(size=(same.size, 64)))
    for metric in ("cosine", "sql2"):
        result = evaluate_verification(
            pair_distances(embeddings1, embeddings2, metric), same, folds
        )
        assert result.accuracy == 1.0
        np.testing.assert_array_equal(result.fold_accuracies, np.ones(N_FOLDS))
        assert result.accuracy_sem == 0.0
        assert result.auc == 1.0 and result.eer == 0.0 and result.tar_at_far == 1.0


def test_verification_is_chance_for_random_embeddings() -> None:
    rng = np.random.default_rng(1)
    same, folds = lfw_layout(300)
    distances = pair_distances(rng.normal(size=(6000, 128)), rng.normal(size=(6000, 128)))
    result = evaluate_verification(distances, same, folds)
    assert abs(result.accuracy - 0.5) < 0.05
    assert abs(result.auc - 0.5) < 0.05 and abs(result.eer - 0.5) < 0.05
    assert result.n_pairs == 6000 and result.n_folds == N_FOLDS
    assert result.far_resolution == pytest.approx(1 / 300)
    summary = json.loads(json.dumps(result.as_dict()))
    assert summary["accuracy"] == result.accuracy and len(summary["fold_accuracies"]) == N_FOLDS


@pytest.mark.parametrize("decimals", [None, 2])  # 2 decimals: many tied distances
def test_verification_equals_brute_force_with_sklearn(decimals: int | None) -> None:
    rng = np.random.default_rng(2)
    same, folds = lfw_layout(20)
    distances = rng.normal(loc=np.where(same, 0.8, 1.2), scale=0.3)
    if decimals is not None:
        distances = np.round(distances, decimals)
    far_target = 0.05
    result = evaluate_verification(distances, same, folds, far_target=far_target)
    accuracies, thresholds, true_accept_rates = brute_force_protocol(
        distances, same, folds, far_target
    )
    np.testing.assert_allclose(result.fold_accuracies, accuracies, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.thresholds, thresholds, rtol=0, atol=1e-12)
    assert result.accuracy == pytest.approx(accuracies.mean(), abs=1e-12)
    assert result.tar_at_far == pytest.approx(true_accept_rates.mean(), abs=1e-12)
    assert 0.6 < result.accuracy < 0.9, "the case should be neither trivial nor chance"


def test_learnt_threshold_maximises_training_accuracy_over_every_possible_cut() -> None:
    rng = np.random.default_rng(3)
    same, folds = lfw_layout(20)
    distances = rng.normal(loc=np.where(same, 0.0, 0.7), scale=0.5)
    result = evaluate_verification(distances, same, folds)
    for fold in range(N_FOLDS):
        train = folds != fold
        cuts = np.concatenate((distances[train], distances[train] + 1e-9, [np.inf]))
        predictions = distances[train][None, :] < cuts[:, None]
        best_possible = np.max(np.mean(predictions == same[train][None, :], axis=1))
        chosen = accuracy_score(same[train], distances[train] < result.thresholds[fold])
        assert chosen == pytest.approx(best_possible, abs=1e-12)


def test_auc_and_eer_equal_sklearn_and_facenet_style_computation() -> None:
    rng = np.random.default_rng(4)
    same, folds = lfw_layout(50)
    distances = rng.normal(loc=np.where(same, 0.0, 1.0), scale=0.8)
    result = evaluate_verification(distances, same, folds)
    assert result.auc == pytest.approx(roc_auc_score(same, -distances), abs=1e-12)
    false_accept_rate, true_accept_rate, _ = roc_curve(same, -distances)
    eer = brentq(lambda x: 1.0 - x - interp1d(false_accept_rate, true_accept_rate)(x), 0.0, 1.0)
    assert result.eer == pytest.approx(eer, abs=1e-9)
    assert 0.2 < result.eer < 0.4


def test_accuracy_error_is_the_lfw_standard_error_not_the_std() -> None:
    rng = np.random.default_rng(5)
    same, folds = lfw_layout(30)
    distances = rng.normal(loc=np.where(same, 0.0, 1.0), scale=0.7)
    result = evaluate_verification(distances, same, folds)
    fold_accuracies = result.fold_accuracies
    assert fold_accuracies.std() > 0
    expected = np.sqrt(
        np.sum((fold_accuracies - fold_accuracies.mean()) ** 2) / (N_FOLDS - 1) / N_FOLDS
    )
    assert result.accuracy_sem == pytest.approx(expected, abs=1e-15)
    assert result.accuracy_sem != pytest.approx(fold_accuracies.std(), rel=1e-3)


def test_threshold_is_learnt_on_training_folds_only() -> None:
    """Fold 0 is shifted: its matched pairs lie where the other folds' mismatched pairs are.

    Training without fold 0 gives threshold 0.3; training with fold 0 (85 matched at 0.5 against
    8 x 10 mismatched at 0.4) gives 0.6. Using the test fold too would give one threshold (0.3)
    for all folds and accuracy 0.95; tuning on the test fold alone would give 1.0.
    """
    distances, same, folds = [], [], []
    for fold in range(N_FOLDS):
        if fold == 0:
            block = [(0.5, True)] * 85 + [(0.7, False)] * 85
        else:
            block = [(0.2, True)] * 10 + [(0.4, False)] * 10
        distances += [distance for distance, _ in block]
        same += [is_same for _, is_same in block]
        folds += [fold] * len(block)
    result = evaluate_verification(np.array(distances), np.array(same), np.array(folds))
    np.testing.assert_allclose(result.thresholds, [0.3] + [0.6] * 9, atol=1e-12)
    np.testing.assert_allclose(result.fold_accuracies, [0.5] * N_FOLDS, atol=1e-12)
    assert result.accuracy == pytest.approx(0.5)


def test_tar_at_far_uses_the_largest_training_threshold_within_the_far_target() -> None:
    same, folds = lfw_layout(100)
    distances = np.zeros(same.size)
    distances[same] = 0.5
    distances[~same] = np.tile(np.linspace(0.1, 1.0, 100), N_FOLDS)  # 100 negatives per fold
    # FAR <= 4.5% admits the 4 nearest negatives (0.100 ... 0.127), so the cut lies below 0.5.
    result = evaluate_verification(distances, same, folds, far_target=0.045)
    assert result.tar_at_far == 0.0 and result.far_achieved == pytest.approx(0.04, abs=1e-12)
    # FAR <= 50% admits the 50 nearest negatives (up to 0.545), so the 0.5 positives pass.
    result = evaluate_verification(distances, same, folds, far_target=0.5)
    assert result.tar_at_far == 1.0 and result.far_achieved == pytest.approx(0.5, abs=1e-12)
    assert result.far_resolution == pytest.approx(0.01)


def test_pair_distances_cosine_and_unnormalised_squared_l2() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    np.testing.assert_allclose(pair_distances(a, b), np.diag(cosine_distances(a, b)), atol=1e-12)
    np.testing.assert_allclose(pair_distances(a, b, "sql2"), ((a - b) ** 2).sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(
        pair_distances(3 * a, 3 * b, "sql2"), 9 * pair_distances(a, b, "sql2")
    )
    unit_a = a / np.linalg.norm(a, axis=1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    np.testing.assert_allclose(
        pair_distances(unit_a, unit_b, "sql2"), 2 * pair_distances(a, b), atol=1e-12
    )


def test_unknown_metric_and_malformed_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"use one of \('cosine', 'sql2'\)"):
        pair_distances(np.ones((2, 3)), np.ones((2, 3)), "euclidean")
    same, folds = lfw_layout(5)
    distances = np.linspace(0, 1, same.size)
    with pytest.raises(ValueError, match="one distance, label and fold per pair"):
        evaluate_verification(distances[:-1], same, folds)
    with pytest.raises(ValueError, match="without gaps"):
        evaluate_verification(distances, same, np.where(folds == 3, 10, folds))
    with pytest.raises(ValueError, match="fold 2 holds only matched"):
        evaluate_verification(distances, np.where(folds == 2, True, same), folds)
    with pytest.raises(ValueError, match="booleans"):
        evaluate_verification(distances, same.astype(int) * 2, folds)
    with pytest.raises(ValueError, match="NaN"):
        evaluate_verification(np.where(folds == 1, np.nan, distances), same, folds)


def test_accuracy_by_yaw_gap_equals_a_direct_computation_with_fold_thresholds() -> None:
    from bench.protocols.representation import accuracy_by_yaw_gap

    rng = np.random.default_rng(7)
    same, folds = lfw_layout(40)
    distances = rng.normal(loc=np.where(same, 0.8, 1.2), scale=0.3)
    gap = rng.uniform(0, 150, size=same.size)
    gap[:3] = [0.0, 30.0, 60.0]  # bin edges: upper bounds belong to the lower bin
    accuracies, thresholds, _ = brute_force_protocol(distances, same, folds, 0.05)
    result = evaluate_verification(distances, same, folds)
    np.testing.assert_allclose(result.thresholds, thresholds, atol=1e-12)
    bins = accuracy_by_yaw_gap(distances, same, folds, result.thresholds, gap)
    edges = [(0.0, 30.0), (30.0, 60.0), (60.0, np.inf)]
    assert [b["label"] for b in bins] == ["0-30", "30-60", ">60"]
    for found, (low, high) in zip(bins, edges, strict=True):
        inside = (gap <= high) & ((gap > low) if low > 0 else True)
        predicted = distances[inside] < thresholds[folds[inside]]
        assert found["n"] == inside.sum() and found["n_matched"] == (inside & same).sum()
        assert found["accuracy"] == pytest.approx(accuracy_score(same[inside], predicted))
        matched = same[inside]
        assert found["matched_accuracy"] == pytest.approx(predicted[matched].mean())
        assert found["mismatched_accuracy"] == pytest.approx((~predicted[~matched]).mean())
    assert sum(b["n"] for b in bins) == same.size
    # The bins split the protocol's own decisions: their pair-weighted mean is its accuracy.
    weighted = sum(b["accuracy"] * b["n"] for b in bins) / same.size
    assert weighted == pytest.approx(np.mean(accuracies), abs=1e-12)  # equal-sized folds
