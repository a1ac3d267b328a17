"""FID and KID: pure functions over feature arrays (Inception pool3 features, N x 2048).

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to two feature
sets, ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``. KID (Binkowski et al. 2018) is
the unbiased MMD^2 with the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged
over random subsets, as torch-fidelity computes it. FID is biased for small N and is only
comparable at equal N; below ``SMALL_SAMPLE`` images it is labelled "small-sample".
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: Fewest images for a conventional FID (pytorch-fid: "use at least 2048", the feature size).
SMALL_SAMPLE = 2048
KID_DEGREE = 3
KID_COEF0 = 1.0


def fid_label(n: int) -> str:
    """'small-sample' when an FID rests on fewer than ``SMALL_SAMPLE`` images, else 'standard'."""
    return "small-sample" if n < SMALL_SAMPLE else "standard"


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and sample covariance [D, D] (float64, ``np.cov(rowvar=False)``) of features [N, D]."""
    features = _as_feature_matrix(features, "features")
    if features.shape[0] < 2:
        raise ValueError(
            f"feature_statistics needs at least 2 feature rows for a covariance, got "
            f"{features.shape[0]}; pass more images."
        )
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); the FID on Inception features.

    The trace term Tr((S1 S2)^(1/2)) is the sum of the principal square roots of the
    eigenvalues of S1 S2 (``np.linalg.eigvals``), the approach of torch-fidelity PR #50,
    instead of ``scipy.linalg.sqrtm(S1 S2, disp=False)`` as pytorch-fid does: SciPy
    deprecated ``disp`` and removes it in 1.18, and sqrtm of the near-singular products that
    small samples give returns NaN or large imaginary parts (pytorch-fid #100, #103). S1 S2
    is similar to the PSD matrix S1^(1/2) S2 S1^(1/2), so its eigenvalues are real and
    non-negative up to rounding; the real part of the complex square root clips negative
    rounding noise at 0 and equals the trace of sqrtm's principal root.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    dims = mu1.shape[0]
    if mu1.shape != (dims,) or mu2.shape != (dims,):
        raise ValueError(
            f"frechet_distance needs two mean vectors of the same length, got {mu1.shape} and "
            f"{mu2.shape}; use features from the same extractor and layer."
        )
    if sigma1.shape != (dims, dims) or sigma2.shape != (dims, dims):
        raise ValueError(
            f"frechet_distance needs {dims}x{dims} covariances to match the means, got "
            f"{sigma1.shape} and {sigma2.shape}; use features from the same extractor and layer."
        )
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(value).all():
            raise ValueError(
                f"frechet_distance got non-finite values in {name}; check the features "
                "(NaN images or a broken extractor)."
            )
    eigenvalues = np.linalg.eigvals(sigma1 @ sigma2)
    trace_sqrt_product = float(np.sqrt(eigenvalues.astype(np.complex128)).real.sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product)


def kid(
    features1: np.ndarray,
    features2: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID: mean and std (over ``subsets``) of the unbiased polynomial-kernel MMD^2.

    As torch-fidelity (``metric_kid.py``) and Binkowski et al. (2018), Eq. (4) with
    k(x, y) = (x.y / d + 1)^3: each subset draws ``subset_size`` rows of each set without
    replacement. ``subset_size`` is capped at min(N1, N2) (logged), so small sets still get
    a score; the estimate is unbiased, so it can be slightly negative for equal distributions.
    KID(X, X) is about -2/N (k(x, x) - k(x, x')) rather than 0: the two subsets share rows.
    """
    features1 = _as_feature_matrix(features1, "features1")
    features2 = _as_feature_matrix(features2, "features2")
    if features1.shape[1] != features2.shape[1]:
        raise ValueError(
            f"kid needs features of the same width, got {features1.shape[1]} and "
            f"{features2.shape[1]}; use features from the same extractor and layer."
        )
    if subsets < 1:
        raise ValueError(f"kid needs subsets >= 1, got {subsets}.")
    size = min(subset_size, features1.shape[0], features2.shape[0])
    if size < 2:
        raise ValueError(
            f"kid needs at least 2 rows per subset, got subset_size={subset_size} with "
            f"{features1.shape[0]} and {features2.shape[0]} feature rows; pass more images."
        )
    if size < subset_size:
        log.info("kid: subset_size %d capped at %d (the smaller set's size)", subset_size, size)
    rng = np.random.default_rng(seed)
    estimates = np.empty(subsets, dtype=np.float64)
    for i in range(subsets):
        x = features1[rng.choice(features1.shape[0], size, replace=False)]
        y = features2[rng.choice(features2.shape[0], size, replace=False)]
        estimates[i] = _polynomial_mmd2_unbiased(x, y)
    return float(estimates.mean()), float(estimates.std())


def _polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples under k(x, y) = (x.y / d + 1)^3."""
    m, dims = x.shape

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        base = a @ b.T / dims + KID_COEF0
        out = base.copy()
        for _ in range(KID_DEGREE - 1):  # integer power by products: 5x faster than **
            out *= base
        return out

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def _as_feature_matrix(features: np.ndarray, name: str) -> np.ndarray:
    """Features as a finite float64 matrix [N, D], or a ValueError saying what was wrong."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"{name} must be a feature matrix [N, D], got shape {features.shape}; "
            "flatten per-image features to one row each."
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or infinite values; check the extractor's input.")
    return features
