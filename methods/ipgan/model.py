"""Networks of IP-GAN (Zeno, Kalinovskiy, Matveev, ICANN 2019), as reconstructed.

The paper text available to us ([S0] of ../shared/research/methods.md) fixes only the
generator: "several upsampling, convolutional layers, and a set of residual blocks",
fed the identity code, with the pose code going through an MLP that outputs the
parameters of the AdaIN layers in every residual block. Everything else follows the
reconstruction of methods.md §2, which borrows the two-pathway design's networks from
CR-GAN (Tian et al. 2018, cited by IP-GAN) and the AdaIN-MLP from MUNIT (Huang et al.
2018, cited by IP-GAN):

- ``IdentityEncoder`` E_id: CR-GAN's encoder trunk (conv3x3, residual down-blocks to
  4x4, no normalisation) and a linear layer to the identity code.
- ``PoseEncoder`` E_p: the same trunk at half width, global average pooling and a
  linear layer to the low-dimensional pose code.
- ``Generator`` G: linear(identity) -> 4x4 map, then per stage nearest x2 upsampling,
  conv3x3 and one AdaIN residual block; conv3x3 -> 3 and tanh. ``PoseMLP`` maps the pose
  code to every AdaIN (gamma, beta).
- ``Critic`` D: CR-GAN's critic trunk and a linear layer to one WGAN score.

Every network works at any resolution 4 * 2^n >= 32; depth follows the resolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def num_stages(resolution: int) -> int:
    """Stride-2 stages between ``resolution`` and the 4x4 bottleneck."""
    stages = round(math.log2(resolution / 4)) if resolution >= 32 else 0
    if stages == 0 or 4 * 2**stages != resolution:
        raise ValueError(f"ipgan needs a power-of-two resolution >= 32, got {resolution}")
    return stages


def encoder_widths(width: int, stages: int) -> list[int]:
    """Output widths of the down-blocks: width * 2^i, capped at 8 * width (CR-GAN 64..512)."""
    return [min(width * 2**i, 8 * width) for i in range(stages)]


def generator_widths(width: int, stages: int) -> list[int]:
    """Widths of the generator stages, bottom to top; at 128 px and width 64 this is
    512, 256, 128, 64, 64 (methods.md §2, CR-GAN's decoder widths)."""
    return [width * 2 ** max(stages - 2 - s, 0) for s in range(stages)]


class ResidualDownBlock(nn.Module):
    """CR-GAN ``residualBlock_down``: ReLU-conv3x3-ReLU-conv3x3-avgpool2 plus an
    avgpool2-conv3x3 shortcut; no normalisation (the critic uses a gradient penalty)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        residual = self.conv2(F.relu(self.conv1(F.relu(x))))
        return F.avg_pool2d(residual, 2) + self.shortcut(F.avg_pool2d(x, 2))


class DownTrunk(nn.Module):
    """Image [B, C_in, R, R] in [-1, 1] -> feature map [B, C, 4, 4] (CR-GAN encoder/critic
    body); ``in_channels`` is 3 (colour) or 1 (the pose encoder's grey input)."""

    def __init__(self, resolution: int, width: int, in_channels: int = 3) -> None:
        super().__init__()
        widths = encoder_widths(width, num_stages(resolution))
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        blocks, channels = [], width
        for out in widths:
            blocks.append(ResidualDownBlock(channels, out))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = channels

    def forward(self, images: Tensor) -> Tensor:
        return self.blocks(self.stem(images))


class IdentityEncoder(nn.Module):
    """E_id: image -> identity code [B, identity_dim].

    ``pool="flatten"``: the flattened 4x4 map, linear (CR-GAN's encoder); ``pool="mean"``:
    ReLU, global average pool, linear, as the pose encoder (and face recognizers) pool, so
    the code keeps no spatial layout of the source image.
    """

    def __init__(
        self, resolution: int, width: int, identity_dim: int, pool: str = "flatten"
    ) -> None:
        super().__init__()
        if pool not in ("flatten", "mean"):
            raise ValueError(f"identity_pool must be flatten or mean, got {pool!r}")
        self.pool = pool
        self.trunk = DownTrunk(resolution, width)
        features = self.trunk.out_channels * (16 if pool == "flatten" else 1)
        self.head = nn.Linear(features, identity_dim)

    def forward(self, images: Tensor) -> Tensor:
        maps = self.trunk(images)
        if self.pool == "mean":
            return self.head(F.relu(maps).mean(dim=(2, 3)))
        return self.head(maps.flatten(1))


def standardised_grey(images: Tensor, eps: float = 1e-3) -> Tensor:
    """[B, 3, H, W] -> [B, 1, H, W]: the channel mean, standardised per image (zero mean,
    unit std over its pixels; std clamped at ``eps`` for flat images). What survives is
    the layout of light and dark regions; colour, brightness and contrast do not."""
    grey = images.mean(dim=1, keepdim=True)
    centred = grey - grey.mean(dim=(2, 3), keepdim=True)
    return centred / centred.std(dim=(2, 3), keepdim=True).clamp_min(eps)


class PoseEncoder(nn.Module):
    """E_p: image -> pose code [B, pose_dim] (trunk, ReLU, global average pool, linear;
    the pooling follows MUNIT's style encoder, so the code keeps no spatial layout).

    ``grey=True``: the trunk reads :func:`standardised_grey` of the image, in training and
    at test time alike (a fixed first layer; README "Deviations" 13)."""

    def __init__(self, resolution: int, width: int, pose_dim: int, grey: bool = False) -> None:
        super().__init__()
        self.grey = grey
        self.trunk = DownTrunk(resolution, width, 1 if grey else 3)
        self.head = nn.Linear(self.trunk.out_channels, pose_dim)

    def forward(self, images: Tensor) -> Tensor:
        if self.grey:
            images = standardised_grey(images)
        return self.head(F.relu(self.trunk(images)).mean(dim=(2, 3)))


class Critic(nn.Module):
    """D: image -> WGAN score [B] (CR-GAN critic without its supervised view head)."""

    def __init__(self, resolution: int, width: int) -> None:
        super().__init__()
        self.trunk = DownTrunk(resolution, width)
        self.head = nn.Linear(self.trunk.out_channels * 16, 1)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.trunk(images).flatten(1)).squeeze(1)


def adaptive_instance_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """AdaIN(x) = (1 + gamma) * (x - mu(x)) / sigma(x) + beta, statistics per sample and channel."""
    normalised = F.instance_norm(x, eps=eps)
    return normalised * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class AdaINResidualBlock(nn.Module):
    """MUNIT's AdaIN residual block: conv3x3-AdaIN-ReLU-conv3x3-AdaIN plus the identity skip.

    It has no parameters of its own for the norms: ``params`` [B, 4C] holds
    (gamma1, beta1, gamma2, beta2), produced by the pose MLP.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    @property
    def n_params(self) -> int:
        return 4 * self.channels

    def forward(self, x: Tensor, params: Tensor) -> Tensor:
        gamma1, beta1, gamma2, beta2 = params.chunk(4, dim=1)
        out = F.relu(adaptive_instance_norm(self.conv1(x), gamma1, beta1))
        out = adaptive_instance_norm(self.conv2(out), gamma2, beta2)
        return x + out


class PoseMLP(nn.Module):
    """Pose code -> all AdaIN parameters: 3 linear layers with ReLU (MUNIT ``mlp_dim``)."""

    def __init__(self, pose_dim: int, hidden: int, n_params: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(pose_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_params),
        )

    def forward(self, pose: Tensor) -> Tensor:
        return self.layers(pose)


class Generator(nn.Module):
    """G(identity code, pose code) -> image [B, 3, R, R] in [-1, 1].

    The identity code is the generator's input (a linear layer to a 4x4 map); the pose
    code reaches the image only through the AdaIN parameters of the residual blocks
    ([S0]: "the desired pose code is fed into a multilayer perceptron (MLP) in order to
    generate parameters of AdaIn layers ... injected in each residual block").
    """

    def __init__(
        self, resolution: int, width: int, identity_dim: int, pose_dim: int, mlp_hidden: int
    ) -> None:
        super().__init__()
        widths = generator_widths(width, num_stages(resolution))
        self.base_channels = widths[0]
        self.project = nn.Linear(identity_dim, widths[0] * 16)
        self.convs = nn.ModuleList()
        self.blocks = nn.ModuleList()
        channels = widths[0]
        for out in widths:
            self.convs.append(nn.Conv2d(channels, out, 3, padding=1))
            self.blocks.append(AdaINResidualBlock(out))
            channels = out
        self.to_rgb = nn.Conv2d(channels, 3, 3, padding=1)
        self.splits = [block.n_params for block in self.blocks]
        self.mlp = PoseMLP(pose_dim, mlp_hidden, sum(self.splits))

    def forward(self, identity: Tensor, pose: Tensor) -> Tensor:
        x = self.project(identity).view(-1, self.base_channels, 4, 4)
        adain = self.mlp(pose).split(self.splits, dim=1)
        for conv, block, params in zip(self.convs, self.blocks, adain, strict=True):
            x = F.relu(conv(F.interpolate(x, scale_factor=2.0, mode="nearest")))
            x = block(x, params)
        return torch.tanh(self.to_rgb(F.relu(x)))


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor, weights: Tensor) -> Tensor:
    """WGAN-GP penalty per sample, (||grad_x D(x_hat)||_2 - 1)^2 with x_hat = w real + (1 - w)
    fake; returns [B] so the caller can average each pathway's share separately.

    ``weights`` [B] are the interpolation weights (drawn by the caller from the torch RNG).
    """
    w = weights.view(-1, 1, 1, 1)
    mixed = (w * real.detach() + (1 - w) * fake.detach()).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grads.flatten(1).norm(dim=1) - 1) ** 2


class SceneDiscriminator(nn.Module):
    """C: two pose codes -> logit that they come from one session (DrNet's scene
    discriminator, Denton & Birodkar 2017 Sec. 3; ``edenton/drnet`` ``makeSceneDiscriminator``:
    the concatenated codes through linear-ReLU-linear-ReLU-linear, 100 hidden units, and a
    sigmoid, here folded into the loss as BCE on logits)."""

    def __init__(self, pose_dim: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(2 * pose_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, first: Tensor, second: Tensor) -> Tensor:
        return self.layers(torch.cat([first, second], dim=1)).squeeze(1)
