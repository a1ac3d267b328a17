"""Networks of FSHM (Zakharov et al. 2019, "Few-Shot Adversarial Learning of Realistic Neural
Talking Head Models"): embedder E, generator G with projected AdaIN, projection discriminator D.

Every block is the paper's (BigGAN-style residual blocks, spectral norm on every convolution,
SAGAN self-attention after the third down block, 32x32 at 256 px). E and D halve the image
down to 4x4 (six blocks at the paper's 256 px, four at 64 px) and pool it. G's down path has
``down_blocks`` blocks (both ports: 6 at 256 px, a 4x4 bottleneck; ``tiny``: 2 at 64 px, a
16x16 bottleneck that can carry the landmark layout, README).
The landmark regressor that stands in for the paper's external landmark detector is
CainGAN's (``methods/caingan/model.py``; README, "source landmarks").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

ATTENTION_AFTER = 3  # self-attention follows the third down block (32x32 at the paper's 256 px)


def down_stages(resolution: int) -> int:
    """Number of stride-2 stages from ``resolution`` to the 4x4 bottleneck."""
    stages = int(math.log2(resolution // 4))
    if resolution < 32 or 4 * 2**stages != resolution:
        raise ValueError(f"fshm needs a power-of-two resolution >= 32, got {resolution}")
    return stages


def stage_widths(resolution: int, width: int, max_width: int) -> list[int]:
    """Channels after each down block: width, 2 width, ... capped at ``max_width``."""
    return [min(width * 2**i, max_width) for i in range(down_stages(resolution))]


def attention_after(resolution: int, blocks: int | None = None) -> int:
    """Index of the down block whose output gets self-attention: the third (the paper's 32x32
    map of a 256 px input; 8x8 at 64 px), so the network keeps the paper's layout; the last
    one when a path has fewer than three (``blocks``)."""
    return min(ATTENTION_AFTER, down_stages(resolution) if blocks is None else blocks) - 1


def sn_conv(in_channels: int, out_channels: int, kernel: int) -> nn.Module:
    """Spectrally normalised convolution, 'same' padding (the paper uses SN on every conv)."""
    return spectral_norm(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2))


class SelfAttention(nn.Module):
    """SAGAN self-attention: x + gamma * softmax(Q^T K) V, gamma learned from 0."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(1, channels // 8)
        self.query = sn_conv(channels, inner, 1)
        self.key = sn_conv(channels, inner, 1)
        self.value = sn_conv(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        query = self.query(x).flatten(2).transpose(1, 2)  # [B, N, C/8]
        key = self.key(x).flatten(2)  # [B, C/8, N]
        attention = torch.softmax(query @ key, dim=-1)  # [B, N, N]
        out = self.value(x).flatten(2) @ attention.transpose(1, 2)  # [B, C, N]
        return x + self.gamma * out.view(b, c, h, w)


class ResBlockDown(nn.Module):
    """Residual down block: [norm]-ReLU-conv3-[norm]-ReLU-conv3-avgpool + conv1-avgpool skip.

    No normalisation in E and D; instance norm (affine) in G's downsampling part (paper).
    """

    def __init__(self, in_channels: int, out_channels: int, norm: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.InstanceNorm2d(in_channels, affine=True) if norm else nn.Identity()
        self.conv1 = sn_conv(in_channels, out_channels, 3)
        self.norm2 = nn.InstanceNorm2d(out_channels, affine=True) if norm else nn.Identity()
        self.conv2 = sn_conv(out_channels, out_channels, 3)
        self.skip = sn_conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.relu(self.norm1(x)))
        h = self.conv2(F.relu(self.norm2(h)))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)


class ResBlock(nn.Module):
    """Same-resolution residual block without normalisation (D's extra block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = sn_conv(channels, channels, 3)
        self.conv2 = sn_conv(channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def adain(x: Tensor, scale: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """AdaIN(x; scale, bias) = (1 + scale) * (x - mu(x)) / sigma(x) + bias, per sample and
    channel. The paper's scale is psi itself; the offset 1 (as SPADE and CainGAN) keeps the
    main branches open while P e is still ~0 (README, deviations)."""
    normalised = F.instance_norm(x, eps=eps)
    return normalised * (1 + scale[:, :, None, None]) + bias[:, :, None, None]


class AdaptiveResBlock(nn.Module):
    """Residual block with AdaIN, optionally upsampling x2 (nearest) in its main and skip path.

    Main path: AdaIN-ReLU-[up]-conv3-AdaIN-ReLU-conv3; skip: [up]-conv1 (identity when the
    widths match and nothing is upsampled). Its AdaIN parameters are a slice of psi = P e.
    """

    def __init__(self, in_channels: int, out_channels: int, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.channels = (in_channels, out_channels)
        self.conv1 = sn_conv(in_channels, out_channels, 3)
        self.conv2 = sn_conv(out_channels, out_channels, 3)
        needs_skip = upsample or in_channels != out_channels
        self.skip = sn_conv(in_channels, out_channels, 1) if needs_skip else nn.Identity()

    @property
    def n_params(self) -> int:
        """Number of AdaIN parameters it takes: scale and bias of both normalisations."""
        return 2 * sum(self.channels)

    def forward(self, x: Tensor, psi: Tensor) -> Tensor:
        c_in, c_out = self.channels
        scale1, bias1, scale2, bias2 = psi.split([c_in, c_in, c_out, c_out], dim=1)
        h = F.relu(adain(x, scale1, bias1))
        skip = x
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(adain(self.conv1(h), scale2, bias2)))
        return h + self.skip(skip)


class DownTrunk(nn.Module):
    """The 6-channel (image, landmark image) trunk shared by the designs of E and D: residual
    down blocks to 4x4 with self-attention after the third. Returns every block's output."""

    def __init__(self, resolution: int, in_channels: int, widths: list[int]) -> None:
        super().__init__()
        self.attend_at = attention_after(resolution)
        self.blocks = nn.ModuleList()
        channels = in_channels
        for out in widths:
            self.blocks.append(ResBlockDown(channels, out))
            channels = out
        self.attention = SelfAttention(widths[self.attend_at])

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == self.attend_at:
                x = self.attention(x)
            features.append(x)
        return features


