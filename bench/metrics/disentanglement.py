"""Disentanglement scores of a code against exact ground-truth factors: MIG, DCI and SAP.

Every metric has one signature, ``(codes [N,d], factors [N,K], discrete [K] bool, seed=0,
...) -> dict``, and follows the definitions of disentanglement_lib (Locatello et al. 2019,
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled
Representations", ICML; ``evaluation/metrics/{mig,dci,sap_score}.py``). Differences from
disentanglement_lib, which samples fresh training and test sets from a simulator and whose
factors are all discrete:

- the given rows are split at random into train and test (``test_fraction``, ``seed``);
  MIG uses all rows;
- a continuous factor (``discrete[k]`` False) is binned into ``n_bins`` equal-width bins
  for MIG and DCI, with the same histogram discretiser as the codes;
- SAP standardises each code dimension (training mean and std) before the LinearSVC, so the
  score does not depend on the scale of the code; a continuous factor scores the squared
  correlation on the training split, as disentanglement_lib with continuous_factors=True.
"""

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

from bench.metrics.similarity import as_numpy_embeddings

if TYPE_CHECKING:
    import torch

HISTOGRAM_BINS = 20  # disentanglement_lib's discretizer.num_bins for MIG
SAP_SVM_C = 0.01  # disentanglement_lib's LinearSVC(C=0.01, class_weight="balanced")
DCI_N_ESTIMATORS = 20  # disentanglement_lib uses sklearn's default, 100; fewer for speed
_ENTROPY_EPSILON = 1e-11  # keeps entropies of all-zero importance rows finite


def histogram_discretize(values: np.ndarray, n_bins: int = HISTOGRAM_BINS) -> np.ndarray:
    """Index 0..n_bins-1 of each value among n_bins equal-width bins over its range.

    disentanglement_lib's ``_histogram_discretize`` (numpy.histogram edges), shifted to start
    at 0; a constant input falls into a single bin.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"histogram_discretize expects a 1-D array, got shape {values.shape}.")
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}.")
    edges = np.histogram_bin_edges(values, bins=n_bins)
    return np.digitize(values, edges[1:-1])


def _check_inputs(
    codes: "np.ndarray | torch.Tensor", factors: np.ndarray, discrete: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate shapes and return codes [N,d] float64, factors [N,K] and discrete [K] bool."""
    codes = as_numpy_embeddings(codes, "codes")
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[0] != codes.shape[0]:
        raise ValueError(
            f"factors must have shape [N,K] with N = {codes.shape[0]} code rows, got "
            f"{factors.shape}; one column per ground-truth factor."
        )
    if factors.shape[1] < 1:
        raise ValueError("factors has no columns; pass at least one ground-truth factor.")
    discrete = np.asarray(discrete)
    if discrete.dtype != bool or discrete.shape != (factors.shape[1],):
        raise ValueError(
            f"discrete must be a bool array of shape [K] = ({factors.shape[1]},), one flag per "
            f"factor column, got dtype {discrete.dtype} and shape {discrete.shape}."
        )
    if not discrete.all() and not np.all(np.isfinite(factors[:, ~discrete].astype(float))):
        raise ValueError("continuous factors contain NaN or infinite values.")
    for k in range(factors.shape[1]):
        if np.unique(factors[:, k]).size < 2:
            raise ValueError(
                f"factor column {k} is constant; a constant factor has no information to "
                "disentangle, drop it."
            )
    return codes, factors, discrete


def factor_labels(
    factors: np.ndarray, discrete: np.ndarray, n_bins: int = HISTOGRAM_BINS
) -> np.ndarray:
    """Integer class labels [N,K]: discrete factors re-indexed, continuous ones binned."""
    labels = np.empty(factors.shape, dtype=np.int64)
    for k in range(factors.shape[1]):
        if discrete[k]:
            labels[:, k] = np.unique(factors[:, k], return_inverse=True)[1]
        else:
            labels[:, k] = histogram_discretize(factors[:, k].astype(np.float64), n_bins)
    return labels


