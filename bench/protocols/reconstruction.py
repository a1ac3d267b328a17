"""Reconstruction and sampling, for methods that provide ``reconstruct`` or ``sample``.

``reconstruct``: N test images x against G(E(x)): RMSE on the 0-255 scale (Browatzki &
Wallraven's Table 1 unit), SSIM, and CSIM of the reconstruction to its input under the
identity oracle. ``sample``: N images G(z) from a seeded generator against all real test
images: FD and KID over the oracle's features and FID over Inception pool3 (``n/a`` with
the reason without its weights), exactly as protocol 1's distribution columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.data.dataset import FaceData, to_float_images, to_uint8_images
from bench.methods.api import Method
from bench.protocols.pose_transfer import bootstrap_interval, distribution_rows, load_inception

PROTOCOL = "reconstruction"


def _batched(function, images: torch.Tensor, batch_size: int, device) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat(
            [
                function(images[i : i + batch_size].to(device)).float().cpu()
                for i in range(0, len(images), batch_size)
            ]
        )


def rmse_255(generated: torch.Tensor, real: torch.Tensor) -> np.ndarray:
    """Per-image root mean squared error on the 0-255 scale of images in [0, 1]."""
    diff = (generated.double() - real.double()) * 255.0
    return diff.pow(2).flatten(1).mean(1).sqrt().numpy()


def score_reconstruction(
    method: Method, test: FaceData, oracle: Any, settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """Rows for ``reconstruction/reconstruct`` and ``reconstruction/sample`` (what it provides)."""
    from bench.metrics.similarity import cosine_similarity
    from bench.metrics.ssim import SSIM_NAME, ssim

    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(settings["seed"])
    batch = settings["batch_size"]
    if "reconstruct" in method.provides:
        chosen = np.sort(
            rng.choice(len(test), size=min(len(test), settings["images"]), replace=False)
        )
        real = to_float_images(test.images[chosen])
        recon = _batched(method.reconstruct, real, batch, method.device)
        recon = to_float_images(to_uint8_images(recon))  # stored-image precision, as protocol 1
        per_image = {
            "rmse255": (rmse_255(recon, real), False, "none"),
            SSIM_NAME: (ssim(recon, real).numpy(), True, "none"),
            f"csim_input[{oracle.name}]": (
                cosine_similarity(oracle.embed(recon), oracle.embed(real)),
                True,
                oracle.name,
            ),
        }
        for metric, (values, higher, evaluator) in per_image.items():
            low, high = bootstrap_interval(values, settings["bootstrap"], settings["seed"])
            rows.append(
                {
                    "metric": metric,
                    "value": float(np.mean(values)),
                    "n": len(values),
                    "ci95": [low, high],
                    "spread": "bootstrap95 over images",
                    "higher_is_better": higher,
                    "evaluator": evaluator,
                    "evaluator_floor": None,
                    "protocol": f"{PROTOCOL}/reconstruct",
                    "k": 1,
                }
            )
    if "sample" in method.provides:
        generator = torch.Generator().manual_seed(settings["seed"])
        samples = torch.cat(
            [
                method.sample(min(batch, settings["samples"] - i), generator).float().cpu()
                for i in range(0, settings["samples"], batch)
            ]
        ).clamp(0, 1)
        generated = to_uint8_images(samples)
        real_embeddings = oracle.embed(to_float_images(test.images))
        sample_rows = distribution_rows(
            generated,
            oracle.embed(to_float_images(generated)),
            real_embeddings,
            load_inception(settings, test),
            settings,
            "sample",
            1,
        )
        rows += [{**row, "protocol": f"{PROTOCOL}/sample"} for row in sample_rows]
    return rows