class Embedder(nn.Module):
    """E(x, y) -> e in R^d: residual down blocks, global sum pooling, ReLU (paper Sec. 3.2)."""

    def __init__(self, resolution: int, width: int, max_width: int) -> None:
        super().__init__()
        self.trunk = DownTrunk(resolution, 6, stage_widths(resolution, width, max_width))
        self.dim = stage_widths(resolution, width, max_width)[-1]

    def forward(self, images: Tensor, landmark_images: Tensor) -> Tensor:
        """Images in [-1, 1], landmark images in [0, 1], both [N, 3, H, W] -> [N, d]."""
        features = self.trunk(torch.cat([images, landmark_images * 2 - 1], dim=1))[-1]
        return F.relu(features.sum(dim=(2, 3)))


class Generator(nn.Module):
    """G(y_t, e): ``down_blocks`` downsampling residual blocks with instance norm (then
    self-attention, as in E), ``n_residual`` AdaIN residual blocks at the bottleneck, AdaIN up
    blocks back to the input size (self-attention at the mirrored size), ReLU-conv3-tanh. All
    AdaIN parameters are psi = P e (Sec. 3.2).
    """

    def __init__(
        self,
        resolution: int,
        width: int,
        max_width: int,
        embedding_dim: int,
        n_residual: int,
        down_blocks: int | None = None,
    ) -> None:
        super().__init__()
        widths = stage_widths(resolution, width, max_width)
        if down_blocks is not None:
            if not 1 <= down_blocks <= len(widths):
                raise ValueError(
                    f"fshm: down_blocks must be 1..{len(widths)} at {resolution} px, got {down_blocks}"
                )
            widths = widths[:down_blocks]
        self.attend_at = attention_after(resolution, len(widths))
        self.down = nn.ModuleList()
        channels = 3
        for out in widths:
            self.down.append(ResBlockDown(channels, out, norm=True))
            channels = out
        self.down_attention = SelfAttention(widths[self.attend_at])
        self.adaptive = nn.ModuleList(
            [AdaptiveResBlock(channels, channels, upsample=False) for _ in range(n_residual)]
        )
        up_widths = [*reversed(widths[:-1]), width]
        # Up block whose output has the down attention's size (-1: the bottleneck, before any).
        self.up_attend_at = len(widths) - 1 - self.attend_at - 1
        for out in up_widths:
            self.adaptive.append(AdaptiveResBlock(channels, out, upsample=True))
            channels = out
        self.up_attention = SelfAttention(widths[self.attend_at])  # same size, same width
        self.n_residual = n_residual
        self.to_rgb = sn_conv(channels, 3, 3)
        # P: the projection matrix psi = P e (no bias), N(0, 0.02) as in the ports.
        self.n_psi = [block.n_params for block in self.adaptive]
        self.projection = nn.Parameter(torch.randn(sum(self.n_psi), embedding_dim) * 0.02)

    def forward(self, landmark_images: Tensor, embedding: Tensor) -> Tensor:
        """Landmark images [B, 3, H, W] in [0, 1], embedding [B, d] -> image in [-1, 1]."""
        psi = embedding @ self.projection.t()  # psi_hat = P e_hat
        x = landmark_images * 2 - 1
        for i, block in enumerate(self.down):
            x = block(x)
            if i == self.attend_at:
                x = self.down_attention(x)
        for i, (block, psi_i) in enumerate(
            zip(self.adaptive, psi.split(self.n_psi, 1), strict=True)
        ):
            x = block(x, psi_i)
            if i - self.n_residual == self.up_attend_at:
                x = self.up_attention(x)
        return torch.tanh(self.to_rgb(F.relu(x)))


class ProjectionDiscriminator(nn.Module):
    """D(x, y, i): trunk on (x, y), one more residual block, sum pooling, ReLU -> v;
    realism r = v^T (W_i + w_0) + b, with W_i the column of training video i (Sec. 3.2)."""

    def __init__(self, resolution: int, width: int, max_width: int, n_videos: int) -> None:
        super().__init__()
        widths = stage_widths(resolution, width, max_width)
        self.trunk = DownTrunk(resolution, 6, widths)
        self.block = ResBlock(widths[-1])
        self.dim = widths[-1]
        self.video_embeddings = nn.Parameter(torch.randn(n_videos, self.dim) * 0.02)  # W
        self.w0 = nn.Parameter(torch.randn(self.dim) * 0.02)
        self.b = nn.Parameter(torch.zeros(1))

    def forward(
        self, images: Tensor, landmark_images: Tensor, video: Tensor
    ) -> tuple[Tensor, list[Tensor]]:
        """Realism scores [B] and the activations of every block (for feature matching)."""
        features = self.trunk(torch.cat([images, landmark_images * 2 - 1], dim=1))
        features.append(self.block(features[-1]))
        v = F.relu(features[-1].sum(dim=(2, 3)))
        score = (v * (self.video_embeddings[video] + self.w0)).sum(1) + self.b
        return score, features
