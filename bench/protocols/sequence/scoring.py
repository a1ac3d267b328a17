"""The sequence protocol's rows: per K, frame metrics averaged per sequence (the bootstrap
resamples sequences, whose frames are not independent) and FVD over the videos."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from bench.data.dataset import to_float_images
from bench.evaluators.lpips import load_lpips
from bench.metrics.specs import spec_of
from bench.protocols.pose_transfer.scoring import PerTuple, lpips_item, per_tuple_score
from bench.protocols.sequence.data import PROTOCOL, Sequences, parse_sequence_key
from bench.score import Score

log = logging.getLogger(__name__)


def score_sequences(
    outputs: dict[str, np.ndarray],
    sequences: Sequences,
    oracle: Any,
    settings: dict[str, Any],
    present: dict[str, list[str]] | None = None,
    k_values: list[int] | None = None,
) -> list[Score]:
    """Rows of every ``k<K>`` key of ``outputs`` (uint8 ``[S, T, H, W, 3]``).

    The frame metrics skip the first ``max(k_values)`` frames (default: the largest K of
    ``outputs``), the sources of some K: a copy of a source would be exact there (PSNR at
    its cap), and every K is scored on the same frames. FVD takes the whole videos.

    ``present``: per key whose videos lack some sequences (an import with
    ``--allow-missing``), the ids its videos stand for; that key is scored on those only,
    its rows' N counts them and ``n_missing`` the rest."""
    rows: list[Score] = []
    lpips = load_lpips(settings)
    skip = max(k_values or [parse_sequence_key(key) for key in outputs] or [0])
    for key in sorted(outputs):
        scored = sequences.subset(present[key]) if present and key in present else sequences
        missing = len(sequences.ids) - len(scored.ids)
        k = parse_sequence_key(key)
        key_rows = _key_rows(outputs[key], k, scored, skip, oracle, lpips, settings)
        if missing:
            key_rows = [
                dataclasses.replace(row, extra={**row.extra, "n_missing": missing})
                for row in key_rows
            ]
        rows += key_rows
    return rows


def _key_rows(
    videos: np.ndarray,
    k: int,
    sequences: Sequences,
    skip: int,
    oracle: Any,
    lpips: Any,
    settings: dict,
) -> list[Score]:
    """The rows of one K: per-sequence means of the frame metrics on frames ``skip``..T-1,
    then FVD of the whole videos."""
    from bench.metrics.paired import paired_metrics
    from bench.metrics.pose import pose_error_degrees
    from bench.metrics.similarity import cosine_similarity

    n_sequences, total = sequences.rows.shape
    if videos.shape[:2] != (n_sequences, total):
        raise ValueError(f"videos {videos.shape[:2]} for {n_sequences} sequences of {total}")
    if skip >= total:
        raise ValueError(f"K = {skip} sources leave no frame of {total} to score")
    frames, scored, length = sequences.frames, sequences.rows[:, skip:], total - skip
    generated = to_float_images(videos[:, skip:].reshape(-1, *videos.shape[2:]))
    target = to_float_images(frames.images[scored.reshape(-1)])
    embedding = oracle.embed(generated)
    sources = sequences.rows[:, :k]
    source_embedding = oracle.embed(to_float_images(frames.images[sources.reshape(-1)]))
    source_embedding = source_embedding.reshape(n_sequences, k, -1)
    identity_floor = {"verification_accuracy": oracle.quality["verification"]["accuracy"]}
    items = [
        PerTuple(m.spec, m.values(generated, target), "none", None, m.qualifier)
        for m in paired_metrics()
    ]
    items.append(lpips_item(lpips, generated, target, settings))
    items.append(
        PerTuple(
            spec_of("csim_target"),
            cosine_similarity(embedding, oracle.embed(target)),
            oracle.name,
            identity_floor,
        )
    )
    per_frame_source = np.repeat(source_embedding, length, axis=0)  # [S*T, K, D]
    csim_source = np.mean(
        [cosine_similarity(embedding, per_frame_source[:, j]) for j in range(k)], axis=0
    )
    items.append(PerTuple(spec_of("csim_source"), csim_source, oracle.name, identity_floor))
    errors = pose_error_degrees(oracle.pose(generated), frames.poses[scored.reshape(-1)])
    for angle in ("mean", "yaw", "pitch", "roll"):
        suffix = "" if angle == "mean" else f"_{angle}"
        floor = {"pose_mae_degrees": oracle.quality["pose_mae_degrees"][angle]}
        items.append(PerTuple(spec_of(f"pose_error{suffix}"), errors[angle], oracle.name, floor))
    kind = f"k{k}"
    rows = [
        per_tuple_score(
            dataclasses.replace(item, values=item.values.reshape(n_sequences, length).mean(1)),
            settings,
            kind,
            k,
            PROTOCOL,
            "sequences",
        )  # fmt: skip
        for item in items
    ]
    fvd = fvd_row(sequences.videos(), videos, settings, kind, k)
    return rows + ([] if fvd is None else [fvd])


def fvd_row(
    real: np.ndarray, generated: np.ndarray, settings: dict[str, Any], kind: str, k: int
) -> Score | None:
    """FVD of the re-enacted videos against the real ones (``bench.metrics.fvd``; n/a
    naming the weights file when it is absent); None while that module is not built."""
    try:
        from bench.metrics.fvd import fvd
    except ImportError:
        log.warning("bench.metrics.fvd is not available: no FVD row")
        return None
    return fvd(real, generated, settings.get("fvd_weights"), protocol=PROTOCOL, kind=kind, k=k)
