"""LPIPS v0.1 (Zhang et al., CVPR 2018, Eq. (1)) over AlexNet or VGG-16 features, offline.

Per layer l: unit-normalise each feature vector over channels, square the difference of
the two images' features, weight the channels by the v0.1 linear head w_l, average over
space; LPIPS is the sum over the five layers. Inputs in [0, 1] are mapped to [-1, 1] and
through LPIPS' scaling layer, as the reference code does with ``normalize=True``.

Weights are never downloaded. The backbone (torchvision's ImageNet ``alexnet`` or
``vgg16`` state dict) comes from ``weights_path`` or the torch hub cache file torchvision
itself would have downloaded; the v0.1 linear heads ship inside torchmetrics
(``torchmetrics/functional/image/lpips_models/<alex|vgg>.pth``, the same files as the
``lpips`` package's ``weights/v0.1``). Without either, :class:`EvaluatorUnavailable`
names the file that is missing, and the cell is n/a with that reason.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.errors import EvaluatorUnavailable

#: Backbone -> (torchvision constructor, hub cache file name, feature indices whose output is
#: tapped: the ReLUs after conv1..conv5 of AlexNet, after relu1_2..relu5_3 of VGG-16).
BACKBONES = {
    "alex": ("alexnet", "alexnet-owt-7be5be79.pth", (1, 4, 7, 9, 11)),
    "vgg": ("vgg16", "vgg16-397923af.pth", (3, 8, 15, 22, 29)),
}
#: The smallest image side each backbone's tapped layers accept (smaller: n/a with the reason).
MIN_SIDE = {"alex": 31, "vgg": 16}
#: LPIPS' ScalingLayer: the [-1, 1] image minus shift, over scale, per RGB channel.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def lpips_evaluator(backbone: str) -> str:
    """The evaluator a row names (the text in ``lpips[...]``): ``alex-v0.1``, ``vgg-v0.1``."""
    return f"{backbone}-v0.1"


def lpips_name(backbone: str) -> str:
    return f"lpips[{lpips_evaluator(backbone)}]"


def hub_backbone_path(backbone: str) -> Path:
    """Where torchvision caches the ImageNet weights: ``torch.hub.get_dir()/checkpoints/...``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / BACKBONES[backbone][1]


def linear_heads_path(backbone: str) -> Path:
    """The v0.1 linear heads shipped inside torchmetrics."""
    try:
        import torchmetrics
    except ImportError as error:
        raise EvaluatorUnavailable(
            f"{lpips_name(backbone)}: torchmetrics is not installed (its package holds the "
            "v0.1 linear heads)"
        ) from error
    path = Path(torchmetrics.__file__).parent / "functional/image/lpips_models" / f"{backbone}.pth"
    if not path.is_file():
        raise EvaluatorUnavailable(f"{lpips_name(backbone)}: no linear heads at {path}")
    return path


def find_backbone_weights(backbone: str, weights_path: str | Path | None) -> Path:
    """``weights_path`` if given, else the hub cache file; a missing file is n/a naming it."""
    if backbone not in BACKBONES:
        raise ValueError(f"LPIPS backbone {backbone!r}: use one of {sorted(BACKBONES)}")
    name, file_name, _ = BACKBONES[backbone]
    path = Path(weights_path) if weights_path is not None else hub_backbone_path(backbone)
    if not path.is_file():
        where = "from the configuration" if weights_path is not None else "(torch hub cache)"
        raise EvaluatorUnavailable(
            f"{lpips_name(backbone)}: no {name} weights at {path} {where}; put torchvision's "
            f"ImageNet {file_name} there (or set the weights path)"
        )
    return path


def _load(path: Path) -> dict[str, torch.Tensor]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, pickle.UnpicklingError) as error:
        raise EvaluatorUnavailable(f"{path}: unreadable weights file ({error})") from error


class LPIPS(nn.Module):
    """Per-image LPIPS v0.1 distance (lower is more similar) over one backbone."""

    def __init__(self, backbone: str = "alex", weights_path: str | Path | None = None) -> None:
        super().__init__()
        import torchvision

        backbone_file = find_backbone_weights(backbone, weights_path)
        heads_file = linear_heads_path(backbone)
        constructor, _, self.taps = BACKBONES[backbone]
        self.name = lpips_name(backbone)
        self.evaluator = lpips_evaluator(backbone)
        self.min_side = MIN_SIDE[backbone]
        state = _load(backbone_file)
        features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        self.features = getattr(torchvision.models, constructor)(weights=None).features
        self.features = self.features[: self.taps[-1] + 1]
        try:
            self.features.load_state_dict(features)
        except RuntimeError as error:
            raise EvaluatorUnavailable(
                f"{backbone_file}: not a torchvision {constructor} state dict ({error})"
            ) from error
        heads = _load(heads_file)
        self.heads = [heads[f"lin{i}.model.1.weight"].float() for i in range(len(self.taps))]
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.weights_sha256 = {
            str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in (backbone_file, heads_file)
        }
        self.eval().requires_grad_(False)

    def _tapped(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = ((images * 2 - 1) - self.shift) / self.scale
        tapped = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                tapped.append(x / torch.sqrt(1e-8 + (x**2).sum(dim=1, keepdim=True)))
        return tapped

    @torch.inference_mode()
    def forward(self, generated: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """LPIPS ``[N]`` of float images ``[N, 3, H, W]`` in [0, 1]."""
        if generated.shape != target.shape:
            raise ValueError(f"LPIPS needs equal shapes, got {generated.shape} and {target.shape}")
        total = torch.zeros(len(generated))
        for a, b, head in zip(
            self._tapped(generated), self._tapped(target), self.heads, strict=True
        ):
            total += ((a - b) ** 2 * head.view(1, -1, 1, 1)).sum(1).mean(dim=(1, 2))
        return total

    def distances(
        self, generated: torch.Tensor, target: torch.Tensor, batch_size: int = 64
    ) -> np.ndarray:
        """LPIPS per image in batches, as float64."""
        parts = [
            self(generated[i : i + batch_size], target[i : i + batch_size])
            for i in range(0, len(generated), batch_size)
        ]
        return torch.cat(parts).double().numpy() if parts else np.zeros(0)


#: ``evaluators.lpips`` when a caller's settings carry none (the schema's defaults).
DEFAULT_SETTINGS = {"backbone": "alex", "weights_path": None}


def lpips_settings(settings: dict) -> dict:
    """``settings['lpips']`` (``backbone``, ``weights_path``) over the defaults."""
    return {**DEFAULT_SETTINGS, **(settings.get("lpips") or {})}


def load_lpips(settings: dict) -> LPIPS | EvaluatorUnavailable:
    """The LPIPS of ``settings['lpips']``, or why it is unavailable (the reason names the
    missing file; the rows are n/a with it, as FID's are)."""
    import logging

    chosen = lpips_settings(settings)
    try:
        return LPIPS(chosen["backbone"], chosen["weights_path"])
    except EvaluatorUnavailable as error:
        logging.getLogger(__name__).warning("%s is n/a: %s", lpips_name(chosen["backbone"]), error)
        return error
