"""MIG, DCI and SAP on analytic representations of known factors (as disentanglement_lib tests)."""

import numpy as np
import pytest

from bench.metrics.disentanglement import (
    dci,
    dci_completeness_from_importance,
    dci_disentanglement_from_importance,
    histogram_discretize,
    mig,
    sap,
)

N_ROWS = 2000
FACTOR_VALUES = (5, 8, 10)
DISCRETE = np.ones(len(FACTOR_VALUES), dtype=bool)
# Each code dimension is the sum of two factors and each factor feeds two dimensions.
PAIR_SUM_MIXING = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, n, N_ROWS) for n in FACTOR_VALUES], axis=1)


def standardised(factors: np.ndarray) -> np.ndarray:
    return (factors - factors.mean(axis=0)) / factors.std(axis=0)


def representations(factors: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    return {
        "identity": factors + rng.normal(0.0, 0.01, factors.shape),
        "constant": np.zeros(factors.shape),
        "duplicated": np.hstack([factors, factors]).astype(float),
        "pair_sum": standardised(factors) @ PAIR_SUM_MIXING,
        "rotation": standardised(factors) @ rotation,
        "noise": rng.normal(size=factors.shape),
    }


@pytest.fixture(scope="module")
def scores(factors: np.ndarray) -> dict[str, dict]:
    """Every metric on every analytic representation, computed once for the module."""
    result = {}
    for name, codes in representations(factors).items():
        result[name] = {
            **mig(codes, factors, DISCRETE),
            **dci(codes, factors, DISCRETE),
            **sap(codes, factors, DISCRETE),
        }
    return result


def test_identity_representation_scores_near_one(scores: dict) -> None:
    identity = scores["identity"]
    assert 0.9 < identity["mig"] <= 1.0
    assert identity["dci_disentanglement"] > 0.9
    assert identity["dci_completeness"] > 0.9
    assert identity["dci_informativeness"] > 0.95
    np.testing.assert_array_less(0.9, identity["mig_per_factor"])


def test_constant_representation_scores_zero(scores: dict) -> None:
    constant = scores["constant"]
    assert constant["mig"] == pytest.approx(0.0, abs=1e-12)
    assert constant["dci_disentanglement"] == pytest.approx(0.0, abs=1e-6)
    assert constant["dci_completeness"] == pytest.approx(0.0, abs=1e-6)
    assert constant["sap"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(constant["dci_importance"], 0.0)


def test_noise_representation_scores_near_zero(scores: dict) -> None:
    noise = scores["noise"]
    assert noise["mig"] < 0.05
    assert noise["dci_informativeness"] < 0.3
    assert noise["sap"] < 0.05


def test_duplicated_representation_has_no_gap_and_low_completeness(scores: dict) -> None:
    duplicated = scores["duplicated"]
    assert duplicated["mig"] == pytest.approx(0.0, abs=1e-12)
    assert duplicated["sap"] == pytest.approx(0.0, abs=1e-12)
    assert duplicated["dci_disentanglement"] > 0.9
    # importance split evenly over 2 of 6 codes: 1 - log(2)/log(6), as disentanglement_lib
    assert duplicated["dci_completeness"] == pytest.approx(1 - np.log(2) / np.log(6), abs=0.1)


@pytest.mark.parametrize("mixed", ["pair_sum", "rotation"])
def test_mixed_factors_score_below_identity(scores: dict, mixed: str) -> None:
    for key in ("mig", "dci_disentanglement", "dci_completeness"):
        assert scores[mixed][key] < scores["identity"][key] - 0.3, key
    # mixing is invertible: the factors are still fully predictable from the code
    assert scores[mixed]["dci_informativeness"] > 0.8


def test_pair_sum_mixing_has_no_sap_gap(scores: dict) -> None:
    assert scores["pair_sum"]["sap"] < 0.05
    assert scores["identity"]["sap"] > scores["pair_sum"]["sap"] + 0.08


def test_sap_of_identity_is_one_for_continuous_factors() -> None:
    rng = np.random.default_rng(2)
    factors = rng.uniform(-1.0, 1.0, (1000, 3))
    continuous = np.zeros(3, dtype=bool)
    assert sap(factors, factors, continuous)["sap"] > 0.99
    assert sap(factors @ PAIR_SUM_MIXING, factors, continuous)["sap"] < 0.1


def test_sap_of_identity_is_one_half_for_binary_factors() -> None:
    # a perfect dimension scores accuracy 1, every other one chance (1/2): gap 1/2
    rng = np.random.default_rng(3)
    factors = rng.integers(0, 2, (1000, 3))
    assert sap(factors.astype(float), factors, DISCRETE)["sap"] == pytest.approx(0.5, abs=0.05)


def test_continuous_factors_are_binned_for_mig_and_dci() -> None:
    rng = np.random.default_rng(4)
    factors = rng.uniform(-1.0, 1.0, (1000, 2))
    continuous = np.zeros(2, dtype=bool)
    codes = np.hstack([factors, rng.normal(size=(1000, 1))])
    assert mig(codes, factors, continuous)["mig"] > 0.9
    result = dci(codes, factors, continuous)
    assert result["dci_disentanglement"] > 0.8
    assert result["dci_informativeness"] > 0.8


def test_dci_from_importance_matches_analytic_values() -> None:
    diagonal = np.diag(np.full(5, 5.0))
    assert dci_disentanglement_from_importance(diagonal)[0] == pytest.approx(1.0)
    assert dci_completeness_from_importance(diagonal)[0] == pytest.approx(1.0)
    one_code_two_factors = np.hstack([diagonal, diagonal])
    assert dci_disentanglement_from_importance(one_code_two_factors)[0] == pytest.approx(
        1 - np.log(2) / np.log(10)
    )
    assert dci_completeness_from_importance(one_code_two_factors)[0] == pytest.approx(1.0)
    unused_code = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert dci_disentanglement_from_importance(unused_code)[0] == pytest.approx(1.0)
    assert dci_completeness_from_importance(unused_code)[0] == pytest.approx(1.0)
    zeros = np.zeros((4, 3))
    assert dci_disentanglement_from_importance(zeros)[0] == pytest.approx(0.0, abs=1e-7)
    assert dci_completeness_from_importance(zeros)[0] == pytest.approx(0.0, abs=1e-7)


def test_histogram_discretize_uses_equal_width_bins() -> None:
    np.testing.assert_array_equal(
        histogram_discretize(np.array([0.0, 0.49, 0.51, 1.0]), n_bins=2), [0, 0, 1, 1]
    )
    # ten evenly spaced values keep ten distinct bins out of 20; a constant input one bin
    assert np.unique(histogram_discretize(np.arange(10.0), n_bins=20)).size == 10
    assert np.unique(histogram_discretize(np.full(5, 3.0))).size == 1


def test_metrics_are_deterministic_given_seed(factors: np.ndarray) -> None:
    codes = standardised(factors) @ PAIR_SUM_MIXING
    for metric, key in ((dci, "dci_disentanglement"), (sap, "sap")):
        assert (
            metric(codes, factors, DISCRETE, seed=7)[key]
            == metric(codes, factors, DISCRETE, seed=7)[key]
        )


@pytest.mark.parametrize("metric", [mig, dci, sap])
def test_metrics_reject_bad_shapes(metric, factors: np.ndarray) -> None:
    codes = factors.astype(float)
    with pytest.raises(ValueError, match=r"factors must have shape \[N,K\]"):
        metric(codes, factors[:-1], DISCRETE)
    with pytest.raises(ValueError, match="codes"):
        metric(codes[:, 0], factors, DISCRETE)
    with pytest.raises(ValueError, match="discrete must be a bool array"):
        metric(codes, factors, DISCRETE[:2])
    with pytest.raises(ValueError, match="discrete must be a bool array"):
        metric(codes, factors, np.ones(3))
    with pytest.raises(ValueError, match="constant"):
        metric(codes, np.hstack([factors, np.zeros((N_ROWS, 1))]), np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        metric(np.full(codes.shape, np.nan), factors, DISCRETE)


@pytest.mark.parametrize("metric", [mig, sap])
def test_gap_metrics_need_two_code_dimensions(metric, factors: np.ndarray) -> None:
    with pytest.raises(ValueError, match="at least 2 code dimensions"):
        metric(factors[:, :1].astype(float), factors, DISCRETE)
