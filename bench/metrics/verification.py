"""Face verification over embedding pairs under the LFW 10-fold protocol (pure numpy).

For each fold k, the distance threshold is chosen on the other folds only and applied to fold
k; a pair is predicted "same" when its distance is strictly below the threshold. Candidate
thresholds are exact (every midpoint between consecutive distinct training distances, plus
one threshold below and one above all of them), not a fixed grid as in facenet/insightface.
"""

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from bench.metrics.similarity import as_numpy_embeddings, cosine_similarity

if TYPE_CHECKING:
    import torch

DISTANCE_METRICS = ("cosine", "sql2")


def pair_distances(
    embeddings1: "np.ndarray | torch.Tensor",
    embeddings2: "np.ndarray | torch.Tensor",
    metric: str = "cosine",
) -> np.ndarray:
    """Distance [N] between row i of ``embeddings1`` and row i of ``embeddings2`` (float64).

    "cosine": 1 - cosine similarity (rows are L2-normalised; range [0, 2]).
    "sql2": squared Euclidean distance of the embeddings AS GIVEN, not normalised; for
    L2-normalised inputs it equals 2 - 2 cos (facenet's distance_metric=0). Normalise
    beforehand if the recognizer's protocol expects it.
    """
    if metric not in DISTANCE_METRICS:
        raise ValueError(f"Unknown distance metric {metric!r}; use one of {DISTANCE_METRICS}.")
    if metric == "cosine":
        return 1.0 - cosine_similarity(embeddings1, embeddings2)
    embeddings1 = as_numpy_embeddings(embeddings1, "embeddings1")
    embeddings2 = as_numpy_embeddings(embeddings2, "embeddings2")
    if embeddings1.shape != embeddings2.shape:
        raise ValueError(
            f"pair_distances needs embeddings of the same shape, got {embeddings1.shape} and "
            f"{embeddings2.shape}; row i of each must belong to pair i."
        )
    return np.sum((embeddings1 - embeddings2) ** 2, axis=1)


@dataclass
class VerificationResult:
    """Scores of the LFW-style 10-fold verification protocol, with their resolution."""

    accuracy: float  # mean of the fold accuracies
    accuracy_sem: float  # LFW standard error: sample std (ddof=1) / sqrt(n_folds)
    fold_accuracies: np.ndarray  # [n_folds], accuracy on each held-out fold
    thresholds: np.ndarray  # [n_folds], distance threshold learnt on the other folds
    auc: float  # ROC AUC over all pairs, score = -distance
    eer: float  # equal error rate over all pairs (FAR = FRR on the interpolated ROC)
    tar_at_far: float  # mean test-fold TAR at the training threshold with FAR <= far_target
    far_target: float
    far_resolution: float  # 1 / fewest negatives in a test fold; LFW: 1/300 > 1e-3
    far_achieved: float  # mean over folds of the test FAR at those thresholds
    n_pairs: int
    n_folds: int

    def as_dict(self) -> dict[str, float | int | list[float]]:
        """Plain-Python dict (arrays as lists) ready for JSON."""
        result = asdict(self)
        for key, value in result.items():
            if isinstance(value, np.ndarray):
                result[key] = value.astype(float).tolist()
            elif isinstance(value, float | np.floating):
                result[key] = float(value)
        return result


@dataclass(frozen=True)
class _ThresholdSweep:
    """Exact candidate thresholds of training pairs, with accept counts for ``distance < t``."""

    thresholds: np.ndarray  # ascending
    true_accepts: np.ndarray  # matched pairs below each threshold
    false_accepts: np.ndarray  # mismatched pairs below each threshold
    n_same: int
    n_different: int

    @classmethod
    def from_training(cls, distances: np.ndarray, same: np.ndarray) -> "_ThresholdSweep":
        """Candidates: below all, midpoints of consecutive distinct distances, above all."""
        unique, inverse = np.unique(distances, return_inverse=True)
        same_per_value = np.bincount(inverse, weights=same, minlength=unique.size)
        different_per_value = np.bincount(inverse, weights=~same, minlength=unique.size)
        midpoints = (unique[:-1] + unique[1:]) / 2
        # Two adjacent floats can have a midpoint that rounds down onto the lower one.
        midpoints = np.where(midpoints > unique[:-1], midpoints, unique[1:])
        thresholds = np.concatenate(([unique[0]], midpoints, [np.nextafter(unique[-1], np.inf)]))
        zero = np.zeros(1)
        return cls(
            thresholds=thresholds,
            true_accepts=np.concatenate((zero, np.cumsum(same_per_value))),
            false_accepts=np.concatenate((zero, np.cumsum(different_per_value))),
            n_same=int(same.sum()),
            n_different=int((~same).sum()),
        )

    def best_accuracy_threshold(self) -> float:
        """Threshold with the highest training accuracy (the smallest one on ties)."""
        correct = self.true_accepts + (self.n_different - self.false_accepts)
        return float(self.thresholds[np.argmax(correct)])

    def largest_threshold_with_far_at_most(self, far_target: float) -> float:
        """Largest candidate threshold whose training FAR is <= ``far_target``."""
        allowed = self.false_accepts / self.n_different <= far_target
        return float(self.thresholds[np.flatnonzero(allowed)[-1]])


