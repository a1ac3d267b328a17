"""Row-wise cosine similarity of embeddings (CSIM when they come from a face recognizer)."""

import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

_NORM_EPSILON = 1e-12


def as_numpy_embeddings(embeddings: "np.ndarray | torch.Tensor", argument: str) -> np.ndarray:
    """Return embeddings [N,D] as a float64 numpy array, accepting numpy arrays or torch tensors."""
    torch_module = sys.modules.get("torch")  # no torch import: a tensor implies torch is loaded
    if torch_module is not None and isinstance(embeddings, torch_module.Tensor):
        embeddings = embeddings.detach().cpu().numpy()
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(
            f"{argument} must be a 2-D array of embeddings [N,D], got shape {embeddings.shape}; "
            "use .reshape(1, -1) for a single embedding."
        )
    if not np.all(np.isfinite(embeddings)):
        raise ValueError(
            f"{argument} contains NaN or infinite values; check the recognizer output."
        )
    return embeddings


def l2_normalize_rows(embeddings: np.ndarray) -> np.ndarray:
    """Divide each row by its L2 norm; all-zero rows stay zero instead of becoming NaN."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.maximum(norms, _NORM_EPSILON)


def cosine_similarity(a: "np.ndarray | torch.Tensor", b: "np.ndarray | torch.Tensor") -> np.ndarray:
    """Cosine similarity [N] of row i of ``a`` with row i of ``b`` (embeddings [N,D]), in float64.

    A zero vector has similarity 0 with anything (as in sklearn), never NaN.
    """
    a = as_numpy_embeddings(a, "a")
    b = as_numpy_embeddings(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"cosine_similarity needs embeddings of the same shape, got {a.shape} and {b.shape}; "
            "pair row i of a with row i of b and use one recognizer for both."
        )
    return np.einsum("nd,nd->n", l2_normalize_rows(a), l2_normalize_rows(b))
