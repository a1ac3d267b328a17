"""Protocol 2, representation: a method's codes of the test images on the pairs protocol.

``encode`` stores every code a method provides for every test image
(``codes.npz``, index order). ``score_representation`` runs LFW-protocol verification
(10 folds in file order, threshold chosen on 9) on the identity code, and on every
other code as a leakage check (near 50% when identity does not leak into it), under
cosine and squared-L2 distances, and draws the t-SNE figures.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.data.dataset import FaceData, to_float_images
from bench.errors import DataError
from bench.methods.api import Method
from bench.metrics.pairs import pair_image_path, read_pairs
from bench.metrics.verification import evaluate_verification, pair_distances
from bench.protocols.results import load_arrays, save_arrays

log = logging.getLogger(__name__)

PROTOCOL = "representation"
DISTANCES = ("cosine", "sql2")


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
    test: FaceData, pairs_path: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Row numbers of both images of every pair, same-person flags and folds.

    A pair whose image is missing is an error, never skipped: skipping shifts the folds.
    """
    row_of = {p: i for i, p in enumerate(test.index["path"])}
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


def score_representation(
    codes: dict[str, np.ndarray], test: FaceData, pairs_path: Path
) -> list[dict[str, Any]]:
    """Verification rows for every code and distance (identity code first, then leakage)."""
    first, second, same, folds = pair_rows(test, pairs_path)
    rows = []
    for code in sorted(codes, key=lambda c: (c != "identity", c)):
        role = "identity" if code == "identity" else "leakage"
        for distance in DISTANCES:
            result = evaluate_verification(
                pair_distances(codes[code][first], codes[code][second], distance), same, folds
            )
            stats = result.as_dict()
            name = f"{code}-code/{distance}"
            for key, higher in (
                ("accuracy", True),
                ("auc", True),
                ("eer", False),
                ("tar_at_far", True),
            ):
                rows.append(
                    {
                        "metric": f"verification_{key}[{name}]",
                        "value": float(stats[key]),
                        "n": int(stats["n_pairs"]),
                        "sem": float(stats["accuracy_sem"]) if key == "accuracy" else None,
                        "spread": "standard error over the 10 folds (LFW)"
                        if key == "accuracy"
                        else "none",
                        "higher_is_better": higher if role == "identity" else None,
                        "evaluator": "none",
                        "evaluator_floor": None,
                        "protocol": f"{PROTOCOL}/{role}",
                        "k": 1,
                        "code": code,
                        "distance": distance,
                        "far_target": float(stats["far_target"]),
                        "far_resolution": float(stats["far_resolution"]),
                    }
                )
    rows += probe_rows(codes, test)
    return rows


def probe_rows(codes: dict[str, np.ndarray], test: FaceData, seed: int = 0) -> list[dict[str, Any]]:
    """Linear probes: pose from each code (identity-disjoint split), identity from non-identity codes.

    Pose decodable from the identity code, or identity from the pose code, is leakage.
    """
    from bench.metrics.probes import identity_probe, pose_probe

    identities = test.index["identity"].to_numpy()
    rows = []
    for code in sorted(codes, key=lambda c: (c != "identity", c)):
        pose = pose_probe(codes[code], test.poses, identities, seed=seed)
        probes = [
            ("probe_pose_r2", pose["r2_mean"], code != "identity", pose["n_test"]),
            ("probe_pose_mae", pose["mae_mean"], code == "identity", pose["n_test"]),
        ]
        if code != "identity":
            found = identity_probe(codes[code], identities, seed=seed)
            probes.append(("probe_identity_accuracy", found["accuracy"], False, found["n_test"]))
        for metric, value, higher, n in probes:
            rows.append(
                {
                    "metric": f"{metric}[{code}-code]",
                    "value": float(value),
                    "n": int(n),
                    "spread": "none (one held-out split)",
                    "higher_is_better": higher,
                    "evaluator": "linear-probe",
                    "evaluator_floor": None,
                    "protocol": f"{PROTOCOL}/probe",
                    "k": 1,
                    "code": code,
                }
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
    missing = [c for c, _ in FACTORS if c not in test.index.columns]
    if missing or not (test.index["pose_source"] == "gt").all():
        return (
            f"disentanglement needs exact factors {missing or ''} (pose_source gt); "
            "only SynthFaces has them"
        )
    return None


def disentanglement_rows(
    codes: dict[str, np.ndarray], test: FaceData, settings: dict[str, Any]
) -> list[dict[str, Any]]:
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
                {
                    "metric": f"{key}[{FACTOR_EVALUATOR}]",
                    "value": float(value),
                    "n": int(len(z)),
                    "ci95": None,
                    "spread": "none (one split)",
                    "higher_is_better": True,
                    "evaluator": FACTOR_EVALUATOR,
                    "evaluator_floor": None,
                    "protocol": "disentanglement/all-codes",
                    "k": 1,
                    "code_dims": int(z.shape[1]),
                }
            )
    return rows