def _random_split(n_rows: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random train and test row indices, both non-empty."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}.")
    n_test = round(test_fraction * n_rows)
    if n_test < 1 or n_test > n_rows - 1:
        raise ValueError(
            f"{n_rows} rows with test_fraction={test_fraction} leave an empty train or test "
            "split; pass more rows."
        )
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _check_training_labels(train_labels: np.ndarray) -> None:
    """Raise if a factor takes a single value on the training split (nothing to fit)."""
    for k in range(train_labels.shape[1]):
        if np.unique(train_labels[:, k]).size < 2:
            raise ValueError(
                f"factor column {k} takes a single value on the training split; pass more rows."
            )


def _top_two_gap(scores: np.ndarray) -> np.ndarray:
    """Per column of scores [d,K]: the largest entry minus the second largest."""
    if scores.shape[0] < 2:
        raise ValueError(f"a top-two gap needs at least 2 code dimensions, got {scores.shape[0]}.")
    ordered = np.sort(scores, axis=0)
    return ordered[-1] - ordered[-2]


def mig(
    codes: "np.ndarray | torch.Tensor",
    factors: np.ndarray,
    discrete: np.ndarray,
    seed: int = 0,
    n_bins: int = HISTOGRAM_BINS,
) -> dict[str, float | np.ndarray]:
    """Mutual Information Gap (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs").

    Each code dimension is binned by ``histogram_discretize``; I(z_j; v_k) is
    ``sklearn.metrics.mutual_info_score`` (nats) and is normalised by H(v_k). Per factor the
    gap between the two most informative dimensions is averaged over factors (the
    "discrete_mig" of disentanglement_lib). ``seed`` is unused: MIG is deterministic.
    Returns ``mig``, ``mig_per_factor`` [K], ``mutual_information`` [d,K], ``factor_entropy``
    [K].
    """
    del seed  # kept for the shared signature
    codes, factors, discrete = _check_inputs(codes, factors, discrete)
    labels = factor_labels(factors, discrete, n_bins)
    binned_codes = [histogram_discretize(codes[:, j], n_bins) for j in range(codes.shape[1])]
    information = np.array(
        [
            [mutual_info_score(labels[:, k], code) for k in range(labels.shape[1])]
            for code in binned_codes
        ]
    )
    factor_entropy = np.array([mutual_info_score(column, column) for column in labels.T])
    per_factor = _top_two_gap(information) / factor_entropy
    return {
        "mig": float(per_factor.mean()),
        "mig_per_factor": per_factor,
        "mutual_information": information,
        "factor_entropy": factor_entropy,
    }


def _weighted_one_minus_entropy(importance: np.ndarray) -> tuple[float, np.ndarray]:
    """Per row of ``importance`` [rows, columns], 1 - entropy (base columns) of its
    normalised importance over the columns, and their mean weighted by each row's share of
    the total importance (uniform weights when all importances are 0): D over codes x
    factors, C over the transpose."""
    n_columns = importance.shape[1]
    per_row = (
        1.0 - entropy(importance.T + _ENTROPY_EPSILON, base=n_columns)
        if n_columns > 1
        else np.ones(importance.shape[0])
    )
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    row_weight = weights.sum(axis=1) / weights.sum()
    return float(np.sum(per_row * row_weight)), per_row


def dci_disentanglement_from_importance(importance: np.ndarray) -> tuple[float, np.ndarray]:
    """Disentanglement D (Eastwood & Williams 2018) of importance [d,K]: score, per-code D [d].

    Per code, 1 - entropy (base K) of its normalised importance over factors; weighted by
    each code's share of the total importance (uniform weights when all importances are 0).
    """
    return _weighted_one_minus_entropy(np.asarray(importance, dtype=np.float64))


def dci_completeness_from_importance(importance: np.ndarray) -> tuple[float, np.ndarray]:
    """Completeness C (Eastwood & Williams 2018) of importance [d,K]: score, per-factor C [K].

    Per factor, 1 - entropy (base d) of its normalised importance over codes; weighted by
    each factor's share of the total importance (uniform weights when all importances are 0).
    """
    return _weighted_one_minus_entropy(np.asarray(importance, dtype=np.float64).T)


