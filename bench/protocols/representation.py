"""Protocol 2, representation: a method's codes of the test images on the pairs protocol.

``encode`` stores every code a method provides for every test image
(``codes.npz``, index order). ``score_representation`` runs LFW-protocol verification
(10 folds in file order, threshold chosen on 9) on the identity code, and on every
other code as a leakage check (near 50% when identity does not leak into it), under
cosine and squared-L2 distances, on each pairs file of the dataset: ``pairs.txt``, whose
matched pairs cross scenes (clips, sessions) where the dataset knows them, and its
same-scene twin (a diagnostic), with the accuracy per yaw gap between a pair's images.
``scene_reference_rows`` scores the exact scene factors of each test image as a code through
the same function: what the scene alone verifies. It also draws the t-SNE figures.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.data.dataset import FaceData, to_float_images
from bench.data.pairs import pair_image_path, read_pairs
from bench.errors import DataError
from bench.methods.api import Method
from bench.metrics.specs import VERIFICATION_KEYS, spec_of
from bench.metrics.verification import evaluate_verification, pair_distances
from bench.protocols.results import load_arrays, save_arrays
from bench.score import Score

log = logging.getLogger(__name__)

PROTOCOL = "representation"
DISTANCES = ("cosine", "sql2")
#: What a pairs file's matched pairs are: across scene groups, inside one, or not known
#: (a dataset without scene groups, such as LFW's own pairs.txt used as given).
PAIRS_KINDS = ("cross_scene", "same_scene", "scene_unchecked")
#: |yaw1 - yaw2| bins (degrees, upper bound included): (metric suffix, label, low, high).
YAW_GAP_BINS = (
    ("0_30", "0-30", 0.0, 30.0),
    ("30_60", "30-60", 30.0, 60.0),
    ("over_60", ">60", 60.0, float("inf")),
)
#: SynthFaces' exact scene factors: light, ambient, background and expression strengths.
SCENE_FACTORS = (
    "light_azimuth",
    "light_elevation",
    "ambient",
    "bg_r",
    "bg_g",
    "bg_b",
    "mouth_open",
    "smile",
    "brow_raise",
    "eye_close",
)
#: The method label of the scene-only reference rows (one per dataset, not a method).
SCENE_REFERENCE = "scene only (exact factors)"


@dataclass(frozen=True)
class PairsFile:
    """One pairs file of a dataset: its kind (:data:`PAIRS_KINDS`) and path, or why it is absent."""

    kind: str
    path: Path | None
    reason: str | None = None
    #: Test identities whose images all lie in one scene group (``meta.json``'s count):
    #: they give no matched pair to a cross-scene file.
    identities_without_cross_scene_pair: int | None = None

    @property
    def label(self) -> str:
        """The kind as written in metric names: ``cross-scene``, ``same-scene``, ..."""
        return self.kind.replace("_", "-")


def pairs_files(data_dir: Path, meta: dict[str, Any]) -> list[PairsFile]:
    """``pairs.txt`` and its same-scene twin, as ``meta.json``'s ``pairs`` entry describes them.

    A dataset without that entry (no scene groups known) has ``pairs.txt`` as
    ``scene_unchecked`` and no same-scene file.
    """
    data_dir = Path(data_dir)
    entry = meta.get("pairs") or {}
    if not entry.get("cross_scene"):
        reason = (
            f"{meta.get('dataset', data_dir.name)}'s meta.json records no scene groups, so "
            "pairs.txt is not known to cross scenes and there is no same-scene pairs file"
        )
        return [
            PairsFile("scene_unchecked", data_dir / "pairs.txt"),
            PairsFile("same_scene", None, reason),
        ]
    same = entry.get("same_scene_pairs_file")
    return [
        PairsFile(
            "cross_scene",
            data_dir / "pairs.txt",
            identities_without_cross_scene_pair=entry.get("identities_without_cross_scene_pair"),
        ),
        PairsFile("same_scene", data_dir / same)
        if same
        else PairsFile(
            "same_scene", None, f"no same-scene pairs file: {entry.get('same_scene_unavailable')}"
        ),
    ]


def encode(method: Method, test: FaceData, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Every code of every test image: ``{"identity": [N, d], "pose": [N, d'], ...}``."""
    images = to_float_images(test.images)
    chunks: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            codes = method.encode(images[start : start + batch_size].to(method.device))
            for name, code in codes.items():
                chunks.setdefault(name, []).append(code.float().flatten(1).cpu().numpy())
    return {name: np.concatenate(parts).astype(np.float64) for name, parts in chunks.items()}


