"""Linear probes that read pose or identity out of a learnt code (pure numpy/sklearn).

``pose_probe`` regresses (yaw, pitch, roll) from a code on a split that is disjoint in
identities, so a code that merely memorises each identity's typical pose gains nothing;
``identity_probe`` classifies identity from a code on a split within identities. Applied to
an identity code and a pose code they measure leakage in both directions: pose from the
identity code should be near R² = 0, identity from the pose code near chance. These are
linear probes (Alain & Bengio 2016, arXiv 1610.01644); predicting a factor from the code
meant to exclude it is the leakage test of Mathieu et al. 2016 (arXiv 1611.03383) and
Hadad et al. 2018 ("A Two-Step Disentanglement Method", CVPR).
"""

from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.metrics.pose import POSE_ANGLE_NAMES, angular_difference_degrees
from bench.metrics.similarity import as_numpy_embeddings

if TYPE_CHECKING:
    import torch

RIDGE_ALPHAS = np.logspace(-3, 3, 13)  # chosen per angle by efficient leave-one-out (GCV)
LOGISTIC_MAX_ITER = 2000


def _check_test_fraction(test_fraction: float) -> None:
    """Raise unless 0 < test_fraction < 1."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}.")


def _check_labels(labels: np.ndarray, n_rows: int, argument: str) -> np.ndarray:
    """Return labels [N] as a numpy array, raising if it is not 1-D with one label per code row."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ValueError(
            f"{argument} must be a 1-D array with one label per code row ({n_rows}), got shape "
            f"{labels.shape}."
        )
    return labels


def pose_probe(
    codes: "np.ndarray | torch.Tensor",
    angles: np.ndarray,
    groups: np.ndarray,
    seed: int = 0,
    test_fraction: float = 0.3,
) -> dict[str, float | int]:
    """Ridge probe from codes [N,d] to (yaw, pitch, roll) in degrees, tested on unseen identities.

    Inputs are standardised on the training split; RidgeCV picks one alpha per angle from
    ``RIDGE_ALPHAS``. The split is ``GroupShuffleSplit`` over ``groups`` (identity ids), so no
    identity is in both train and test; ``test_fraction`` is the fraction of identities held
    out. Returns ``r2_<angle>`` (coefficient of determination on the test split; negative
    when worse than predicting the training mean, NaN for an angle constant on the test
    split), ``r2_mean`` (mean over the defined angles), ``mae_<angle>`` and ``mae_mean`` (mean
    absolute error in degrees, each difference wrapped into [0, 180] as in
    ``pose_error_degrees``), ``n_train`` and ``n_test``.
    """
    codes = as_numpy_embeddings(codes, "codes")
    angles = np.asarray(angles, dtype=np.float64)
    if angles.ndim != 2 or angles.shape != (codes.shape[0], 3):
        raise ValueError(
            f"pose_probe expects angles of shape [N,3] (yaw, pitch, roll in degrees) with N = "
            f"{codes.shape[0]} code rows, got {angles.shape}."
        )
    if not np.all(np.isfinite(angles)):
        raise ValueError("angles contains NaN or infinite values.")
    groups = _check_labels(groups, codes.shape[0], "groups")
    _check_test_fraction(test_fraction)
    if np.unique(groups).size < 2:
        raise ValueError(
            "pose_probe needs at least 2 distinct identities in groups to hold some out."
        )

    splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
    train, test = next(splitter.split(codes, angles, groups))
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True))
    model.fit(codes[train], angles[train])
    predicted = model.predict(codes[test])

    r2 = r2_score(angles[test], predicted, multioutput="raw_values")
    r2 = np.where(np.ptp(angles[test], axis=0) > 0, r2, np.nan)
    mae = angular_difference_degrees(predicted, angles[test]).mean(axis=0)
    result: dict[str, float | int] = {}
    for index, name in enumerate(POSE_ANGLE_NAMES):
        result[f"r2_{name}"] = float(r2[index])
    result["r2_mean"] = float(np.nanmean(r2)) if np.any(np.isfinite(r2)) else float("nan")
    for index, name in enumerate(POSE_ANGLE_NAMES):
        result[f"mae_{name}"] = float(mae[index])
    result["mae_mean"] = float(mae.mean())
    result["n_train"] = int(train.size)
    result["n_test"] = int(test.size)
    return result


def split_within_identities(
    identities: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices with every identity in both (needs >= 2 rows per identity).

    Each identity contributes round(test_fraction * n_i) rows to the test split, clamped to
    [1, n_i - 1]; rows are drawn with ``np.random.default_rng(seed)``.
    """
    _check_test_fraction(test_fraction)
    identities = np.asarray(identities)
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for identity in np.unique(identities):
        rows = rng.permutation(np.flatnonzero(identities == identity))
        if rows.size < 2:
            raise ValueError(
                f"identity {identity!r} has {rows.size} row; a within-identity split needs >= 2."
            )
        n_test = min(max(1, round(test_fraction * rows.size)), rows.size - 1)
        test_parts.append(rows[:n_test])
        train_parts.append(rows[n_test:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))


def identity_probe(
    codes: "np.ndarray | torch.Tensor",
    identities: np.ndarray,
    seed: int = 0,
    test_fraction: float = 0.3,
) -> dict[str, float | int]:
    """Multinomial logistic regression from codes [N,d] to identity, tested on held-out images.

    Inputs are standardised on the training split (L2 penalty C = 1, lbfgs). Identities with
    fewer than 2 images cannot be in both splits; they are dropped and counted
    (``n_dropped_identities``, ``n_dropped_images``). The rest are split by
    ``split_within_identities``. Returns ``accuracy`` on the test split, ``chance`` (1 /
    ``n_classes``; the split is near-stratified, so this is also about the majority rate),
    ``n_train``, ``n_test`` and ``n_classes``.
    """
    codes = as_numpy_embeddings(codes, "codes")
    identities = _check_labels(identities, codes.shape[0], "identities")
    _check_test_fraction(test_fraction)
    values, inverse, counts = np.unique(identities, return_inverse=True, return_counts=True)
    keep = counts[inverse] >= 2
    n_classes = int(np.sum(counts >= 2))
    if n_classes < 2:
        raise ValueError(
            f"identity_probe needs at least 2 identities with >= 2 images each, got {n_classes} "
            f"(of {values.size} identities)."
        )
    kept_codes, kept_identities = codes[keep], identities[keep]
    train, test = split_within_identities(kept_identities, test_fraction, seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=LOGISTIC_MAX_ITER))
    model.fit(kept_codes[train], kept_identities[train])
    accuracy = float(np.mean(model.predict(kept_codes[test]) == kept_identities[test]))
    return {
        "accuracy": accuracy,
        "chance": 1.0 / n_classes,
        "n_train": int(train.size),
        "n_test": int(test.size),
        "n_classes": n_classes,
        "n_dropped_identities": int(values.size - n_classes),
        "n_dropped_images": int(np.sum(~keep)),
    }