def dci(
    codes: "np.ndarray | torch.Tensor",
    factors: np.ndarray,
    discrete: np.ndarray,
    seed: int = 0,
    test_fraction: float = 0.3,
    n_bins: int = HISTOGRAM_BINS,
    n_estimators: int = DCI_N_ESTIMATORS,
) -> dict[str, float | np.ndarray]:
    """DCI: disentanglement, completeness, informativeness (Eastwood & Williams 2018, ICLR).

    As disentanglement_lib: one ``GradientBoostingClassifier`` per factor (continuous factors
    binned first) on the training split; the importance matrix [d,K] holds the absolute
    feature importances; informativeness is the mean test accuracy over factors (higher is
    better, unlike the paper's prediction error). Returns ``dci_disentanglement``,
    ``dci_completeness``, ``dci_informativeness``, ``dci_informativeness_train``,
    ``dci_importance`` [d,K], ``dci_disentanglement_per_code`` [d],
    ``dci_completeness_per_factor`` [K], ``dci_informativeness_per_factor`` [K].
    """
    codes, factors, discrete = _check_inputs(codes, factors, discrete)
    labels = factor_labels(factors, discrete, n_bins)
    train, test = _random_split(codes.shape[0], test_fraction, seed)
    importance = np.zeros((codes.shape[1], labels.shape[1]))
    train_accuracy = np.zeros(labels.shape[1])
    test_accuracy = np.zeros(labels.shape[1])
    _check_training_labels(labels[train])
    for k in range(labels.shape[1]):
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=seed)
        model.fit(codes[train], labels[train, k])
        importance[:, k] = np.abs(model.feature_importances_)
        train_accuracy[k] = np.mean(model.predict(codes[train]) == labels[train, k])
        test_accuracy[k] = np.mean(model.predict(codes[test]) == labels[test, k])
    disentanglement, per_code = dci_disentanglement_from_importance(importance)
    completeness, per_factor = dci_completeness_from_importance(importance)
    return {
        "dci_disentanglement": disentanglement,
        "dci_completeness": completeness,
        "dci_informativeness": float(test_accuracy.mean()),
        "dci_informativeness_train": float(train_accuracy.mean()),
        "dci_importance": importance,
        "dci_disentanglement_per_code": per_code,
        "dci_completeness_per_factor": per_factor,
        "dci_informativeness_per_factor": test_accuracy,
    }


def _standardise_columns(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-score both arrays with the training mean and std; constant columns become 0."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 1e-12, std, np.inf)
    return (train - mean) / std, (test - mean) / std


def sap(
    codes: "np.ndarray | torch.Tensor",
    factors: np.ndarray,
    discrete: np.ndarray,
    seed: int = 0,
    test_fraction: float = 0.3,
    svm_c: float = SAP_SVM_C,
) -> dict[str, float | np.ndarray]:
    """Separated Attribute Predictability (Kumar et al. 2018, DIP-VAE, ICLR, Sec. 3).

    Score matrix [d,K]: for a discrete factor, the test accuracy of a ``LinearSVC(C=svm_c,
    class_weight="balanced")`` on the single standardised code dimension; for a continuous
    factor, the squared Pearson correlation on the training split (R² of a 1-d least-squares
    fit; 0 for a constant dimension). SAP is the gap between the top two dimensions, averaged
    over factors. Returns ``sap``, ``sap_per_factor`` [K], ``sap_score_matrix`` [d,K].
    """
    codes, factors, discrete = _check_inputs(codes, factors, discrete)
    labels = factor_labels(factors, discrete)
    train, test = _random_split(codes.shape[0], test_fraction, seed)
    _check_training_labels(labels[train])
    codes_train, codes_test = _standardise_columns(codes[train], codes[test])
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        if discrete[k]:
            for j in range(codes.shape[1]):
                classifier = LinearSVC(C=svm_c, class_weight="balanced", random_state=seed)
                classifier.fit(codes_train[:, [j]], labels[train, k])
                predicted = classifier.predict(codes_test[:, [j]])
                scores[j, k] = np.mean(predicted == labels[test, k])
        else:
            target = factors[train, k].astype(np.float64)
            target = (target - target.mean()) / target.std()
            # standardised columns: the correlation is the mean product (0 for constant codes)
            scores[:, k] = (codes_train.T @ target / train.size) ** 2
    per_factor = _top_two_gap(scores)
    return {
        "sap": float(per_factor.mean()),
        "sap_per_factor": per_factor,
        "sap_score_matrix": scores,
    }
