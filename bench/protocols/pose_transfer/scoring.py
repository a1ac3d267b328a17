"""Protocol 1's scores: per (kind, K), SSIM, PSNR, L1, LPIPS and CSIM vs the target, CSIM vs the sources,
pose error vs the driver, how the output follows the driver (cross tuples) and FD/KID/FID
against the real test images; marker rows where a method is not applicable."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.data.dataset import FaceData, to_float_images
from bench.errors import EvaluatorUnavailable
from bench.evaluators.lpips import load_lpips
from bench.metrics.specs import MetricSpec, spec_of
from bench.protocols.distribution import distribution_rows, load_inception
from bench.protocols.pose_transfer.embeddings import reference_embeddings
from bench.protocols.pose_transfer.tuples import KINDS, PROTOCOL, TupleImages, resolve_tuples
from bench.score import Score, parse_kind_key

#: The angles whose following is scored (roll is left out: drivers barely roll).
FOLLOW_ANGLES = ("yaw", "pitch")


@dataclass(frozen=True)
class PerTuple:
    """One metric's value for every tuple, with who scored it and the evaluator's floor."""

    spec: MetricSpec
    values: np.ndarray
    evaluator: str
    floor: dict[str, Any] | None = None
    qualifier: str | None = None
    #: Why the metric is n/a (its evaluator is unavailable): the row carries it, no value.
    na_reason: str | None = None
    extra: dict[str, Any] | None = None


def score_pose_transfer(
    outputs: dict[str, np.ndarray],
    test: FaceData,
    tuples: Any,
    oracle: Any,
    settings: dict[str, Any],
    positions: dict[str, np.ndarray] | None = None,
) -> list[Score]:
    """Per (kind, K): SSIM vs target, CSIM vs target and sources, pose error vs the driver,
    and FD/KID/FID of the generated images against the real test images; per cross K, how
    the output's yaw and pitch follow the driver's (``following_rows``).

    ``positions``: per key whose outputs lack some tuples (an import with
    ``--allow-missing``, ``bench.external.output_positions``), the tuples' positions its
    images stand for; that key is scored on those tuples only, its rows' N counts them and
    ``n_missing`` the rest."""
    if positions:
        whole = {key: images for key, images in outputs.items() if key not in positions}
        rows = score_pose_transfer(whole, test, tuples, oracle, settings) if whole else []
        for key, where in sorted(positions.items()):
            subset = tuples.iloc[where].reset_index(drop=True)
            scored = score_pose_transfer({key: outputs[key]}, test, subset, oracle, settings)
            rows += [with_missing(row, len(tuples) - len(where)) for row in scored]
        return rows
    resolved = resolve_tuples(test, tuples)
    real_embeddings = reference_embeddings(oracle, to_float_images(test.images), test, settings)
    inception = load_inception(settings, test)
    lpips = load_lpips(settings)
    source_embeddings = reference_embeddings(
        oracle, resolved.sources.flatten(0, 1), test, settings
    ).reshape(len(tuples), resolved.sources.shape[1], -1)
    target_embeddings = {
        kind: None if target is None else reference_embeddings(oracle, target, test, settings)
        for kind, target in resolved.targets.items()
    }
    reference_poses: dict[str, tuple[str, np.ndarray]] = {}
    rows: list[Score] = []
    for key in sorted(outputs):
        k, kind = parse_kind_key(key)
        generated = to_float_images(outputs[key])
        embedding = oracle.embed(generated)
        driver_pose = test.poses[resolved.drivers[kind]].astype(np.float64)
        output_pose = oracle.pose(generated)
        per_tuple = _per_tuple_values(
            oracle, generated, embedding, output_pose, driver_pose, resolved, kind, k,
            source_embeddings, target_embeddings[kind],
        )  # fmt: skip
        if resolved.targets[kind] is not None:
            per_tuple.append(lpips_item(lpips, generated, resolved.targets[kind], settings))
        rows += [per_tuple_score(item, settings, kind, k) for item in per_tuple]
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


def with_missing(score: Score, n_missing: int) -> Score:
    """``score`` with ``n_missing``: outputs that were missing (not scored, not in N)."""
    return dataclasses.replace(score, extra={**score.extra, "n_missing": n_missing})


def lpips_item(lpips: Any, generated: Any, reference: Any, settings: dict[str, Any]) -> PerTuple:
    """LPIPS of each output vs its reference image (``load_lpips``), or n/a naming the
    missing weights file."""
    from bench.evaluators.lpips import lpips_evaluator, lpips_settings

    spec = spec_of("lpips")
    if isinstance(lpips, EvaluatorUnavailable):
        evaluator = lpips_evaluator(lpips_settings(settings)["backbone"])
        nan = np.full(len(generated), np.nan)
        return PerTuple(spec, nan, evaluator, na_reason=str(lpips))
    if min(generated.shape[-2:]) < lpips.min_side:
        side = min(generated.shape[-2:])
        reason = f"{lpips.name}: images of {side} px are below its {lpips.min_side} px minimum"
        return PerTuple(spec, np.full(len(generated), np.nan), lpips.evaluator, na_reason=reason)
    extra = {"weights_sha256": lpips.weights_sha256}
    return PerTuple(spec, lpips.distances(generated, reference), lpips.evaluator, extra=extra)


def per_tuple_score(
    item: PerTuple,
    settings: dict[str, Any],
    kind: str,
    k: int,
    protocol: str = PROTOCOL,
    items: str = "tuples",
) -> Score:
    """One metric's row: the mean over ``items`` with its bootstrap interval, or n/a."""
    fields: dict[str, Any] = {
        "evaluator": item.evaluator,
        "qualifier": item.qualifier,
        "evaluator_floor": item.floor,
        "spread": f"bootstrap95 over {items}",
        "protocol": protocol,
        "kind": kind,
        "k": k,
        "extra": item.extra or {},
    }
    if item.na_reason is not None:
        return Score.unavailable(item.spec, item.na_reason, len(item.values), ci95=None, **fields)
    return Score.from_values(
        item.spec, item.values, (settings["bootstrap"], settings["seed"]), **fields
    )


