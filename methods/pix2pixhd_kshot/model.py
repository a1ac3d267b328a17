"""Networks of pix2pixHD (Wang et al., CVPR 2018; NVIDIA/pix2pixHD ``models/networks.py``):
the global generator and the multi-scale PatchGAN discriminator, with instance norm."""

from __future__ import annotations

import math

from torch import Tensor, nn


def downsamplings(resolution: int, wanted: int) -> int:
    """n_downsample_global, capped so that the bottleneck stays at least 4x4."""
    stages = int(math.log2(resolution // 4))
    if resolution < 32 or 4 * 2**stages != resolution:
        raise ValueError(f"pix2pixhd_kshot needs a power-of-two resolution >= 32, got {resolution}")
    return min(wanted, stages)


class ResnetBlock(nn.Module):
    """x + [reflect-pad, conv3, IN, ReLU, reflect-pad, conv3, IN](x) (pix2pixHD ResnetBlock)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class GlobalGenerator(nn.Module):
    """c7s1-ngf, n_down x (conv3 s2, IN, ReLU) doubling the width, n_blocks ResnetBlocks,
    n_down x (convT3 s2, IN, ReLU) halving it, c7s1-3, tanh. IN without affine parameters."""

    def __init__(
        self, in_channels: int, ngf: int, n_downsample: int, n_blocks: int, max_width: int
    ) -> None:
        super().__init__()

        def width(i: int) -> int:
            return min(ngf * 2**i, max_width)

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        for i in range(n_downsample):
            layers += [
                nn.Conv2d(width(i), width(i + 1), 3, stride=2, padding=1),
                nn.InstanceNorm2d(width(i + 1)),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(width(n_downsample)) for _ in range(n_blocks)]
        for i in reversed(range(n_downsample)):
            layers += [
                nn.ConvTranspose2d(
                    width(i + 1), width(i), 3, stride=2, padding=1, output_padding=1
                ),
                nn.InstanceNorm2d(width(i)),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: conv4 s2 ndf + LReLU; (n_layers - 1) x conv4 s2 + IN + LReLU doubling the
    width; conv4 s1 + IN + LReLU; conv4 s1 -> 1. Padding ceil(3/2) = 2, as pix2pixHD."""

    def __init__(self, in_channels: int, ndf: int, n_layers: int, max_width: int) -> None:
        super().__init__()
        kw, pad = 4, 2
        layers: list[nn.Sequential] = [
            nn.Sequential(nn.Conv2d(in_channels, ndf, kw, 2, pad), nn.LeakyReLU(0.2, True))
        ]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = min(channels * 2, max_width)
            stride = 2 if n < n_layers else 1
            layers.append(
                nn.Sequential(
                    nn.Conv2d(channels, out, kw, stride, pad),
                    nn.InstanceNorm2d(out),
                    nn.LeakyReLU(0.2, True),
                )
            )
            channels = out
        layers.append(nn.Sequential(nn.Conv2d(channels, 1, kw, 1, pad)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Every layer's output; the last is the patch score map (getIntermFeat=True)."""
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """num_D PatchGANs on the input downsampled by AvgPool(3, 2, 1, count_include_pad=False)
    between scales; returns each scale's layer outputs, finest scale first."""

    def __init__(
        self, in_channels: int, ndf: int, n_layers: int, num_d: int, max_width: int
    ) -> None:
        super().__init__()
        self.scales = nn.ModuleList(
            [NLayerDiscriminator(in_channels, ndf, n_layers, max_width) for _ in range(num_d)]
        )
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        outputs = []
        for i, scale in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            outputs.append(scale(x))
        return outputs
