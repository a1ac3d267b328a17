"""Generated vs real images as distributions: FD and KID over the identity oracle's
features and FID over Inception pool3 (``n/a`` with the reason when its weights are
missing). Protocol 1 scores its outputs with these, protocol 4 its random samples."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.dataset import FaceData
from bench.errors import EvaluatorUnavailable
from bench.metrics.specs import spec_of
from bench.score import Score

log = logging.getLogger(__name__)


def distribution_rows(
    generated: np.ndarray,
    generated_embeddings: np.ndarray,
    real_embeddings: np.ndarray,
    inception: Any,
    settings: dict[str, Any],
    kind: str,
    k: int,
    protocol: str = "pose_transfer",
) -> list[Score]:
    """Generated vs all real test images: FD and KID over the identity oracle's features,
    and FID over Inception pool3 (``n/a`` with the reason when its weights are missing)."""
    from bench.metrics.fid import feature_statistics, fid_label, frechet_distance, kid

    n = len(generated)
    common: dict[str, Any] = {
        "protocol": protocol,
        "kind": kind,
        "k": k,
        "evaluator_floor": None,
    }
    extra = {"n_reference": len(real_embeddings), "sample_label": fid_label(n)}
    subset = min(n, len(real_embeddings), 1000)
    kid_mean, kid_std = kid(
        generated_embeddings, real_embeddings, subset_size=subset, seed=settings["seed"]
    )
    fd = frechet_distance(
        *feature_statistics(generated_embeddings), *feature_statistics(real_embeddings)
    )
    rows = [
        Score.measured(spec_of("fd"), fd, n, spread="none", extra=extra, **common),
        Score.measured(
            spec_of("kid"),
            kid_mean,
            n,
            spread=f"std over 100 subsets of {subset}",
            extra={**extra, "std": kid_std},
            **common,
        ),
    ]
    fid = spec_of("fid")
    if isinstance(inception, EvaluatorUnavailable):
        rows.append(Score.unavailable(fid, str(inception), n, spread="none", extra=extra, **common))
    else:
        mu, sigma = inception.reference
        value = frechet_distance(*feature_statistics(inception.features(generated)), mu, sigma)
        extra = {**extra, "weights_sha256": inception.weights_sha256}
        rows.append(Score.measured(fid, value, n, spread="none", extra=extra, **common))
    return rows


def load_inception(settings: dict[str, Any], test: FaceData) -> Any:
    """The FID extractor with the real test images' cached statistics, or the reason it is unavailable."""
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