def _per_tuple_values(
    oracle: Any,
    generated: Any,
    embedding: np.ndarray,
    output_pose: np.ndarray,
    driver_pose: np.ndarray,
    resolved: TupleImages,
    kind: str,
    k: int,
    source_embeddings: np.ndarray,
    target_embedding: np.ndarray | None,
) -> list[PerTuple]:
    """The paired image metrics (SSIM, PSNR, L1: ``bench.metrics.paired``) and CSIM vs the
    target (where there is one), CSIM vs the K sources and the pose
    error per angle vs the driver, one value per tuple."""
    from bench.metrics.paired import paired_metrics
    from bench.metrics.pose import pose_error_degrees
    from bench.metrics.similarity import cosine_similarity

    quality = oracle.quality
    identity_floor = {"verification_accuracy": quality["verification"]["accuracy"]}
    target = resolved.targets[kind]
    items = []
    if target is not None:
        items += [
            *(
                PerTuple(m.spec, m.values(generated, target), "none", None, m.qualifier)
                for m in paired_metrics()
            ),
            PerTuple(
                spec_of("csim_target"),
                cosine_similarity(embedding, target_embedding),
                oracle.name,
                identity_floor,
            ),
        ]
    csim_sources = np.mean(
        [cosine_similarity(embedding, source_embeddings[:, j]) for j in range(k)], axis=0
    )
    items.append(PerTuple(spec_of("csim_source"), csim_sources, oracle.name, identity_floor))
    errors = pose_error_degrees(output_pose, driver_pose)
    for angle in ("mean", "yaw", "pitch", "roll"):
        suffix = "" if angle == "mean" else f"_{angle}"
        floor = {"pose_mae_degrees": quality["pose_mae_degrees"][angle]}
        items.append(PerTuple(spec_of(f"pose_error{suffix}"), errors[angle], oracle.name, floor))
    return items


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
) -> list[Score]:
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
        for stat, value, interval in (
            ("slope", None if fit is None else fit.slope, score.slope_ci95),
            ("r", None if fit is None else fit.r, score.r_ci95),
        ):
            extra: dict[str, Any] = {
                "resamples_with_a_line": score.resamples_used,
                # r is blind to scale: an output whose angle barely moves can correlate
                # well; these spreads say how far each moved.
                "driver_std_degrees": float(np.std(driver)),
                "output_std_degrees": float(np.std(output)),
                "definition": definition + (" (Pearson r)" if stat == "r" else " (slope)"),
            }
            if stat == "slope" and fit is not None:
                extra["intercept"] = fit.intercept
                extra["intercept_ci95"] = (
                    None if score.intercept_ci95 is None else list(score.intercept_ci95)
                )
            rows.append(
                Score.measured(
                    spec_of(f"{angle}_follow_{stat}"),
                    float("nan") if value is None else value,
                    len(driver),
                    evaluator=oracle.name,
                    ci95=None if interval is None else list(interval),
                    spread="bootstrap95 over tuples",
                    evaluator_floor=floor,
                    na_reason=score.na_reason,
                    protocol=PROTOCOL,
                    kind=kind,
                    k=k,
                    extra=extra,
                )
            )
    return rows


def not_applicable_rows(reasons: dict[int, str], k_values: list[int]) -> list[Score]:
    """One marker row per (kind, K) at which a method is not applicable
    (``Method.not_applicable_k``): the tables print its reason instead of scores."""
    return [
        Score.not_applicable_because(reasons[k], protocol=PROTOCOL, kind=kind, k=k)
        for kind in KINDS
        for k in k_values
        if k in reasons
    ]
