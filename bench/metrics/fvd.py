"""FVD (Unterthiner et al. 2018): the Fréchet distance between Gaussians fitted to I3D
Kinetics-400 logits of real and generated clips.

The features are :class:`bench.evaluators.i3d.I3DFeatures` (first 16 frames of each clip by
default, each frame resized to 224x224 and scaled to [-1, 1]); the distance is FID's own
:func:`bench.metrics.fid.frechet_distance` over :func:`bench.metrics.fid.feature_statistics`
(sample covariance, ``np.cov``; StyleGAN-V's ``FeatureStats`` divides by N instead). The
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
from bench.evaluators.i3d import DEFAULT_FRAMES, VARIANTS, check_videos, fvd_evaluator, load_i3d
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
    Missing weights give an n/a row whose reason names the file; clips shorter than
    ``num_frames`` are a ValueError naming the length.
    """
    check_videos(real_videos, num_frames)
    check_videos(fake_videos, num_frames)
    if extractor is None:
        extractor = load_i3d(weights_path, device)
    spec = spec_of("fvd")
    n = len(fake_videos)
    common: dict[str, Any] = {"protocol": protocol, "kind": kind, "k": k, "spread": "none"}
    extra: dict[str, Any] = {
        "n_reference": len(real_videos),
        "num_frames": num_frames,
        "sample_label": fid_label(n),
    }
    if isinstance(extractor, EvaluatorUnavailable):  # named as the first file looked for
        names = {"evaluator": VARIANTS["torchscript"]}
        names["qualifier"] = fvd_evaluator("torchscript", num_frames)
        return Score.unavailable(spec, str(extractor), n, extra=extra, **names, **common)
    real = extractor.features(real_videos, num_frames, batch_size)
    fake = extractor.features(fake_videos, num_frames, batch_size)
    extra["weights_sha256"] = extractor.weights_sha256
    value = fvd_from_features(real, fake)
    names = {"evaluator": VARIANTS[extractor.variant], "qualifier": extractor.evaluator(num_frames)}
    return Score.measured(spec, value, n, extra=extra, **names, **common)
