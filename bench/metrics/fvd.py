"""FVD (Unterthiner et al. 2018): the Fréchet distance between Gaussians fitted to I3D
Kinetics-400 logits of real and generated clips.

The features are :class:`bench.evaluators.i3d.I3DFeatures` (first 16 frames of each clip by
default, each frame resized to 224x224 and scaled to [-1, 1]); the distance is FID's own
:func:`bench.metrics.fid.frechet_distance` over :func:`bench.metrics.fid.feature_statistics`
(the N - 1 sample covariance, as TF-GAN's ``frechet_classifier_distance_from_activations``,
which the reference calls, uses; StyleGAN-V's ``FeatureStats`` divides by N). The
row is named by its variant, ``fvd[i3d-k400-tfhub-torchscript/logits400/16f-224px]`` (its
``evaluator`` the network, ``i3d-k400-tfhub-torchscript``), and is n/a naming the weights
file and ``evaluators.fvd.weights_path`` when the file is missing. Like FID it is biased
for small N and only comparable at equal N: ``sample_label`` is "small-sample" below 2,048
clips (StyleGAN-V's ``fvd2048_16f`` protocol scores 2,048).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import EvaluatorUnavailable
from bench.evaluators.i3d import (
    DEFAULT_FRAMES,
    MIN_FRAMES,
    VARIANTS,
    as_clips,
    fvd_evaluator,
    load_i3d,
)
from bench.metrics.fid import feature_statistics, fid_label, frechet_distance
from bench.metrics.specs import spec_of
from bench.score import Score


def fvd_from_features(real_features: np.ndarray, fake_features: np.ndarray) -> float:
    """The Fréchet distance between the two feature sets' Gaussians (FID's function)."""
    return frechet_distance(*feature_statistics(fake_features), *feature_statistics(real_features))


def fvd(
    real_videos: np.ndarray,
    fake_videos: np.ndarray,
    weights_path: str | Path | None = None,
    *,
    protocol: str,
    kind: str,
    k: int,
    num_frames: int = DEFAULT_FRAMES,
    extractor: Any = None,
    batch_size: int = 4,
    device: str = "cpu",
) -> Score:
    """FVD of generated clips ``fake_videos`` against ``real_videos`` (uint8 [N, T, H, W, 3]).

    ``extractor``: an :class:`~bench.evaluators.i3d.I3DFeatures` already loaded (or the
    :class:`EvaluatorUnavailable` ``load_i3d`` returned), so callers scoring many rows load
    the network once; without it the weights come from ``weights_path`` or the hub cache.
    Missing weights give an n/a row whose reason names the file, clips shorter than
    ``num_frames`` one naming the lengths (as LPIPS is n/a below its backbone's smallest
    side); clips that are not uint8 [N, T, H, W, 3] are a ValueError.
    """
    real_videos, fake_videos = as_clips(real_videos), as_clips(fake_videos)
    lengths = real_videos.shape[1], fake_videos.shape[1]
    if num_frames < MIN_FRAMES:
        raise ValueError(f"fvd: I3D needs at least {MIN_FRAMES} frames, asked for {num_frames}.")
    spec = spec_of("fvd")
    n = len(fake_videos)
    common: dict[str, Any] = {"protocol": protocol, "kind": kind, "k": k, "spread": "none"}
    extra: dict[str, Any] = {
        "n_reference": len(real_videos),
        "num_frames": num_frames,
        "sample_label": fid_label(n),
    }
    if min(lengths) >= num_frames and extractor is None:
        extractor = load_i3d(weights_path, device)
    # Named by the file read; without one, by the first file looked for (the TorchScript).
    variant = getattr(extractor, "variant", "torchscript")
    names = {"evaluator": VARIANTS[variant], "qualifier": fvd_evaluator(variant, num_frames)}
    if min(lengths) < num_frames:
        reason = (
            f"fvd scores the first {num_frames} frames of each clip; the real clips have "
            f"{lengths[0]} frames, the generated {lengths[1]}"
        )
        return Score.unavailable(spec, reason, n, extra=extra, **names, **common)
    if isinstance(extractor, EvaluatorUnavailable):
        return Score.unavailable(spec, str(extractor), n, extra=extra, **names, **common)
    real = extractor.features(real_videos, num_frames, batch_size)
    fake = extractor.features(fake_videos, num_frames, batch_size)
    extra["weights_sha256"] = extractor.weights_sha256
    value = fvd_from_features(real, fake)
    return Score.measured(spec, value, n, extra=extra, **names, **common)
