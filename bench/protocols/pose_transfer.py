"""Protocol 1, pose transfer: fixed test tuples, synthesis through ``Method.transfer``, scores.

A tuple is K_max source images of a test identity A, a *self* driver (another image
of A from the first source's clip; target = that image) and a *cross* driver (an
image of another test identity B). The cross target is A rendered with B's pose and
expression under the first source's light and background (exact on SynthFaces):
pose transfer moves pose and expression, nothing else.
Tuples are nested across K: the K=1 sources are the first of the K=8 sources, so a
K-shot curve compares like with like.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from bench.data.dataset import FaceData, to_float_images, to_uint8_images
from bench.data.index import cached_array, load_images, read_meta, save_image
from bench.errors import DataError
from bench.methods.api import Driver, Method
from bench.protocols.results import load_arrays, save_arrays

log = logging.getLogger(__name__)

KINDS = ("self", "cross")
PROTOCOL = "pose_transfer"


def tuples_path(dataset_dir: Path) -> Path:
    return Path(dataset_dir) / "protocols" / f"{PROTOCOL}.csv"


def make_tuples(
    test_index: pd.DataFrame, k_max: int, n_tuples: int, seed: int, sources: str = "clip"
) -> pd.DataFrame:
    """Draw ``n_tuples`` test tuples (a pure function of the index, ``seed`` and ``sources``).

    The first source and the self driver come from one clip (one video: same
    background and light). ``sources="clip"`` draws the other K_max - 1 sources from
    that clip too, as the K-shot papers test (CainGAN and FSHM: K frames of one test
    video); ``"identity"`` draws them from any other images of A (other clips,
    other scenes); ``"session"`` takes the first source, the self driver and the other
    sources from one multi-view session (Multi-PIE) instead of a video clip. Images of
    multi-view sessions (index column ``session >= 0``) are never video clips. Datasets
    without videos (LFW, CelebA) have one clip per person, so clip and identity are the
    same there. Cross drivers are any image of another test identity.
    """
    if sources not in ("clip", "identity", "session"):
        raise DataError(
            f"protocols.pose_transfer.sources: {sources!r} is not 'clip', 'identity' or 'session'"
        )
    rng = np.random.default_rng(seed)
    groups = {i: g for i, g in test_index.groupby("identity", sort=True)}
    in_sessions = test_index["session"] >= 0
    recordings = test_index[in_sessions if sources == "session" else ~in_sessions]
    recordings_of = {i: g for i, g in recordings.groupby("identity", sort=True)}
    clip_size = 2 if sources == "identity" else k_max + 1
    eligible = [
        i
        for i, g in groups.items()
        if len(g) >= k_max + 1
        and i in recordings_of
        and (recordings_of[i].groupby("clip").size() >= clip_size).any()
    ]
    if len(eligible) < 2:
        kind = "multi-view session" if sources == "session" else "video clip"
        raise DataError(
            f"pose_transfer needs at least 2 test identities with {k_max + 1} images "
            f"(K={k_max} sources + a driver) and a {kind} of {clip_size} images "
            f"(protocols.pose_transfer.sources: {sources}); found {len(eligible)}"
        )
    rows = []
    for number in range(n_tuples):
        a = eligible[rng.integers(len(eligible))]
        images, recorded = groups[a], recordings_of[a]
        clip_sizes = recorded.groupby("clip").size()
        clip = rng.choice(clip_sizes.index[clip_sizes >= clip_size].to_numpy())
        in_clip = recorded["clip"] == clip
        first, driver = rng.choice(recorded.loc[in_clip, "path"].to_numpy(), 2, replace=False)
        pool = images if sources == "identity" else recorded[in_clip]
        rest = pool.loc[~pool["path"].isin([first, driver]), "path"].to_numpy()
        sources_of_a = [first, *rng.choice(rest, size=k_max - 1, replace=False)]
        others = [i for i in groups if i != a]
        b = others[rng.integers(len(others))]
        rows.append(
            {
                "tuple": number,
                "identity": a,
                "sources": ";".join(sources_of_a),
                "self_driver": driver,
                "cross_identity": b,
                "cross_driver": rng.choice(groups[b]["path"].to_numpy()),
            }
        )
    return pd.DataFrame(rows)


def write_tuples(dataset_dir: Path, settings: dict[str, Any]) -> Path:
    """Write the tuple table and, where the dataset can render them, the exact cross targets."""
    from bench.data.index import read_index

    dataset_dir = Path(dataset_dir)
    meta = read_meta(dataset_dir)
    index = read_index(dataset_dir)
    test = index[index.split == "test"]
    tuples = make_tuples(
        test,
        max(settings["k"]),
        settings["tuples"],
        settings["seed"],
        settings.get("sources", "clip"),
    )
    if meta.get("has_exact_targets"):
        from bench.data.prepare import render_cross_targets

        tuples["cross_target"] = render_cross_targets(dataset_dir, meta, index, tuples)
    else:
        tuples["cross_target"] = ""
    path = tuples_path(dataset_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tuples.to_csv(path, index=False)
    return path


def read_tuples(dataset_dir: Path) -> pd.DataFrame:
    path = tuples_path(dataset_dir)
    required = ["tuple", "identity", "sources", "self_driver", "cross_driver", "cross_target"]
    try:
        tuples = pd.read_csv(path, keep_default_na=False)
    except FileNotFoundError as error:
        raise DataError(f"{path}: missing; run `python -m bench tuples` first") from error
    missing = [c for c in required if c not in tuples.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return tuples


@dataclass
class TupleImages:
    """The images of every tuple as float tensors, resolved through the test split."""

    sources: torch.Tensor  # [N, K_max, 3, H, W]
    drivers: dict[str, np.ndarray]  # kind -> test-split row per tuple
    targets: dict[str, torch.Tensor | None]  # kind -> [N, 3, H, W] or None


def resolve_tuples(test: FaceData, tuples: pd.DataFrame) -> TupleImages:
    row_of = {p: i for i, p in enumerate(test.index["path"])}

    def rows(paths: list[str], column: str) -> np.ndarray:
        missing = [p for p in paths if p not in row_of]
        if missing:
            raise DataError(
                f"{tuples_path(test.root)}: {column} image {missing[0]} is not in the test split"
            )
        return np.array([row_of[p] for p in paths])

    source_rows = np.stack([rows(s.split(";"), "sources") for s in tuples["sources"]])
    images = to_float_images(test.images)
    drivers = {
        "self": rows(list(tuples["self_driver"]), "self_driver"),
        "cross": rows(list(tuples["cross_driver"]), "cross_driver"),
    }
    targets: dict[str, torch.Tensor | None] = {"self": images[drivers["self"]], "cross": None}
    if (tuples["cross_target"] != "").all():
        paths = [test.root / p for p in tuples["cross_target"]]
        targets["cross"] = to_float_images(load_images(paths, test.resolution))
    return TupleImages(images[torch.from_numpy(source_rows)], drivers, targets)


def make_driver(
    test: FaceData, rows: np.ndarray, needs: frozenset[str], target: torch.Tensor | None
) -> Driver:
    """The driver of a batch, holding only the labels the method declared."""
    batch = test.batch(rows[:, None], needs)

    def first(t: torch.Tensor | None) -> torch.Tensor | None:
        return None if t is None else t[:, 0]

    return Driver(
        image=batch.images[:, 0],
        pose=first(batch.pose),
        pose_bin=first(batch.pose_bin),
        landmarks=first(batch.landmarks),
        landmark_image=first(batch.landmark_images),
        expression=first(batch.expression),
        target=target if "target" in needs else None,
    )


def synthesize(
    method: Method, test: FaceData, tuples: pd.DataFrame, k_values: list[int], batch_size: int
) -> dict[str, np.ndarray]:
    """Run ``method.transfer_k`` on every tuple and kind, for every K at once:
    ``{"k1_cross": uint8 [N,H,W,3], ...}``."""
    resolved = resolve_tuples(test, tuples)
    outputs: dict[str, np.ndarray] = {}
    device = method.device
    ks = [k for k in k_values if k not in method.not_applicable_k]
    if not ks:
        return outputs
    kinds = list(KINDS)
    if "target" in method.needs and resolved.targets["cross"] is None:
        kinds = ["self"]
    with (
        torch.inference_mode(),
        tqdm(
            total=len(kinds) * len(ks) * len(tuples),
            desc=f"synthesize {method.name}",
            unit="img",
            mininterval=2.0,
        ) as bar,
    ):
        for kind in kinds:
            chunks: dict[int, list[np.ndarray]] = {k: [] for k in ks}
            for start in range(0, len(tuples), batch_size):
                stop = min(start + batch_size, len(tuples))
                target = resolved.targets[kind]
                driver = make_driver(
                    test,
                    resolved.drivers[kind][start:stop],
                    method.needs,
                    None if target is None else target[start:stop],
                )
                sources = resolved.sources[start:stop, : max(ks)]
                generated = method.transfer_k(sources.to(device), driver.to(device), ks)
                if sorted(generated) != sorted(ks):
                    raise DataError(
                        f"{method.name}.transfer_k returned K {sorted(generated)}, asked {ks}"
                    )
                for k in ks:
                    if generated[k].shape != driver.image.shape:
                        raise DataError(
                            f"{method.name}.transfer returned shape {list(generated[k].shape)}, "
                            f"expected {list(driver.image.shape)}"
                        )
                    chunks[k].append(to_uint8_images(generated[k].float().cpu()))
                bar.update((stop - start) * len(ks))
            for k in ks:
                outputs[f"k{k}_{kind}"] = np.concatenate(chunks[k])
    return outputs


def save_generated(
    path: Path, outputs: dict[str, np.ndarray], tuples: pd.DataFrame, k_values: list[int]
) -> None:
    """``generated.npz``: the images per ``k<K>_<kind>``, the tuple ids and the K values
    protocol 1 asked for (a K the method is not applicable at has no images)."""
    save_arrays(path, tuple=tuples["tuple"].to_numpy(), requested_k=np.asarray(k_values), **outputs)


def load_generated(path: Path) -> tuple[dict[str, np.ndarray], list[int]]:
    """(images per ``k<K>_<kind>``, the K values protocol 1 asked for)."""
    arrays = load_arrays(path, "synthesize")
    arrays.pop("tuple", None)
    requested = arrays.pop("requested_k", None)
    if requested is None:  # written before requested_k existed: every K has images
        return arrays, sorted({int(key.split("_")[0][1:]) for key in arrays})
    return arrays, [int(k) for k in requested]


def save_sample_grid(
    path: Path, test: FaceData, tuples: pd.DataFrame, outputs: dict[str, np.ndarray], rows: int = 6
) -> None:
    """A PNG per method: for each kind, columns source | driver | generated (K=1) | target."""
    resolved = resolve_tuples(test, tuples.iloc[:rows])
    k = min(int(key.split("_")[0][1:]) for key in outputs)
    panels = []
    for kind in KINDS:
        key = f"k{k}_{kind}"
        if key not in outputs:
            continue
        target = resolved.targets[kind]
        columns = [
            to_uint8_images(resolved.sources[:, 0]),
            test.images[resolved.drivers[kind]],
            outputs[key][:rows],
            to_uint8_images(target) if target is not None else np.zeros_like(outputs[key][:rows]),
        ]
        panels.append(np.concatenate([np.concatenate(list(c), axis=0) for c in columns], axis=1))
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    save_image(path, np.concatenate([x for p in panels for x in (p, gap)][:-1], axis=1))


# -- scoring ---------------------------------------------------------------------------------
def bootstrap_interval(
    values: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def score_pose_transfer(
    outputs: dict[str, np.ndarray],
    test: FaceData,
    tuples: pd.DataFrame,
    oracle: Any,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """Per (kind, K): SSIM vs target, CSIM vs target and sources, pose error vs the driver,
    and FD/KID/FID of the generated images against the real test images; per cross K, how
    the output's yaw and pitch follow the driver's (``following_rows``)."""
    from bench.metrics.pose import pose_error_degrees
    from bench.metrics.similarity import cosine_similarity
    from bench.metrics.ssim import SSIM_NAME, ssim

    resolved = resolve_tuples(test, tuples)
    real_embeddings = reference_embeddings(oracle, to_float_images(test.images), test, settings)
    inception = load_inception(settings, test)
    source_embeddings = reference_embeddings(
        oracle, resolved.sources.flatten(0, 1), test, settings
    ).reshape(len(tuples), resolved.sources.shape[1], -1)
    target_embeddings = {
        kind: None if target is None else reference_embeddings(oracle, target, test, settings)
        for kind, target in resolved.targets.items()
    }
    quality = oracle.quality
    reference_poses: dict[str, tuple[str, np.ndarray]] = {}
    rows: list[dict[str, Any]] = []
    for key in sorted(outputs):
        if key == "tuple":
            continue
        k, kind = int(key.split("_")[0][1:]), key.split("_")[1]
        generated = to_float_images(outputs[key])
        target = resolved.targets[kind]
        embedding = oracle.embed(generated)
        per_tuple: dict[str, tuple[np.ndarray, bool, str, Any]] = {}
        if target is not None:
            per_tuple[SSIM_NAME] = (ssim(generated, target).numpy(), True, "none", None)
            per_tuple[f"csim_target[{oracle.name}]"] = (
                cosine_similarity(embedding, target_embeddings[kind]),
                True,
                oracle.name,
                {"verification_accuracy": quality["verification"]["accuracy"]},
            )
        csim_sources = np.mean(
            [cosine_similarity(embedding, source_embeddings[:, j]) for j in range(k)], axis=0
        )
        per_tuple[f"csim_source[{oracle.name}]"] = (
            csim_sources,
            True,
            oracle.name,
            {"verification_accuracy": quality["verification"]["accuracy"]},
        )
        driver_pose = test.poses[resolved.drivers[kind]].astype(np.float64)
        output_pose = oracle.pose(generated)
        errors = pose_error_degrees(output_pose, driver_pose)
        for angle in ("mean", "yaw", "pitch", "roll"):
            suffix = "" if angle == "mean" else f"_{angle}"
            per_tuple[f"pose_error{suffix}[{oracle.name}]"] = (
                errors[angle],
                False,
                oracle.name,
                {"pose_mae_degrees": quality["pose_mae_degrees"][angle]},
            )
        for metric, (values, higher, evaluator, floor) in per_tuple.items():
            low, high = bootstrap_interval(values, settings["bootstrap"], settings["seed"])
            rows.append(
                {
                    "metric": metric,
                    "value": float(np.mean(values)),
                    "n": int(len(values)),
                    "ci95": [low, high],
                    "spread": "bootstrap95 over tuples",
                    "higher_is_better": higher,
                    "evaluator": evaluator,
                    "evaluator_floor": floor,
                    "protocol": f"{PROTOCOL}/{kind}",
                    "k": k,
                }
            )
        if kind == "cross":
            if kind not in reference_poses:
                reference_poses[kind] = following_reference(oracle, test, resolved, kind)
            rows += following_rows(
                driver_pose, output_pose, reference_poses[kind], oracle, settings, kind, k
            )
        rows += distribution_rows(
            outputs[key], embedding, real_embeddings, inception, settings, kind, k
        )
    return rows


#: The angles whose following is scored (roll is left out: drivers barely roll).
FOLLOW_ANGLES = ("yaw", "pitch")


def following_reference(
    oracle: Any, test: FaceData, resolved: TupleImages, kind: str
) -> tuple[str, np.ndarray]:
    """What the oracle reads from real images with the drivers' poses: the exact targets
    where the dataset renders them, else the drivers themselves (the floor of following)."""
    target = resolved.targets[kind]
    if target is not None:
        return f"exact {kind} targets", oracle.pose(target)
    return f"real {kind} drivers", oracle.pose(to_float_images(test.images[resolved.drivers[kind]]))


def following_rows(
    driver_pose: np.ndarray,
    output_pose: np.ndarray,
    reference: tuple[str, np.ndarray],
    oracle: Any,
    settings: dict[str, Any],
    kind: str,
    k: int,
) -> list[dict[str, Any]]:
    """``<angle>_follow_slope`` and ``<angle>_follow_r``: the least-squares line of the oracle's
    angle of each output on its driver's labelled angle over the tuples (1 = the output turns
    with the driver, 0 = it ignores it), with percentile bootstrap intervals over tuples.

    Scored on cross tuples only: there the sources' pose is drawn independently of the
    driver's, so a copy of a source sits at 0. In a self tuple the driver and the sources
    come from one clip and their poses correlate, so copying a source would score above 0.
    The slope is best at 1, not at its highest (``higher_is_better`` None); r is higher
    is better. The floor is the line the same oracle reads from ``reference``'s images.
    """
    from bench.metrics.following import fit_line, following, na_reason

    reference_name, reference_pose = reference
    rows = []
    for angle in FOLLOW_ANGLES:
        column = ("yaw", "pitch", "roll").index(angle)
        driver, output = driver_pose[:, column], output_pose[:, column]
        score = following(driver, output, settings["bootstrap"], settings["seed"])
        floor: dict[str, Any] = {
            "reference": reference_name,
            "pose_mae_degrees": oracle.quality["pose_mae_degrees"][angle],
        }
        if na_reason(driver, reference_pose[:, column]) is None:
            line = fit_line(driver, reference_pose[:, column])
            floor.update({"follow_slope": line.slope, "follow_r": line.r})
        fit = score.fit
        definition = (
            f"least-squares line of the {oracle.name} {angle} of each output on its driver's "
            f"labelled {angle}, over the {kind} tuples; 1 = follows the driver, 0 = ignores it"
        )
        for stat, value, interval, higher in (
            ("slope", None if fit is None else fit.slope, score.slope_ci95, None),
            ("r", None if fit is None else fit.r, score.r_ci95, True),
        ):
            row: dict[str, Any] = {
                "metric": f"{angle}_follow_{stat}[{oracle.name}]",
                "value": float("nan") if value is None else value,
                "n": int(len(driver)),
                "ci95": None if interval is None else list(interval),
                "spread": "bootstrap95 over tuples",
                "resamples_with_a_line": score.resamples_used,
                # r is blind to scale: an output whose angle barely moves can correlate
                # well; these spreads say how far each moved.
                "driver_std_degrees": float(np.std(driver)),
                "output_std_degrees": float(np.std(output)),
                "higher_is_better": higher,
                "evaluator": oracle.name,
                "evaluator_floor": floor,
                "definition": definition + (" (Pearson r)" if stat == "r" else " (slope)"),
                "protocol": f"{PROTOCOL}/{kind}",
                "k": k,
            }
            if stat == "slope" and fit is not None:
                row["intercept"] = fit.intercept
                row["intercept_ci95"] = (
                    None if score.intercept_ci95 is None else list(score.intercept_ci95)
                )
            if score.na_reason is not None:
                row["na_reason"] = score.na_reason
            rows.append(row)
    return rows


def reference_embeddings(
    oracle: Any, images: torch.Tensor, test: FaceData, settings: dict[str, Any]
) -> np.ndarray:
    """``oracle.embed(images)`` of real images (test split, sources, targets): the same in
    every run's score job, so kept under ``<reference_dir>/<dataset>/.cache`` keyed by the
    oracle's weights and the images' bytes."""
    if not settings.get("reference_dir"):
        return oracle.embed(images)
    digest = hashlib.sha256(f"{oracle.name}-identity-embed".encode())
    for tensor in oracle.identity_net.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(str(tuple(images.shape)).encode())
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    key = digest.hexdigest()
    return cached_array(
        Path(settings["reference_dir"]) / test.name,
        f"{oracle.name}-embeddings-{key[:16]}",
        key,
        lambda: oracle.embed(images),
    )


def not_applicable_rows(reasons: dict[int, str], k_values: list[int]) -> list[dict[str, Any]]:
    """One marker row per (kind, K) at which a method is not applicable
    (``Method.not_applicable_k``): the tables print its reason instead of scores."""
    return [
        {
            "metric": "not_applicable",
            "value": float("nan"),
            "n": 0,
            "higher_is_better": False,
            "evaluator": "none",
            "not_applicable": reasons[k],
            "protocol": f"{PROTOCOL}/{kind}",
            "k": k,
        }
        for kind in KINDS
        for k in k_values
        if k in reasons
    ]


def distribution_rows(
    generated: np.ndarray,
    generated_embeddings: np.ndarray,
    real_embeddings: np.ndarray,
    inception: Any,
    settings: dict[str, Any],
    kind: str,
    k: int,
) -> list[dict[str, Any]]:
    """Generated vs all real test images: FD and KID over the identity oracle's features,
    and FID over Inception pool3 (``n/a`` with the reason when its weights are missing)."""
    from bench.errors import EvaluatorUnavailable
    from bench.metrics.fid import feature_statistics, fid_label, frechet_distance, kid

    common = {
        "higher_is_better": False,
        "protocol": f"{PROTOCOL}/{kind}",
        "k": k,
        "n": len(generated),
        "n_reference": len(real_embeddings),
        "sample_label": fid_label(len(generated)),
        "evaluator_floor": None,
    }
    subset = min(len(generated), len(real_embeddings), 1000)
    kid_mean, kid_std = kid(
        generated_embeddings, real_embeddings, subset_size=subset, seed=settings["seed"]
    )
    rows = [
        {
            **common,
            "metric": "fd[synth-oracle]",
            "evaluator": "synth-oracle",
            "spread": "none",
            "value": frechet_distance(
                *feature_statistics(generated_embeddings), *feature_statistics(real_embeddings)
            ),
        },
        {
            **common,
            "metric": "kid[synth-oracle]",
            "evaluator": "synth-oracle",
            "value": kid_mean,
            "std": kid_std,
            "spread": f"std over 100 subsets of {subset}",
        },
    ]
    fid_row = {
        **common,
        "metric": "fid[inception-v3-pool3]",
        "evaluator": "inception-v3-pool3",
        "spread": "none",
    }
    if isinstance(inception, EvaluatorUnavailable):
        rows.append({**fid_row, "value": float("nan"), "na_reason": str(inception)})
    else:
        mu, sigma = inception.reference
        rows.append(
            {
                **fid_row,
                "value": frechet_distance(
                    *feature_statistics(inception.features(generated)), mu, sigma
                ),
                "weights_sha256": inception.weights_sha256,
            }
        )
    return rows


def load_inception(settings: dict[str, Any], test: FaceData) -> Any:
    """The FID extractor with the real test images' cached statistics, or the reason it is unavailable."""
    from bench.errors import EvaluatorUnavailable

    try:
        from bench.evaluators.inception import InceptionFeatures
        from bench.evaluators.reference_stats import reference_statistics

        extractor = InceptionFeatures(settings.get("inception_weights"))
    except EvaluatorUnavailable as error:
        log.warning("fid[inception-v3-pool3] is n/a: %s", error)
        return error
    mu, sigma, _ = reference_statistics(
        test.images,
        extractor,
        Path(settings["reference_dir"]),
        {"dataset": test.name, "split": "test", "resolution": test.resolution},
    )
    extractor.reference = (mu, sigma)
    return extractor
