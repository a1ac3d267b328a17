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
from bench.errors import CheckpointError
from bench.metrics.pairs import pair_image_path, read_pairs
from bench.metrics.pose import pose_error_degrees
from bench.metrics.verification import evaluate_verification, pair_distances
from bench.train import atomic_torch_save, load_checkpoint, seed_everything

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
        chunks = [self.pose_net(images[i : i + batch_size]) * scale for i in range(0, len(images), batch_size)]
        return torch.cat(chunks).numpy().astype(np.float64)

    @classmethod
    def load(cls, path: Path) -> SynthOracle:
        state = load_checkpoint(Path(path))
        if state.get("method") != NAME:
            raise CheckpointError(f"{path}: not a {NAME} checkpoint (found {state.get('method')!r})")
        settings = state["settings"]
        identity_net = ConvTrunk(state["resolution"], settings["width"], settings["embedding_dim"])
        pose_net = ConvTrunk(state["resolution"], settings["width"], 3)
        identity_net.load_state_dict(state["identity_net"])
        pose_net.load_state_dict(state["pose_net"])
        return cls(identity_net.eval(), pose_net.eval(), json.loads(state["quality"]))


def _cosface_logits(embeddings: Tensor, weight: Tensor, labels: Tensor | None) -> Tensor:
    cosine = F.normalize(embeddings, dim=1) @ F.normalize(weight, dim=1).T
    if labels is not None:
        cosine = cosine - COSFACE_MARGIN * F.one_hot(labels, weight.shape[0])
    return COSFACE_SCALE * cosine


def verification_of_embeddings(oracle: SynthOracle, test: FaceData, pairs_path: Path) -> dict:
    """LFW-protocol verification of the identity embedding on ``pairs.txt``."""
    pairs = read_pairs(pairs_path)
    row_of = {p: i for i, p in enumerate(test.index["path"])}
    rows1, rows2 = [], []
    for pair in pairs:
        for name, number, rows in ((pair.name1, pair.number1, rows1), (pair.name2, pair.number2, rows2)):
            path = f"images/{pair_image_path(name, number)}"
            if path not in row_of:
                raise CheckpointError(
                    f"{pairs_path}: line {pair.line}: image {path} is not in the test split"
                )
            rows.append(row_of[path])
    embeddings = oracle.embed(to_float_images(test.images))
    distances = pair_distances(embeddings[rows1], embeddings[rows2], "cosine")
    result = evaluate_verification(
        distances, np.array([p.same for p in pairs]), np.array([p.fold for p in pairs])
    )
    return result.as_dict()


def train_synth_oracle(
    train: FaceData, test: FaceData, pairs_path: Path, out_path: Path, settings: dict[str, Any]
) -> dict[str, Any]:
    """Train both oracles on ``train``, measure them on ``test``, save to ``out_path``."""
    seed_everything(settings["seed"])
    resolution = train.resolution
    identity_net = ConvTrunk(resolution, settings["width"], settings["embedding_dim"])
    pose_net = ConvTrunk(resolution, settings["width"], 3)
    # channels_last: about 1.2x faster convolutions on CPU, same numbers.
    identity_net = identity_net.to(memory_format=torch.channels_last)
    pose_net = pose_net.to(memory_format=torch.channels_last)
    n_classes = int(train.identity_labels.max()) + 1
    class_weight = nn.Parameter(torch.randn(n_classes, settings["embedding_dim"]) * 0.01)
    params = [*identity_net.parameters(), *pose_net.parameters(), class_weight]
    optimizer = torch.optim.AdamW(params, lr=settings["lr"], weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings["lr"], total_steps=settings["steps"])
    labels = torch.from_numpy(train.identity_labels)
    targets = torch.from_numpy(train.poses) / torch.tensor(POSE_SCALE)
    images = to_float_images(train.images)
    generator = np.random.default_rng(settings["seed"])
    identity_net.train()
    pose_net.train()
    began = time.perf_counter()
    bar = tqdm(range(settings["steps"]), desc="train synth-oracle", unit="step", mininterval=2.0)
    for _ in bar:
        rows = torch.from_numpy(generator.integers(0, len(train), settings["batch_size"]))
        batch = images[rows]
        id_loss = F.cross_entropy(_cosface_logits(identity_net(batch), class_weight, labels[rows]), labels[rows])
        pose_loss = F.smooth_l1_loss(pose_net(batch), targets[rows], beta=0.05)
        loss = id_loss + 10.0 * pose_loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(identity=f"{id_loss.item():.3f}", pose=f"{pose_loss.item():.4f}", refresh=False)
    seconds = time.perf_counter() - began

    oracle = SynthOracle(identity_net.eval(), pose_net.eval(), {})
    predicted = oracle.pose(to_float_images(test.images))
    errors = pose_error_degrees(predicted, test.poses.astype(np.float64))
    quality = {
        "evaluator": NAME,
        "trained_on": f"{train.name} train split ({n_classes} identities, {len(train)} images)",
        "pose_mae_degrees": {k: float(np.mean(v)) for k, v in errors.items()},
        "pose_test_images": len(test),
        "verification": verification_of_embeddings(oracle, test, pairs_path),
        "train_seconds": round(seconds, 1),
        "settings": settings,
    }
    oracle.quality = quality
    atomic_torch_save(
        {
            "format": 1,
            "method": NAME,
            "settings": settings,
            "resolution": resolution,
            "identity_net": identity_net.state_dict(),
            "pose_net": pose_net.state_dict(),
            "quality": json.dumps(quality),
        },
        out_path,
    )
    log.info(
        "synth-oracle: verification accuracy %.4f on test pairs, pose MAE %.2f deg",
        quality["verification"]["accuracy"],
        quality["pose_mae_degrees"]["mean"],
    )
    return quality