def save_codes(path: Path, codes: dict[str, np.ndarray], test: FaceData) -> None:
    save_arrays(path, paths=test.index["path"].to_numpy(str), **codes)


def load_codes(path: Path, test: FaceData) -> dict[str, np.ndarray]:
    """Codes in the test split's index order (checked against the stored paths)."""
    codes = load_arrays(path, "encode")
    paths = codes.pop("paths").astype(str)
    if not np.array_equal(paths, test.index["path"].to_numpy(str)):
        raise DataError(f"{path}: codes were computed for another test split; re-run encode")
    return codes


def pair_rows(
    test: FaceData | pd.DataFrame, pairs_path: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row numbers of both images of every pair, same-person flags and folds.

    ``test``: the test split, or its index table. A pair whose image is missing is an error,
    never skipped: skipping shifts the folds.
    """
    index = test if isinstance(test, pd.DataFrame) else test.index
    row_of = {p: i for i, p in enumerate(index["path"])}
    pairs = read_pairs(pairs_path)
    rows = np.empty((len(pairs), 2), np.int64)
    for number, pair in enumerate(pairs):
        for side, (name, image) in enumerate(
            ((pair.name1, pair.number1), (pair.name2, pair.number2))
        ):
            path = f"images/{pair_image_path(name, image)}"
            if path not in row_of:
                raise DataError(
                    f"{pairs_path}: line {pair.line}: image {path} is not in the test split"
                )
            rows[number, side] = row_of[path]
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    return rows[:, 0], rows[:, 1], same, folds


def accuracy_by_yaw_gap(
    distances: np.ndarray,
    same: np.ndarray,
    folds: np.ndarray,
    thresholds: np.ndarray,
    yaw_gap: np.ndarray,
) -> list[dict[str, Any]]:
    """Accuracy per :data:`YAW_GAP_BINS` bin, each pair judged by its fold's threshold.

    ``thresholds[k]`` is the one the 10-fold protocol chose on the other folds for fold k
    (``VerificationResult.thresholds``), so the bins split the protocol's own decisions.
    Per bin: accuracy over its pairs, over its matched pairs (accepted) and its mismatched
    pairs (rejected), and the counts; NaN where a bin holds no such pair.
    """
    correct = (distances < thresholds[folds]) == same
    out = []
    for suffix, label, low, high in YAW_GAP_BINS:
        inside = (yaw_gap > low) & (yaw_gap <= high) if low > 0 else (yaw_gap <= high)
        matched, mismatched = inside & same, inside & ~same
        out.append(
            {
                "bin": suffix,
                "label": label,
                "n": int(inside.sum()),
                "n_matched": int(matched.sum()),
                "n_mismatched": int(mismatched.sum()),
                "accuracy": float(correct[inside].mean()) if inside.any() else float("nan"),
                "matched_accuracy": float(correct[matched].mean())
                if matched.any()
                else float("nan"),
                "mismatched_accuracy": float(correct[mismatched].mean())
                if mismatched.any()
                else float("nan"),
            }
        )
    return out


def verification_rows(
    codes: dict[str, np.ndarray],
    index: pd.DataFrame,
    pairs: Sequence[PairsFile],
    reference: bool = False,
) -> list[Score]:
    """LFW-protocol rows of every code on every pairs file, with accuracy per yaw gap.

    ``index``: the test split's index (row order of the codes). Protocol
    ``representation/identity`` for the identity code, ``representation/leakage`` for any
    other, ``representation/reference`` for every code when ``reference``. Metric names end
    in ``[<code>-code/<distance>/<pairs kind>]`` and each row carries ``code``,
    ``distance`` and ``pairs``. A pairs file the dataset lacks gives n/a rows with the reason.
    """
    order = sorted(codes, key=lambda c: (c != "identity", c))
    yaw = pd.to_numeric(index["yaw"], errors="coerce").to_numpy(float)
    yaw_source = ",".join(sorted(index["pose_source"].astype(str).unique()))
    rows: list[Score] = []
    for pairs_file in pairs:
        if pairs_file.path is None:
            for code in order:
                for distance in DISTANCES:
                    rows.append(
                        _verification_score(
                            code, distance, pairs_file, "accuracy", reference,
                            float("nan"), 0, na_reason=pairs_file.reason,
                        )
                    )  # fmt: skip
            continue
        first, second, same, folds = pair_rows(index, pairs_file.path)
        gap = np.abs(yaw[first] - yaw[second])
        for code in order:
            for distance in DISTANCES:
                distances = pair_distances(codes[code][first], codes[code][second], distance)
                result = evaluate_verification(distances, same, folds)
                stats = result.as_dict()
                for key, _ in VERIFICATION_KEYS:
                    is_accuracy = key == "accuracy"
                    rows.append(
                        _verification_score(
                            code, distance, pairs_file, key, reference,
                            float(stats[key]), int(stats["n_pairs"]),
                            spread="standard error over the 10 folds (LFW)" if is_accuracy else "none",
                            sem=float(stats["accuracy_sem"]) if is_accuracy else None,
                            far_target=float(stats["far_target"]),
                            far_resolution=float(stats["far_resolution"]),
                        )
                    )  # fmt: skip
                rows += _yaw_gap_rows(
                    code,
                    distance,
                    pairs_file,
                    reference,
                    result.thresholds,
                    (distances, same, folds, gap),
                    yaw_source,
                )
    return rows


def _verification_score(
    code: str,
    distance: str,
    pairs_file: PairsFile,
    key: str,
    reference: bool,
    value: float,
    n: int,
    spread: str = "none",
    na_reason: str | None = None,
    **extra: Any,
) -> Score:
    """A verification row of one (code, distance, pairs file): its metric ``verification_<key>``
    and the fields every such row carries (``code``, ``distance``, ``pairs``, ...)."""
    role = "reference" if reference else ("identity" if code == "identity" else "leakage")
    fields = {
        "qualifier": f"{code}-code/{distance}/{pairs_file.label}",
        "spread": spread,
        "evaluator_floor": None,
        "protocol": PROTOCOL,
        "kind": role,
        "k": 1,
        "extra": {
            "code": code,
            "distance": distance,
            "pairs": pairs_file.kind,
            "pairs_file": pairs_file.path.name if pairs_file.path is not None else None,
            "identities_without_cross_scene_pair": pairs_file.identities_without_cross_scene_pair,
            **extra,
        },
    }
    spec = spec_of(f"verification_{key}")
    if na_reason is not None:
        return Score.unavailable(spec, na_reason, n, **fields)
    return Score.measured(spec, value, n, **fields)


def _yaw_gap_rows(
    code: str,
    distance: str,
    pairs_file: PairsFile,
    reference: bool,
    thresholds: np.ndarray,
    protocol_inputs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    yaw_source: str,
) -> list[Score]:
    """One row per yaw-gap bin: the protocol's accuracy on the pairs of that bin."""
    distances, same, folds, gap = protocol_inputs
    reason = None
    if not np.isfinite(gap).all():
        reason = "index.csv has no yaw for some images of the pairs"
    rows = []
    bins = (
        accuracy_by_yaw_gap(distances, same, folds, thresholds, gap)
        if reason is None
        else [{"bin": b, "label": label} for b, label, _, _ in YAW_GAP_BINS]
    )
    for result in bins:
        key = f"accuracy_yaw_gap_{result['bin']}"
        common = {
            "spread": "none (count of pairs in the bin: n)",
            "yaw_gap": result["label"],
            "yaw_source": yaw_source,
        }
        if reason is not None:
            rows.append(
                _verification_score(
                    code, distance, pairs_file, key, reference, float("nan"), 0,
                    na_reason=reason, **common,
                )
            )  # fmt: skip
            continue
        rows.append(
            _verification_score(
                code, distance, pairs_file, key, reference, result["accuracy"], result["n"],
                n_matched=result["n_matched"],
                n_mismatched=result["n_mismatched"],
                matched_accuracy=result["matched_accuracy"],
                mismatched_accuracy=result["mismatched_accuracy"],
                **common,
            )
        )  # fmt: skip
    return rows


def score_representation(
    codes: dict[str, np.ndarray], test: FaceData, pairs: Sequence[PairsFile]
) -> list[Score]:
    """Verification rows for every code, distance and pairs file, then the linear probes."""
    return verification_rows(codes, test.index, pairs) + probe_rows(codes, test)


def scene_code(index: pd.DataFrame) -> np.ndarray | str:
    """The exact scene factors of each image, standardised (:data:`SCENE_FACTORS`).

    Each column is centred and scaled to unit standard deviation over the given images
    (a constant column stays 0). Returns the reason instead where the index lacks them.
    """
    missing = [c for c in SCENE_FACTORS if c not in index.columns]
    if missing:
        return (
            f"the index has no exact scene factors ({', '.join(missing)} missing); "
            "only SynthFaces records them"
        )
    values = index[list(SCENE_FACTORS)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    if not np.isfinite(values).all():
        return "some exact scene factors in the index are not numbers"
    spread = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def scene_reference_rows(index: pd.DataFrame, pairs: Sequence[PairsFile]) -> list[Score]:
    """The scene-only reference: the exact scene factors as a code, through :func:`verification_rows`.

    Read every leakage figure against it: on cross-scene pairs the scene carries no
    identity (about 0.5); on same-scene pairs it verifies from the scene alone. Where the
    dataset has no exact scene factors, n/a rows with the reason.
    """
    code = scene_code(index)
    if isinstance(code, str):
        return [
            _verification_score(
                "scene", distance, pairs_file, "accuracy", True, float("nan"), 0, na_reason=code
            )
            for pairs_file in pairs
            for distance in DISTANCES
        ]
    rows = verification_rows({"scene": code}, index, pairs, reference=True)
    factors = {"scene_factors": list(SCENE_FACTORS)}
    return [replace(row, extra={**row.extra, **factors}) for row in rows]


def probe_rows(codes: dict[str, np.ndarray], test: FaceData, seed: int = 0) -> list[Score]:
    """Linear probes: pose from each code (identity-disjoint split), identity from non-identity codes.

    Pose decodable from the identity code, or identity from the pose code, is leakage.
    """
    from bench.data.index import pose_labelled
    from bench.metrics.probes import identity_probe, pose_probe

    identities = test.index["identity"].to_numpy()
    # Real profiles the 68-point fit flags have no pose label: probe pose on the rest.
    labelled = pose_labelled(test.index)
    rows = []
    for code in sorted(codes, key=lambda c: (c != "identity", c)):
        pose = pose_probe(
            codes[code][labelled], test.poses[labelled], identities[labelled], seed=seed
        )
        probes = [
            ("probe_pose_r2", pose["r2_mean"], pose["n_test"]),
            ("probe_pose_mae", pose["mae_mean"], pose["n_test"]),
        ]
        if code != "identity":
            found = identity_probe(codes[code], identities, seed=seed)
            probes.append(("probe_identity_accuracy", found["accuracy"], found["n_test"]))
        for family, value, n in probes:
            rows.append(
                Score.measured(
                    spec_of(family),
                    value,
                    n,
                    qualifier=f"{code}-code",
                    spread="none (one held-out split)",
                    evaluator_floor=None,
                    protocol=PROTOCOL,
                    kind="probe",
                    k=1,
                    extra={"code": code},
                )
            )
    return rows


def tsne_figure(
    codes: dict[str, np.ndarray],
    test: FaceData,
    out_stem: Path,
    title: str,
    identities: int = 20,
    seed: int = 0,
) -> list[Path]:
    """t-SNE of each code of the first ``identities`` test identities (IP-GAN's figure).

    Identity codes are coloured by identity, other codes by yaw. PNG and PDF.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    chosen = np.sort(test.index["identity"].unique())[:identities]
    mask = test.index["identity"].isin(chosen).to_numpy()
    names = sorted(codes, key=lambda c: (c != "identity", c))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4), squeeze=False)
    for axis, name in zip(axes[0], names, strict=True):
        axis.set_xticks([])
        axis.set_yticks([])
        values = codes[name][mask]
        spread = float(np.ptp(values, axis=0).max()) if values.size else 0.0
        if not np.isfinite(values).all() or spread < 1e-6 * max(1.0, float(np.abs(values).max())):
            # A constant (collapsed) code has no neighbourhoods to embed; sklearn's
            # Barnes-Hut t-SNE divides by zero on it. Say so in the panel instead.
            reason = "non-finite values" if not np.isfinite(values).all() else "constant"
            log.warning("t-SNE of the %s code skipped: %s", name, reason)
            axis.text(0.5, 0.5, f"{name} code is {reason}:\nno t-SNE", ha="center", va="center")
            axis.set_title(f"{name} code")
            continue
        points = TSNE(
            n_components=2, perplexity=min(30, mask.sum() // 4), init="pca", random_state=seed
        ).fit_transform(values)
        if name == "identity":
            colour = np.searchsorted(chosen, test.index.loc[mask, "identity"].to_numpy())
            scatter = axis.scatter(points[:, 0], points[:, 1], c=colour, cmap="tab20", s=8)
            axis.set_title(f"{name} code, coloured by identity")
        else:
            scatter = axis.scatter(
                points[:, 0], points[:, 1], c=test.poses[mask, 0], cmap="coolwarm", s=8
            )
            fig.colorbar(scatter, ax=axis, label="yaw (°)")
            axis.set_title(f"{name} code, coloured by yaw")
    fig.suptitle(title)
    fig.tight_layout()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".pdf"):
        path = out_stem.with_suffix(suffix)
        fig.savefig(path, dpi=120, metadata={"CreationDate": None} if suffix == ".pdf" else None)
        written.append(path)
    plt.close(fig)
    return written


#: SynthFaces' exact factors scored by MIG, DCI and SAP: (index column, discrete).
FACTORS = (
    ("identity", True),
    ("yaw", False),
    ("pitch", False),
    ("roll", False),
    ("expression", True),
    ("light", False),
)
FACTOR_EVALUATOR = "synth-factors"


def has_exact_factors(test: FaceData) -> str | None:
    """None where the split carries every exact factor; otherwise why disentanglement is n/a."""
    from bench.data.registry import capabilities

    missing = [c for c, _ in FACTORS if c not in test.index.columns]
    if missing or not capabilities(test).exact_factors:
        return (
            f"disentanglement needs exact factors {missing or ''} (pose_source gt); "
            "only SynthFaces has them"
        )
    return None


def disentanglement_rows(
    codes: dict[str, np.ndarray], test: FaceData, settings: dict[str, Any]
) -> list[Score]:
    """MIG, DCI and SAP of the whole code (every code concatenated) against the exact factors.

    ``settings``: ``metrics`` (subset of mig, dci, sap), ``rows`` (test images scored, a
    seeded random subset; DCI's boosted trees dominate the cost) and ``seed``.
    """
    from bench.metrics.disentanglement import dci, mig, sap

    reason = has_exact_factors(test)
    if reason is not None:
        raise DataError(f"{test.root}: {reason}")
    z = np.concatenate([codes[name] for name in sorted(codes)], axis=1)
    factors = test.index[[c for c, _ in FACTORS]].to_numpy(np.float64)
    discrete = np.array([d for _, d in FACTORS])
    rng = np.random.default_rng(settings["seed"])
    chosen = np.sort(rng.choice(len(z), size=min(len(z), settings["rows"]), replace=False))
    z, factors = z[chosen], factors[chosen]
    functions = {"mig": mig, "dci": dci, "sap": sap}
    unknown = set(settings["metrics"]) - set(functions)
    if unknown:
        raise DataError(f"unknown disentanglement metrics {sorted(unknown)}; use mig, dci, sap")
    rows = []
    for name in settings["metrics"]:
        result = functions[name](z, factors, discrete, seed=settings["seed"])
        for key, value in result.items():
            if np.ndim(value) != 0 or key.endswith("_train"):
                continue
            rows.append(
                Score.measured(
                    spec_of(key),
                    value,
                    len(z),
                    ci95=None,
                    spread="none (one split)",
                    evaluator_floor=None,
                    protocol="disentanglement",
                    kind="all-codes",
                    k=1,
                    extra={"code_dims": int(z.shape[1])},
                )
            )
    return rows


def disentanglement_scores(
    codes: dict[str, np.ndarray], test: FaceData, settings: dict[str, Any]
) -> list[Score]:
    """:func:`disentanglement_rows` where the split has exact factors, else one
    not-applicable row with the reason (real datasets have no exact factors)."""
    reason = has_exact_factors(test)
    if reason is not None:
        return [
            Score.not_applicable_because(reason, protocol="disentanglement", kind="all-codes", k=1)
        ]
    return disentanglement_rows(codes, test, settings)
