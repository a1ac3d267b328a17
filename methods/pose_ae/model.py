"""Networks of pose_ae: a strided conv encoder and a decoder conditioned on (yaw, pitch, roll)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _stages(resolution: int) -> int:
    stages = int(math.log2(resolution // 4))
    if 4 * 2**stages != resolution:
        raise ValueError(f"pose_ae needs a resolution of 4 * 2^n, got {resolution}")
    return stages


def pose_features(pose_degrees: Tensor) -> Tensor:
    """(yaw, pitch, roll) in degrees -> [angle/90, sin, cos] per angle (9 features)."""
    radians = torch.deg2rad(pose_degrees)
    return torch.cat([pose_degrees / 90.0, radians.sin(), radians.cos()], dim=-1)


class Encoder(nn.Module):
    """Image [B, 3, R, R] in [-1, 1] -> identity code [B, code_dim]."""

    def __init__(self, resolution: int, width: int, code_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for stage in range(_stages(resolution)):
            out = min(width * 2**stage, width * 8)
            layers += [
                nn.Conv2d(channels, out, 4, stride=2, padding=1),
                nn.GroupNorm(min(8, out), out),
                nn.LeakyReLU(0.2),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels * 16, code_dim)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.features(images).flatten(1))


class Decoder(nn.Module):
    """[identity code, pose features] -> image [B, 3, R, R] in [-1, 1]."""

    def __init__(self, resolution: int, width: int, code_dim: int) -> None:
        super().__init__()
        stages = _stages(resolution)
        self.channels = min(width * 2 ** (stages - 1), width * 8)
        self.project = nn.Linear(code_dim + 9, self.channels * 16)
        layers: list[nn.Module] = []
        channels = self.channels
        for stage in reversed(range(stages)):
            out = min(width * 2 ** max(stage - 1, 0), width * 8)
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(channels, out, 3, padding=1),
                nn.GroupNorm(min(8, out), out),
                nn.LeakyReLU(0.2),
            ]
            channels = out
        layers += [nn.Conv2d(channels, 3, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, identity: Tensor, pose_degrees: Tensor) -> Tensor:
        hidden = self.project(torch.cat([identity, pose_features(pose_degrees)], dim=1))
        return self.body(hidden.view(-1, self.channels, 4, 4))
