"""Reconstruction and sampling, for methods that provide ``reconstruct`` or ``sample``.

``reconstruct``: N test images x against G(E(x)): RMSE on the 0-255 scale (Browatzki &
Wallraven's Table 1 unit), SSIM, PSNR, L1, LPIPS (n/a naming the backbone file without its
weights), and CSIM of the reconstruction to its input under the
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
from bench.metrics.specs import spec_of
from bench.protocols.distribution import distribution_rows, load_inception
from bench.score import Score

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
) -> list[Score]:
    """Rows for ``reconstruction/reconstruct`` and ``reconstruction/sample`` (what it provides)."""
    rows: list[Score] = []
    if "reconstruct" in method.provides:
        rows += _reconstruct_scores(method, test, oracle, settings)
    if "sample" in method.provides:
        batch = settings["batch_size"]
        generator = torch.Generator().manual_seed(settings["seed"])
        samples = torch.cat(
            [
                method.sample(min(batch, settings["samples"] - i), generator).float().cpu()
                for i in range(0, settings["samples"], batch)
            ]
        ).clamp(0, 1)
        generated = to_uint8_images(samples)
        real_embeddings = oracle.embed(to_float_images(test.images))
        rows += distribution_rows(
            generated,
            oracle.embed(to_float_images(generated)),
            real_embeddings,
            load_inception(settings, test),
            settings,
            "sample",
            1,
            protocol=PROTOCOL,
        )
    return rows


def _reconstruct_scores(
    method: Method, test: FaceData, oracle: Any, settings: dict[str, Any]
) -> list[Score]:
    """RMSE (0-255), the paired metrics (SSIM, PSNR, L1), LPIPS and CSIM of G(E(x)) vs x
    over a seeded subset of test images."""
    from bench.evaluators.lpips import load_lpips
    from bench.metrics.paired import paired_metrics
    from bench.metrics.similarity import cosine_similarity
    from bench.protocols.pose_transfer.scoring import lpips_item, per_tuple_score

    rng = np.random.default_rng(settings["seed"])
    chosen = np.sort(rng.choice(len(test), size=min(len(test), settings["images"]), replace=False))
    real = to_float_images(test.images[chosen])
    recon = _batched(method.reconstruct, real, settings["batch_size"], method.device)
    recon = to_float_images(to_uint8_images(recon))  # stored-image precision, as protocol 1
    per_image = (
        ("rmse255", rmse_255(recon, real), "none", None),
        *((m.family, m.values(recon, real), "none", m.qualifier) for m in paired_metrics()),
        ("csim_input", cosine_similarity(oracle.embed(recon), oracle.embed(real)), oracle.name, None),
    )  # fmt: skip
    lpips = lpips_item(load_lpips(settings), recon, real, settings)
    rows = [
        Score.from_values(
            spec_of(family),
            values,
            (settings["bootstrap"], settings["seed"]),
            evaluator=evaluator,
            qualifier=qualifier,
            spread="bootstrap95 over images",
            evaluator_floor=None,
            protocol=PROTOCOL,
            kind="reconstruct",
            k=1,
        )
        for family, values, evaluator, qualifier in per_image
    ]
    return rows + [per_tuple_score(lpips, settings, "reconstruct", 1, PROTOCOL, "images")]
