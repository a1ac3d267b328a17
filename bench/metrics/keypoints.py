"""AKD, AED and MKR (Siarohin et al. 2019, FOMM): keypoint and identity-embedding distances
with missing faces counted, and the missing keypoint rate.

Both take per-image ``found`` masks from a detector. Only pairs where every needed face was found
enter the mean (``n_used``); the rest are reported as ``missing_rate``, the fraction of the N pairs
that could not be scored, so a method whose outputs are not even detected as faces cannot look
better by dropping them. With no usable pair the distance is NaN.
"""

from __future__ import annotations

import numpy as np


def _mask(found: np.ndarray, n: int, argument: str) -> np.ndarray:
    """A boolean mask of length ``n``."""
    found = np.asarray(found)
    if found.shape != (n,):
        raise ValueError(
            f"{argument} must be a boolean mask [N] with N={n}, got shape {found.shape}"
        )
    return found.astype(bool)


def _summary(name: str, per_pair: np.ndarray, used: np.ndarray) -> dict[str, float | int]:
    """Mean over the used pairs, their count and the missing rate."""
    n = len(used)
    n_used = int(used.sum())
    value = float(per_pair[used].mean()) if n_used else float("nan")
    return {
        name: value,
        "n_used": n_used,
        "missing_rate": float(1.0 - n_used / n) if n else float("nan"),
    }


def keypoint_distances(
    pred: np.ndarray, target: np.ndarray, pred_found: np.ndarray, target_found: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, the mean pixel distance between corresponding keypoints ``[N, K, 2]``
    (0 where a face is missing) and the mask of pairs where both were found."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.ndim != 3 or pred.shape[-1] != 2 or pred.shape != target.shape:
        raise ValueError(
            f"pred and target must both be keypoints [N, K, 2], got {pred.shape} and {target.shape}"
        )
    n = len(pred)
    used = _mask(pred_found, n, "pred_found") & _mask(target_found, n, "target_found")
    if not (np.isfinite(pred[used]).all() and np.isfinite(target[used]).all()):
        raise ValueError("a keypoint row marked found contains NaN; pass the detector's found mask")
    per_pair = np.zeros(n)
    per_pair[used] = np.linalg.norm(pred[used] - target[used], axis=-1).mean(axis=1)
    return per_pair, used


def average_keypoint_distance(
    pred: np.ndarray, target: np.ndarray, pred_found: np.ndarray, target_found: np.ndarray
) -> dict[str, float | int]:
    """AKD: mean pixel distance between corresponding keypoints ``[N, K, 2]``, over pairs where both were found."""
    return _summary("akd", *keypoint_distances(pred, target, pred_found, target_found))


def embedding_distances(
    emb_pred: np.ndarray, emb_target: np.ndarray, found_mask: np.ndarray
) -> np.ndarray:
    """Per pair, the L2 distance between identity embeddings ``[N, D]`` (0 outside ``found_mask``)."""
    emb_pred = np.asarray(emb_pred, dtype=np.float64)
    emb_target = np.asarray(emb_target, dtype=np.float64)
    if emb_pred.ndim != 2 or emb_pred.shape != emb_target.shape:
        raise ValueError(
            f"emb_pred and emb_target must both be embeddings [N, D], got {emb_pred.shape} and {emb_target.shape}"
        )
    used = _mask(found_mask, len(emb_pred), "found_mask")
    if not (np.isfinite(emb_pred[used]).all() and np.isfinite(emb_target[used]).all()):
        raise ValueError(
            "an embedding row marked found contains NaN; pass pred_found & target_found"
        )
    per_pair = np.zeros(len(emb_pred))
    per_pair[used] = np.linalg.norm(emb_pred[used] - emb_target[used], axis=1)
    return per_pair


def average_euclidean_distance(
    emb_pred: np.ndarray, emb_target: np.ndarray, found_mask: np.ndarray
) -> dict[str, float | int]:
    """AED (``aed_id``: of identities, FOMM's meaning): mean L2 distance between identity embeddings ``[N, D]`` over pairs in ``found_mask`` (pass pred_found & target_found)."""
    used = _mask(found_mask, len(np.asarray(emb_pred)), "found_mask")
    return _summary("aed_id", embedding_distances(emb_pred, emb_target, found_mask), used)


def missing_keypoint_rate(pred_found: np.ndarray, target_found: np.ndarray) -> np.ndarray:
    """MKR per pair whose target has a face: 1 where the output has none, else 0 (its mean
    is the share of outputs in which the landmark detector lost a face the target has)."""
    target = _mask(target_found, len(np.asarray(target_found)), "target_found")
    pred = _mask(pred_found, len(target), "pred_found")
    return (~pred[target]).astype(np.float64)