def evaluate_verification(
    distances: np.ndarray, same: np.ndarray, folds: np.ndarray, far_target: float = 1e-3
) -> VerificationResult:
    """Run the LFW 10-fold protocol on pair distances (smaller = more alike).

    Per fold k: the best-accuracy threshold on the other folds gives the fold-k accuracy, and
    the largest training threshold with FAR <= ``far_target`` gives the fold-k TAR and FAR.
    AUC and EER use all pairs at once (score = -distance). The reported error is the LFW
    standard error of the mean, not facenet's ``np.std``.
    """
    distances, same, folds = _validate_inputs(distances, same, folds, far_target)
    n_folds = int(folds.max()) + 1
    fold_accuracies = np.empty(n_folds)
    thresholds = np.empty(n_folds)
    true_accept_rates = np.empty(n_folds)
    false_accept_rates = np.empty(n_folds)
    for fold in range(n_folds):
        test = folds == fold
        sweep = _ThresholdSweep.from_training(distances[~test], same[~test])
        thresholds[fold] = sweep.best_accuracy_threshold()
        fold_accuracies[fold] = np.mean((distances[test] < thresholds[fold]) == same[test])
        far_threshold = sweep.largest_threshold_with_far_at_most(far_target)
        accepted = distances[test] < far_threshold
        true_accept_rates[fold] = accepted[same[test]].mean()
        false_accept_rates[fold] = accepted[~same[test]].mean()
    negatives_per_fold = np.bincount(folds[~same], minlength=n_folds)
    return VerificationResult(
        accuracy=float(fold_accuracies.mean()),
        accuracy_sem=float(fold_accuracies.std(ddof=1) / np.sqrt(n_folds)),
        fold_accuracies=fold_accuracies,
        thresholds=thresholds,
        auc=float(roc_auc_score(same, -distances)),
        eer=equal_error_rate(same, -distances),
        tar_at_far=float(true_accept_rates.mean()),
        far_target=float(far_target),
        far_resolution=float(1.0 / negatives_per_fold.min()),
        far_achieved=float(false_accept_rates.mean()),
        n_pairs=int(distances.size),
        n_folds=n_folds,
    )


def equal_error_rate(same: np.ndarray, scores: np.ndarray) -> float:
    """EER: the rate where FAR equals FRR on the linearly interpolated ROC (higher score = same)."""
    false_accept_rate, true_accept_rate, _ = roc_curve(same, scores)
    gap = false_accept_rate - (1.0 - true_accept_rate)  # non-decreasing from -1 to 1
    crossing = int(np.argmax(gap >= 0))
    if gap[crossing] == 0 or crossing == 0:
        return float(false_accept_rate[crossing])
    fraction = -gap[crossing - 1] / (gap[crossing] - gap[crossing - 1])
    lower, upper = false_accept_rate[crossing - 1], false_accept_rate[crossing]
    return float(lower + fraction * (upper - lower))


def _validate_inputs(
    distances: np.ndarray, same: np.ndarray, folds: np.ndarray, far_target: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and convert the protocol inputs; raise ValueError saying what to fix."""
    distances = np.asarray(distances, dtype=np.float64)
    same_array = np.asarray(same)
    folds_array = np.asarray(folds)
    for argument, array in (("distances", distances), ("same", same_array), ("folds", folds_array)):
        if array.ndim != 1:
            raise ValueError(
                f"evaluate_verification expects 1-D {argument}, got shape {array.shape}."
            )
    if not distances.size == same_array.size == folds_array.size:
        raise ValueError(
            f"evaluate_verification needs one distance, label and fold per pair, got "
            f"{distances.size}, {same_array.size} and {folds_array.size}."
        )
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances contain NaN or infinite values; check the embeddings.")
    if same_array.dtype != bool:
        if not np.all(np.isin(same_array, (0, 1))):
            raise ValueError("same must be booleans (or 0/1): True for a matched pair.")
        same_array = same_array.astype(bool)
    if not np.issubdtype(folds_array.dtype, np.integer):
        if not np.all(np.mod(folds_array, 1) == 0):
            raise ValueError("folds must be integer fold indices 0..n_folds-1.")
        folds_array = folds_array.astype(np.int64)
    if not 0 < far_target < 1:
        raise ValueError(f"far_target must lie in (0, 1), got {far_target}.")
    if folds_array.size == 0 or folds_array.min() < 0:
        raise ValueError("folds must be non-empty integer indices 0..n_folds-1 (no negatives).")
    n_folds = int(folds_array.max()) + 1
    pairs_per_fold = np.bincount(folds_array, minlength=n_folds)
    same_per_fold = np.bincount(folds_array[same_array], minlength=n_folds)
    if n_folds < 2:
        raise ValueError("evaluate_verification needs at least 2 folds (LFW View 2 has 10).")
    for fold in range(n_folds):
        if pairs_per_fold[fold] == 0:
            raise ValueError(
                f"fold {fold} has no pairs; folds must be numbered 0..{n_folds - 1} without gaps."
            )
        if same_per_fold[fold] in (0, pairs_per_fold[fold]):
            raise ValueError(
                f"fold {fold} holds only {'matched' if same_per_fold[fold] else 'mismatched'} "
                "pairs; every fold needs both matched and mismatched pairs."
            )
    return distances, same_array, folds_array
