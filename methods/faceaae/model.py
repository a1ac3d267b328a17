"""Networks of Browatzki & Wallraven (ICCVW 2019), Sec. 4.1: E, G, D_z, D_x, Phi and Phi^-1.

- ``Encoder`` E: a ResNet18 (conv7x7/2, max-pool, four stages of basic blocks, average
  pool, linear to z in R^99), BatchNorm as in the official code (``MAD``).
- ``Generator`` G: the "inverted ResNet18": linear z -> 1x1, a 4x4 transposed conv to
  4x4, then one inverted basic block per doubling whose first conv is a 4x4 transposed
  conv (``MAD:networks/invresnet.py``), a last 4x4 transposed conv to RGB and tanh.
- ``LatentDiscriminator`` D_z: three fully connected layers of 1000 units with
  BatchNorm, dropout 0.2 and ReLU (Sec. 4.1).
- ``ImageDiscriminator`` D_x: the DCGAN discriminator (4x4 stride-2 convs, BatchNorm
  except on the first, LeakyReLU 0.2) down to 4x4, a 4x4 conv to one logit.
- ``Disentangler`` Phi and ``Entangler`` Phi^-1: two fully connected layers of 1000
  units; Phi has one linear head per attribute, f_id, f_e and f_s are L2-normalised and
  f_p (the three angles in radians) is not (``MAD:networks/archs.py``).

Every network works at any power-of-two resolution >= 32; ``width`` scales the channel
counts (64 is the paper's ResNet18), so the paper's 128x128 network is
``Encoder(128, 64)`` / ``Generator(128, 64)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Attribute sub-vectors of f in the order of the paper: pose, identity, expression, style.
ATTRIBUTES = ("pose", "identity", "expression", "style")


def _check_resolution(resolution: int) -> int:
    """log2(resolution / 4): the number of 2x up- or down-samplings between R and 4x4."""
    doublings = int(math.log2(resolution // 4)) if resolution >= 8 else 0
    if resolution < 32 or 4 * 2**doublings != resolution:
        raise ValueError(f"faceaae needs a power-of-two resolution >= 32, got {resolution}")
    return doublings


class BasicBlock(nn.Module):
    """ResNet basic block: conv3x3-BN-ReLU-conv3x3-BN plus a (projected) shortcut, ReLU."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                nn.BatchNorm2d(channels_out),
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Encoder(nn.Module):
    """E: image [B, 3, R, R] in [-1, 1] -> z [B, z_dim] (ResNet18, Sec. 4.1).

    As in MAD's ``resnet_ae``, the last stage works at 4x4 whatever the resolution: at
    128 the stem (conv7x7/2, max-pool) and stages 2-4 halve five times; at 64 the stem
    has no max-pool, at 32 its conv has stride 1; above 128 extra stride-2 stages of
    ``width`` channels come first (MAD's ``layer0``/``layer01`` at 256 and 512).
    """

    def __init__(
        self, resolution: int, width: int, z_dim: int, blocks: tuple[int, ...] = (2, 2, 2, 2)
    ) -> None:
        super().__init__()
        doublings = _check_resolution(resolution)
        stem_halvings = min(doublings - (len(blocks) - 1), 2)
        stem: list[nn.Module] = [
            nn.Conv2d(3, width, 7, 2 if stem_halvings >= 1 else 1, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ]
        if stem_halvings == 2:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)
        extra = doublings - (len(blocks) - 1) - stem_halvings
        layers: list[nn.Module] = [BasicBlock(width, width, 2) for _ in range(extra)]
        channels = width
        for stage, count in enumerate(blocks):
            out = width * 2**stage
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(BasicBlock(channels, out, stride))
                channels = out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, z_dim)

    def forward(self, images: Tensor) -> Tensor:
        features = self.layers(self.stem(images))
        return self.fc(features.mean(dim=(2, 3)))


