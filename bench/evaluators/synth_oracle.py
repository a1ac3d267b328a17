"""The SynthFaces oracles: an identity embedding network and a head-pose regressor.

Both are trained once per dataset on the *train* identities only, and their own
quality is measured on the held-out test identities and written beside every score
they produce: verification accuracy of the identity embedding on the dataset's
``pairs.txt`` (LFW protocol) and the pose regressor's MAE in degrees on real renders,
the floor no generated image can beat.

The identity network is trained as a CosFace classifier (normalised softmax with an
additive cosine margin, Wang et al. 2018) and used as an L2-normalised embedding, the
usual recipe of face recognizers, so it generalises to identities it never saw.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from bench.data.dataset import FaceData, to_float_images
from bench.data.pairs import pair_image_path, read_pairs
from bench.errors import CheckpointError, DataError
from bench.metrics.pose import pose_error_degrees
from bench.metrics.verification import evaluate_verification, pair_distances
from bench.runtime import atomic_torch_save, load_checkpoint, seed_everything

log = logging.getLogger(__name__)

NAME = "synth-oracle"
#: Angle scales (degrees) the pose head predicts in units of: yaw, pitch, roll ranges.
POSE_SCALE = (90.0, 30.0, 20.0)
COSFACE_SCALE = 30.0
COSFACE_MARGIN = 0.2


class ConvTrunk(nn.Module):
    """Strided conv stack from ``resolution`` down to 4x4, then a linear head to ``out_dim``."""

    def __init__(self, resolution: int, width: int, out_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for stage in range(int(math.log2(resolution // 4))):
            out = min(width * 2**stage, width * 8)
            layers += [
                nn.Conv2d(channels, out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.Conv2d(out, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(channels * 16, out_dim))

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images * 2 - 1))


@dataclass
class SynthOracle:
    """The pair of trained oracle networks, in eval mode, with their measured quality."""

    identity_net: ConvTrunk
    pose_net: ConvTrunk
    quality: dict[str, Any]
    name: str = NAME

    @torch.inference_mode()
    def embed(self, images: Tensor, batch_size: int = 256) -> np.ndarray:
        """L2-normalised identity embeddings ``[N, D]`` of float images ``[N, 3, H, W]``."""
        chunks = [
            F.normalize(self.identity_net(images[i : i + batch_size]), dim=1)
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(chunks).numpy().astype(np.float64)

    @torch.inference_mode()
    def pose(self, images: Tensor, batch_size: int = 256) -> np.ndarray:
        """(yaw, pitch, roll) in degrees ``[N, 3]`` of float images ``[N, 3, H, W]``."""
        scale = torch.tensor(POSE_SCALE)
        chunks = [
            self.pose_net(images[i : i + batch_size]) * scale
            for i in range(0, len(images), batch_size)
        ]
        return torch.cat(chunks).numpy().astype(np.float64)

    @classmethod
    def load(cls, identity_path: Path, pose_path: Path) -> SynthOracle:
        """Both oracles from their checkpoints (``weights_only``), with their quality."""
        identity_net, identity_quality = _load_part(Path(identity_path), "identity")
        pose_net, pose_quality = _load_part(Path(pose_path), "pose")
        return cls(identity_net, pose_net, {**identity_quality, **pose_quality})


def _load_part(path: Path, part: str) -> tuple[ConvTrunk, dict[str, Any]]:
    state = load_checkpoint(path)
    if state.get("method") != f"{NAME}-{part}":
        raise CheckpointError(
            f"{path}: not a {NAME}-{part} checkpoint (found {state.get('method')!r})"
        )
    settings = state["settings"]
    net = ConvTrunk(state["resolution"], settings["width"], settings.get("embedding_dim", 3))
    net.load_state_dict(state["net"])
    return net.eval(), json.loads(state["quality"])


def _cosface_logits(embeddings: Tensor, weight: Tensor, labels: Tensor | None) -> Tensor:
    cosine = F.normalize(embeddings, dim=1) @ F.normalize(weight, dim=1).T
    if labels is not None:
        cosine = cosine - COSFACE_MARGIN * F.one_hot(labels, weight.shape[0])
    return COSFACE_SCALE * cosine


def augment(images: Tensor, rng: np.random.Generator, max_shift: int = 3) -> tuple[Tensor, Tensor]:
    """Random horizontal flips and one random shift of up to ``max_shift`` pixels per batch.

    Returns the images and the flip mask: a flip mirrors the head, so yaw and roll
    change sign and identity is kept (SynthFaces heads are mirror-symmetric in shape).
    """
    flip = torch.from_numpy(rng.random(len(images)) < 0.5)
    images = torch.where(flip[:, None, None, None], images.flip(-1), images)
    dx, dy = (int(v) for v in rng.integers(-max_shift, max_shift + 1, 2))
    return torch.roll(images, (dy, dx), (2, 3)), flip


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``[N, 3, H, W]`` images (radius 3 sigma, edges replicated)."""
    radius = max(1, math.ceil(3.0 * sigma))
    taps = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(taps**2) / (2.0 * sigma * sigma))
    kernel = (kernel / kernel.sum()).repeat(images.shape[1], 1, 1, 1)
    images = F.pad(images, (radius, radius, 0, 0), mode="replicate")
    images = F.conv2d(images, kernel.view(-1, 1, 1, 2 * radius + 1), groups=images.shape[1])
    images = F.pad(images, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(images, kernel.view(-1, 1, 2 * radius + 1, 1), groups=images.shape[1])


def resample(images: Tensor, factor: int) -> Tensor:
    """Area-downsample by ``factor`` and upsample back (bilinear): a low-resolution image."""
    size = images.shape[-1]
    small = F.interpolate(images, size=max(1, size // factor), mode="area")
    return F.interpolate(small, size=size, mode="bilinear", align_corners=False)


def add_noise(images: Tensor, sigma: float, noise: Tensor) -> Tensor:
    """``images + sigma * noise`` (``noise`` standard normal, same shape), clamped to [0, 1]."""
    return (images + sigma * noise).clamp(0.0, 1.0)


def change_contrast(images: Tensor, contrast: float, shift: float = 0.0) -> Tensor:
    """Scale the contrast about mid-grey and shift the brightness, clamped to [0, 1]."""
    return (0.5 + contrast * (images - 0.5) + shift).clamp(0.0, 1.0)


#: Fixed degradations the pose regressor's robustness is reported under (quality.json):
#: the kinds of damage a generator's output shows (blur, low resolution, noise, contrast).
#: Each takes the images and a torch generator (for the noise).
ROBUSTNESS_CHECKS = {
    "blur_sigma1": lambda x, g: gaussian_blur(x, 1.0),
    "blur_sigma2": lambda x, g: gaussian_blur(x, 2.0),
    "downsample4": lambda x, g: resample(x, 4),
    "noise_0.05": lambda x, g: add_noise(x, 0.05, torch.randn(x.shape, generator=g)),
    "contrast_0.5": lambda x, g: change_contrast(x, 0.5),
}


def degrade(images: Tensor, rng: np.random.Generator, fraction: float) -> Tensor:
    """Damage a random ``fraction`` of the images as a generator's outputs are damaged.

    Each chosen image gets one of: Gaussian blur (sigma 0.5-3 px), down- and up-sampling
    (factor 2-6), additive Gaussian noise (sigma up to 0.1) or a contrast and brightness
    change (contrast 0.4-1, shift +-0.15). The pose label is unchanged: these degradations
    keep the head's pose, so a regressor trained on them reads pose, not image quality
    (head-pose estimators trained for real use do the same, e.g. Hopenet's blur and
    down-sampling augmentation, Ruiz et al. 2018).
    """
    if fraction <= 0.0:
        return images
    images = images.clone()
    chosen = np.flatnonzero(rng.random(len(images)) < fraction)
    for row in chosen:
        x = images[row : row + 1]
        kind = int(rng.integers(0, 4))
        if kind == 0:
            x = gaussian_blur(x, float(rng.uniform(0.5, 3.0)))
        elif kind == 1:
            x = resample(x, int(rng.integers(2, 7)))
        elif kind == 2:
            noise = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
            x = add_noise(x, float(rng.uniform(0.0, 0.1)), noise)
        else:
            x = change_contrast(x, float(rng.uniform(0.4, 1.0)), float(rng.uniform(-0.15, 0.15)))
        images[row : row + 1] = x
    return images


def pose_robustness(
    oracle: SynthOracle, test: FaceData, checks: dict | None = None, seed: int = 0
) -> dict[str, float]:
    """Mean pose error (degrees) on the test renders under each of ``checks``
    (default ``ROBUSTNESS_CHECKS``); every check draws its noise from ``seed``."""
    images = to_float_images(test.images)
    target = test.poses.astype(np.float64)
    errors = {}
    for name, check in (checks or ROBUSTNESS_CHECKS).items():
        damaged = check(images, torch.Generator().manual_seed(seed))
        errors[name] = float(np.mean(pose_error_degrees(oracle.pose(damaged), target)["mean"]))
    return errors


def load_pose_oracle(path: Path) -> SynthOracle:
    """A pose regressor checkpoint alone (``oracle.pose`` only), with its quality."""
    net, quality = _load_part(Path(path), "pose")
    return SynthOracle(net, net, quality)


def verification_of_embeddings(oracle: SynthOracle, test: FaceData, pairs_path: Path) -> dict:
    """LFW-protocol verification of the identity embedding on ``pairs.txt``."""
    pairs = read_pairs(pairs_path)
    row_of = {p: i for i, p in enumerate(test.index["path"])}
    rows1, rows2 = [], []
    for pair in pairs:
        for name, number, rows in (
            (pair.name1, pair.number1, rows1),
            (pair.name2, pair.number2, rows2),
        ):
            path = f"images/{pair_image_path(name, number)}"
            if path not in row_of:
                raise DataError(
                    f"{pairs_path}: line {pair.line}: image {path} is not in the test split"
                )
            rows.append(row_of[path])
    embeddings = oracle.embed(to_float_images(test.images))
    distances = pair_distances(embeddings[rows1], embeddings[rows2], "cosine")
    result = evaluate_verification(
        distances, np.array([p.same for p in pairs]), np.array([p.fold for p in pairs])
    )
    return result.as_dict()


def one_cycle_adamw(
    parameters, settings: dict[str, Any]
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The SynthFaces evaluators' optimizer: AdamW (weight decay 5e-4) under a one-cycle
    schedule peaking at ``settings["lr"]`` over ``settings["steps"]``."""
    optimizer = torch.optim.AdamW(parameters, lr=settings["lr"], weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, settings["lr"], total_steps=settings["steps"]
    )
    return optimizer, schedule


def optimizer_step(loss: torch.Tensor, optimizer, schedule, bar) -> None:
    """One step of an evaluator's training loop, its loss shown on the progress bar."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)


def _fit(
    part: str,
    net: ConvTrunk,
    extra: list[nn.Parameter],
    loss_of,
    train: FaceData,
    settings: dict[str, Any],
) -> float:
    """The shared loop: AdamW + one-cycle schedule over augmented random batches."""
    optimizer, schedule = one_cycle_adamw([*net.parameters(), *extra], settings)
    images = to_float_images(train.images)
    rng = np.random.default_rng(settings["seed"])
    net.train()
    began = time.perf_counter()
    bar = tqdm(range(settings["steps"]), desc=f"train {NAME}-{part}", unit="step", mininterval=2.0)
    for _ in bar:
        rows = torch.from_numpy(rng.integers(0, len(train), settings["batch_size"]))
        batch, flip = augment(images[rows], rng)
        batch = degrade(batch, rng, settings.get("degrade", 0.0))
        loss = loss_of(net(batch), rows, flip)
        optimizer_step(loss, optimizer, schedule, bar)
    net.eval()
    return time.perf_counter() - began


def _save(
    path: Path, part: str, net: ConvTrunk, settings: dict, resolution: int, quality: dict
) -> None:
    atomic_torch_save(
        {
            "format": 1,
            "method": f"{NAME}-{part}",
            "settings": settings,
            "resolution": resolution,
            "net": net.state_dict(),
            "quality": json.dumps(quality),
        },
        path,
    )


def train_identity_oracle(
    train: FaceData, test: FaceData, pairs_path: Path, out_path: Path, settings: dict[str, Any]
) -> dict[str, Any]:
    """CosFace-train the identity embedding on ``train``; verify it on ``test``'s pairs."""
    seed_everything(settings["seed"])  # before any weight is initialised
    net = ConvTrunk(train.resolution, settings["width"], settings["embedding_dim"])
    net = net.to(memory_format=torch.channels_last)  # about 1.2x faster on CPU, same numbers
    n_classes = int(train.identity_labels.max()) + 1
    class_weight = nn.Parameter(torch.randn(n_classes, settings["embedding_dim"]) * 0.01)
    labels = torch.from_numpy(train.identity_labels)

    def loss_of(embeddings: Tensor, rows: Tensor, flip: Tensor) -> Tensor:
        return F.cross_entropy(
            _cosface_logits(embeddings, class_weight, labels[rows]), labels[rows]
        )

    seconds = _fit("identity", net, [class_weight], loss_of, train, settings)
    oracle = SynthOracle(net, net, {})
    verification = verification_of_embeddings(oracle, test, pairs_path)
    quality = {
        "verification": verification,
        "identity_trained_on": f"{train.name} train split ({n_classes} identities, {len(train)} images)",
        "identity_train_seconds": round(seconds, 1),
    }
    _save(out_path, "identity", net, settings, train.resolution, quality)
    log.info(
        "%s-identity: verification accuracy %.4f ± %.4f on %s",
        NAME,
        verification["accuracy"],
        verification["accuracy_sem"],
        pairs_path,
    )
    return quality


def train_pose_oracle(
    train: FaceData, test: FaceData, out_path: Path, settings: dict[str, Any]
) -> dict[str, Any]:
    """Train the head-pose regressor on ``train``; its MAE on ``test`` renders is the floor."""
    seed_everything(settings["seed"])  # before any weight is initialised
    net = ConvTrunk(train.resolution, settings["width"], 3).to(memory_format=torch.channels_last)
    targets = torch.from_numpy(train.poses) / torch.tensor(POSE_SCALE)
    mirror = torch.tensor([-1.0, 1.0, -1.0])  # a flipped image: yaw and roll change sign

    def loss_of(predicted: Tensor, rows: Tensor, flip: Tensor) -> Tensor:
        target = torch.where(flip[:, None], targets[rows] * mirror, targets[rows])
        return F.smooth_l1_loss(predicted, target, beta=0.05)

    seconds = _fit("pose", net, [], loss_of, train, settings)
    oracle = SynthOracle(net, net, {})
    errors = pose_error_degrees(
        oracle.pose(to_float_images(test.images)), test.poses.astype(np.float64)
    )
    robustness = pose_robustness(oracle, test)
    quality = {
        "pose_mae_degrees": {k: float(np.mean(v)) for k, v in errors.items()},
        "pose_mae_degraded_degrees": robustness,
        "pose_degrade_fraction": float(settings.get("degrade", 0.0)),
        "pose_test_images": len(test),
        "pose_trained_on": f"{train.name} train split ({len(train)} images)",
        "pose_train_seconds": round(seconds, 1),
    }
    _save(out_path, "pose", net, settings, train.resolution, quality)
    log.info(
        "%s-pose: MAE %.2f deg (yaw %.2f, pitch %.2f, roll %.2f) on %d test renders",
        NAME,
        *(quality["pose_mae_degrees"][k] for k in ("mean", "yaw", "pitch", "roll")),
        len(test),
    )
    log.info(
        "%s-pose: MAE on degraded test renders: %s",
        NAME,
        ", ".join(f"{name} {value:.2f}" for name, value in robustness.items()),
    )
    return quality
