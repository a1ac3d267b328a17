"""Per-image PSNR and L1 of generated images against their targets (LivePortrait, LAM and
the 2025 portrait-eval-pipeline report both on self-reenactment)."""

from __future__ import annotations

import numpy as np
import torch

from bench.metrics.paired import PairedImageMetric

PSNR_NAME = (
    "psnr[rgb-range1]"  # dB over the RGB pixels of each image, data range 1 (= 255 for uint8)
)
L1_NAME = "l1[rgb-0-1]"  # mean absolute error over the RGB pixels of each image, on [0, 1]


def _as_float64_pair(
    generated: torch.Tensor, target: torch.Tensor, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """Both image sets as float64 arrays on [0, 1]; uint8 is divided by 255."""
    if generated.shape != target.shape:
        raise ValueError(
            f"{metric} needs images of the same shape, got {tuple(generated.shape)} and "
            f"{tuple(target.shape)}; resize one set to the other first."
        )
    arrays = []
    for name, images in (("generated", generated), ("target", target)):
        array = images.detach().cpu().numpy()
        array = array / 255.0 if array.dtype == np.uint8 else array.astype(np.float64)
        if array.size and (array.min() < 0 or array.max() > 1):
            raise ValueError(f"{metric}: {name} images must lie in [0, 1] (or be uint8)")
        arrays.append(array.reshape(len(array), -1))
    return arrays[0], arrays[1]


def psnr(generated: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Per-image PSNR in dB, ``10 log10(1 / MSE)`` with MSE over every pixel and channel
    (skimage's ``peak_signal_noise_ratio(target, generated, data_range=1)``); an exact copy
    scores ``inf``."""
    a, b = _as_float64_pair(generated, target, "psnr")
    mse = np.mean((a - b) ** 2, axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(1.0 / mse)


def l1_error(generated: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Per-image mean absolute difference on [0, 1] over every pixel and channel."""
    a, b = _as_float64_pair(generated, target, "l1")
    return np.mean(np.abs(a - b), axis=1)


#: PSNR of an exact copy is infinite; scored rows cap each image at this (an MSE of 1e-10),
#: so a mean and its bootstrap stay finite. The cap is in the row's name.
PSNR_CAP_DB = 100.0


def psnr_capped(generated: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """:func:`psnr` with each image capped at ``PSNR_CAP_DB``."""
    return np.minimum(psnr(generated, target), PSNR_CAP_DB)


#: Scored against every reference image a protocol has (``bench.metrics.paired``).
PAIRED = (
    PairedImageMetric("psnr", True, "rgb-range1-cap100", psnr_capped),
    PairedImageMetric("l1", False, L1_NAME.removeprefix("l1[").removesuffix("]"), l1_error),
)