class InvBasicBlock(nn.Module):
    """Inverted basic block: ConvT4x4/2-BN-ReLU-conv3x3-BN plus ConvT4x4/2-BN skip, ReLU."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(channels_in, channels_out, 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.skip = nn.Sequential(
            nn.ConvTranspose2d(channels_in, channels_out, 4, 2, 1, bias=False),
            nn.BatchNorm2d(channels_out),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.skip(x))


class Generator(nn.Module):
    """G: z [B, z_dim] -> image [B, 3, R, R] in [-1, 1] (inverted ResNet18, Sec. 4.1).

    Channels at spatial size s are ``max(width, 32 * width / s)`` (8w at 4x4, 4w at 8x8,
    2w at 16x16, w from 32x32 on), which is MAD's 512/256/128/64/64 for width 64.
    """

    def __init__(self, resolution: int, width: int, z_dim: int) -> None:
        super().__init__()
        doublings = _check_resolution(resolution)
        top = width * 8
        self.fc = nn.Linear(z_dim, top)
        self.stem = nn.Sequential(
            nn.ConvTranspose2d(top, top, 4, 1, 0, bias=False), nn.BatchNorm2d(top), nn.ReLU()
        )
        blocks: list[nn.Module] = []
        channels, size = top, 4
        for _ in range(doublings - 1):
            size *= 2
            out = max(width, 32 * width // size)
            blocks.append(InvBasicBlock(channels, out))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.to_rgb = nn.ConvTranspose2d(channels, 3, 4, 2, 1, bias=False)

    def forward(self, z: Tensor) -> Tensor:
        hidden = self.stem(self.fc(z)[:, :, None, None])
        return torch.tanh(self.to_rgb(self.blocks(hidden)))


class LatentDiscriminator(nn.Module):
    """D_z: z -> logit of "drawn from the prior p(z)" (3 FC layers, BN, dropout 0.2, ReLU)."""

    def __init__(self, z_dim: int, hidden: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(z_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.Dropout(dropout),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.BatchNorm1d(hidden),
            nn.Dropout(dropout),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).squeeze(1)


class ImageDiscriminator(nn.Module):
    """D_x: image [B, 3, R, R] in [-1, 1] -> logit of "real" (DCGAN discriminator)."""

    def __init__(self, resolution: int, width: int) -> None:
        super().__init__()
        doublings = _check_resolution(resolution)
        layers: list[nn.Module] = []
        channels = 3
        for index in range(doublings):
            out = width * min(2**index, 8)
            layers.append(nn.Conv2d(channels, out, 4, 2, 1, bias=False))
            if index > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images).flatten(1).mean(dim=1)


class Disentangler(nn.Module):
    """Phi: z -> f = (f_p, f_id, f_e, f_s); f_id, f_e, f_s on the unit sphere (Sec. 3.2)."""

    def __init__(self, z_dim: int, sizes: dict[str, int], hidden: int = 1000) -> None:
        super().__init__()
        self.sizes = dict(sizes)
        self.trunk = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.01))
        self.heads = nn.ModuleDict({name: nn.Linear(hidden, sizes[name]) for name in ATTRIBUTES})

    def forward(self, z: Tensor) -> dict[str, Tensor]:
        hidden = self.trunk(z)
        codes = {name: self.heads[name](hidden) for name in ATTRIBUTES}
        for name in ("identity", "expression", "style"):
            codes[name] = F.normalize(codes[name], dim=1)
        return codes


class Entangler(nn.Module):
    """Phi^-1: f (concatenated in ``ATTRIBUTES`` order) -> z (two FC layers, Sec. 4.1)."""

    def __init__(self, f_dim: int, z_dim: int, hidden: int = 1000) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(f_dim, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, z_dim)
        )

    def forward(self, codes: dict[str, Tensor]) -> Tensor:
        return self.net(torch.cat([codes[name] for name in ATTRIBUTES], dim=1))
