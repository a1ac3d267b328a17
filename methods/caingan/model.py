"""CainGAN networks (Ardelean & Sasu 2020, Sec. 3.1 and 3.3; authors' code `network/`).

- :class:`TargetedEmbedder`: (x_i, L(x_i), L(x_t)) -> spatial embedding e_i and
  responsibility r_i; :func:`combine` is Eq. (1) (or the plain mean, Eq. (7)).
- :class:`CainGenerator`: x_t_hat = G(L(x_t), e): ``down_samplings`` down-sampling residual
  blocks with instance norm (paper: 4, 224 -> 14 px), same-resolution residual blocks, then
  SPADE residual blocks (spectral norm) modulated by e, one per up-sampling step.
- :class:`MultiscaleDiscriminator`: pix2pixHD's multi-scale PatchGAN returning every
  layer's activations (for feature matching, Eq. (6)); D_I and D_P are two instances.
- :class:`LandmarkRegressor`: 68 landmark coordinates from an image, the stand-in for the
  pretrained face-alignment network the paper uses to draw L(x_i) of the source frames
  (the harness gives no source landmark images at test time; see README);
  :func:`draw_landmark_images` draws its points with the harness's own sketch code. fshm and
  pix2pixhd_kshot use both for the same purpose.
- :func:`seeded`: builds a sub-network from a random stream named by (base seed, name), so
  that the ablations start from the full model's weights wherever the shapes agree.

Convolutions initialised N(0, 0.02) where the authors' code does so (the embedder).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

#: Residual branch scale of the GAN-stability block (authors' ``ResnetStableBlock``).
RESIDUAL_SCALE = 0.1
#: Added to the sigmoid responsibilities so that Eq. (1) never divides by zero (code).
RESPONSIBILITY_FLOOR = 0.01


def stable_seed(base: int, name: str) -> int:
    """A seed for sub-network ``name`` from ``base``: sha256, so no Python hash randomisation."""
    digest = hashlib.sha256(f"{int(base)}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def draw_base_seed() -> int:
    """One draw from the global torch stream (set by the harness's seed) to name streams by."""
    return int(torch.randint(0, 2**62, (1,)))


@contextlib.contextmanager
def seeded(base: int, name: str) -> Iterator[None]:
    """Run the body (a sub-network's construction) on torch's CPU stream seeded by
    ``stable_seed(base, name)``; the global stream is restored afterwards.

    Parameters then depend on the sub-network's name and shape only, not on what was built
    before it: CainGAN w/o T's 6-channel embedder input no longer shifts every later
    initialisation (issue 19)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stable_seed(base, name))
        yield


class StableResBlock(nn.Module):
    """RB: x_s + 0.1 * conv(lrelu(conv(lrelu(x)))), 1x1 skip (no bias) when widths differ."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        hidden = min(c_in, c_out)
        self.conv_0 = nn.Conv2d(c_in, hidden, 3, padding=1)
        self.conv_1 = nn.Conv2d(hidden, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        dx = self.conv_0(F.leaky_relu(x, 0.2))
        dx = self.conv_1(F.leaky_relu(dx, 0.2))
        return self.skip(x) + RESIDUAL_SCALE * dx


class ResBlockDown(nn.Module):
    """RBD: spectral-norm convs; skip = avgpool(conv1x1(x)), main = avgpool(conv(relu(conv(relu x))))."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3) -> None:
        super().__init__()
        pad = kernel // 2
        self.skip = spectral_norm(nn.Conv2d(c_in, c_out, 1))
        self.conv_0 = spectral_norm(nn.Conv2d(c_in, c_out, kernel, padding=pad))
        self.conv_1 = spectral_norm(nn.Conv2d(c_out, c_out, kernel, padding=pad))

    def forward(self, x: Tensor) -> Tensor:
        main = self.conv_1(F.relu(self.conv_0(F.relu(x))))
        return F.avg_pool2d(self.skip(x), 2) + F.avg_pool2d(main, 2)


class SPADE(nn.Module):
    """SPADE (Park et al. 2019): IN(x) * (1 + gamma(e)) + beta(e), e nearest-resized to x."""

    def __init__(self, channels: int, label_channels: int, max_hidden: int) -> None:
        super().__init__()
        hidden = min(max_hidden, 2 * channels)
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 5, padding=2), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 5, padding=2)
        self.beta = nn.Conv2d(hidden, channels, 5, padding=2)

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        actv = self.shared(F.interpolate(embedding, size=x.shape[-2:], mode="nearest"))
        return self.norm(x) * (1 + self.gamma(actv)) + self.beta(actv)


class SPADEResBlock(nn.Module):
    """SPADE-ResBlock: SPADE-lrelu-conv twice, SPADE-conv1x1 skip; spectral norm on convs."""

    def __init__(self, c_in: int, c_out: int, label_channels: int, max_hidden: int) -> None:
        super().__init__()
        middle = min(c_in, c_out)
        self.norm_0 = SPADE(c_in, label_channels, max_hidden)
        self.conv_0 = spectral_norm(nn.Conv2d(c_in, middle, 3, padding=1))
        self.norm_1 = SPADE(middle, label_channels, max_hidden)
        self.conv_1 = spectral_norm(nn.Conv2d(middle, c_out, 3, padding=1))
        self.learned_skip = c_in != c_out
        if self.learned_skip:
            self.norm_s = SPADE(c_in, label_channels, max_hidden)
            self.conv_s = spectral_norm(nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        skip = self.conv_s(self.norm_s(x, embedding)) if self.learned_skip else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, embedding), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, embedding), 0.2))
        return skip + dx


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """The authors' ``weights_init``: conv weights ~ N(0, std)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, std)


class TargetedEmbedder(nn.Module):
    """E(x_i, L(x_i)[, L(x_t)]) -> (e_i, r_i), both ``[B*K, embed_dim, H/4, W/4]``.

    Trunk: RB(in -> w), RBD(-> 2w), RBD(-> 4w), RB(-> embed_dim), 4 x RB; then two
    separate 2-block heads: e_i, and r_i = sigmoid(.) + 0.01 (Sec. 3.3, Fig. 2b). With
    ``targeted=False`` (ablation w/o T) the input is only the source and its landmarks.
    Each block is built and initialised on its own stream (:func:`seeded`, named
    ``trunk.<i>``, ``embedding_head.<i>``, ``responsibility_head.<i>``), so that w/o T
    shares every block but the first with the targeted embedder.
    """

    def __init__(
        self, width: int, embed_dim: int, targeted: bool, init_std: float, seed: int
    ) -> None:
        super().__init__()
        self.targeted = targeted
        c_in = 9 if targeted else 6

        def blocks(name: str, *makers) -> nn.Sequential:  # noqa: ANN002 (block factories)
            out = []
            for i, make in enumerate(makers):
                with seeded(seed, f"{name}.{i}"):
                    block = make()
                    init_normal(block, init_std)
                out.append(block)
            return nn.Sequential(*out)

        same = [lambda: StableResBlock(embed_dim, embed_dim)]
        self.trunk = blocks(
            "trunk",
            lambda: StableResBlock(c_in, width),
            lambda: ResBlockDown(width, 2 * width),
            lambda: ResBlockDown(2 * width, 4 * width),
            lambda: StableResBlock(4 * width, embed_dim),
            *same * 4,
        )
        self.embedding_head = blocks("embedding_head", *same * 2)
        self.responsibility_head = blocks("responsibility_head", *same * 2)

    def forward(
        self, sources: Tensor, source_landmarks: Tensor, target_landmarks: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``sources``, ``source_landmarks``: ``[B, K, 3, H, W]``; ``target_landmarks``: ``[B, 3, H, W]``.

        Returns e, r of shape ``[B, K, C, H/4, W/4]``. Inputs in [0, 1] (the code's range).
        """
        b, k = sources.shape[:2]
        parts = [sources, source_landmarks]
        if self.targeted:
            parts.append(target_landmarks[:, None].expand(-1, k, -1, -1, -1))
        h = self.trunk(torch.cat(parts, dim=2).flatten(0, 1))
        e = self.embedding_head(h)
        r = torch.sigmoid(self.responsibility_head(h)) + RESPONSIBILITY_FLOOR
        return e.unflatten(0, (b, k)), r.unflatten(0, (b, k))


def combine(e: Tensor, r: Tensor, fusion: str) -> Tensor:
    """Eq. (1): e_x = sum_i r_i * e_i / sum_i r_i (element-wise); Eq. (7) for ``"mean"``."""
    if fusion == "mean":
        return e.mean(dim=1)
    if fusion != "responsibility":
        raise ValueError(f"caingan: fusion must be 'responsibility' or 'mean', got {fusion!r}")
    return (e * r).sum(dim=1) / r.sum(dim=1)


class CainGenerator(nn.Module):
    """G(L(x_t), e): n x RBD+IN (first with 9x9 convs), RB blocks, SPADE-ResBlock + n x [up, SPADE-ResBlock].

    n = ``down_samplings`` (paper 4: 224 -> 14 px). Widths: w, 2w, 4w, 8w ... down;
    ``spade_width`` then halving on each up-sampling (paper: 64 -> 512; 384, 192, 96, 48,
    24). Output: conv3x3 -> 3, sigmoid: images in [0, 1].
    """

    def __init__(
        self,
        width: int,
        spade_width: int,
        embed_dim: int,
        same_blocks: int,
        spade_hidden: int,
        down_samplings: int = 4,
    ) -> None:
        super().__init__()
        if down_samplings < 1 or spade_width % 2**down_samplings:
            raise ValueError(
                f"caingan: down_samplings must be >= 1 and spade_width ({spade_width}) "
                f"divisible by 2**down_samplings, got {down_samplings}"
            )
        widths = [width * 2**i for i in range(down_samplings)]
        downs, norms, c = [], [], 3
        for i, w in enumerate(widths):
            downs.append(ResBlockDown(c, w, kernel=9 if i == 0 else 3))
            norms.append(nn.InstanceNorm2d(w, affine=True))
            c = w
        self.downs, self.norms = nn.ModuleList(downs), nn.ModuleList(norms)
        self.same = nn.Sequential(*(StableResBlock(c, c) for _ in range(same_blocks)))
        spade = [SPADEResBlock(c, spade_width, embed_dim, spade_hidden)]
        c = spade_width
        for _ in range(down_samplings):
            spade.append(SPADEResBlock(c, c // 2, embed_dim, spade_hidden))
            c //= 2
        self.spade = nn.ModuleList(spade)
        self.final = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, target_landmarks: Tensor, embedding: Tensor) -> Tensor:
        return self.render(self.layout(target_landmarks), embedding)

    def layout(self, target_landmarks: Tensor) -> Tensor:
        """The down path and same-resolution blocks: everything that sees only L(x_t)."""
        h = target_landmarks
        for down, norm in zip(self.downs, self.norms, strict=True):
            h = norm(down(h))
        return self.same(h)

    def render(self, h: Tensor, embedding: Tensor) -> Tensor:
        """The SPADE up path from :meth:`layout`'s features, modulated by the embedding."""
        h = self.spade[0](h, embedding)
        for block in self.spade[1:]:
            h = block(F.interpolate(h, scale_factor=2, mode="nearest"), embedding)
        return torch.sigmoid(self.final(h))


class NLayerDiscriminator(nn.Module):
    """pix2pixHD PatchGAN (4x4 convs, IN, LeakyReLU 0.2); returns every layer's output."""

    def __init__(self, c_in: int, width: int, n_layers: int) -> None:
        super().__init__()
        pad = 2  # ceil((4 - 1) / 2)
        layers = [nn.Sequential(nn.Conv2d(c_in, width, 4, 2, pad), nn.LeakyReLU(0.2))]
        c = width
        for i in range(1, n_layers + 1):
            out = min(c * 2, 512)
            stride = 2 if i < n_layers else 1
            layers.append(
                nn.Sequential(
                    nn.Conv2d(c, out, 4, stride, pad), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2)
                )
            )
            c = out
        layers.append(nn.Sequential(nn.Conv2d(c, 1, 4, 1, pad)))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for layer in self.layers:
            x = layer(x)
            out.append(x)
        return out


class MultiscaleDiscriminator(nn.Module):
    """``scales`` PatchGANs on the input and its 2x, 4x ... average-pooled copies."""

    def __init__(self, c_in: int, width: int, n_layers: int, scales: int) -> None:
        super().__init__()
        self.nets = nn.ModuleList(NLayerDiscriminator(c_in, width, n_layers) for _ in range(scales))

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        out = []
        for i, net in enumerate(self.nets):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(net(x))
        return out


class LandmarkRegressor(nn.Module):
    """Image [0, 1] -> 68 landmark (x, y) in pixels; a small conv net (see module docstring).

    Trained by regression on the harness's 68 points (smooth L1 in pixels), not on the
    sketches: an image-to-sketch net trained with L1 on 1-pixel lines covering ~4% of the
    image has the black image as its optimum (issue 19); points carry the whole sketch.
    """

    def __init__(self, resolution: int, width: int) -> None:
        super().__init__()
        layers, c = [], 3
        for stage in range(int(math.log2(resolution // 4))):
            out = min(width * 2**stage, width * 8)
            layers += [nn.Conv2d(c, out, 3, 2, 1), nn.InstanceNorm2d(out, affine=True), nn.ReLU()]
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c * 16, 68 * 2)
        self.resolution = resolution

    def forward(self, images: Tensor) -> Tensor:
        offsets = self.head(self.features(images * 2 - 1).flatten(1)).view(-1, 68, 2)
        return (0.5 + offsets) * self.resolution


def draw_landmark_images(points: Tensor, resolution: int) -> Tensor:
    """Sketches L(x) ``[..., 3, H, W]`` in [0, 1] of points ``[..., 68, 2]`` (pixels), drawn by
    the harness's own ``landmark_image`` (every segment: no visibility is predicted).

    Not differentiable (the sketch is an input of the networks, never a trained output)."""
    from bench.data.synthfaces import landmark_image

    flat = points.detach().float().reshape(-1, 68, 2).cpu().numpy()
    drawn = np.stack([landmark_image(p, resolution) for p in flat])
    out = torch.from_numpy(drawn).to(points.device).permute(0, 3, 1, 2).float() / 255
    return out.reshape(*points.shape[:-2], 3, resolution, resolution)


def landmark_regression_loss(
    regressor: LandmarkRegressor, images: Tensor, points: Tensor
) -> Tensor:
    """Smooth L1 (beta 1 px) between the regressed and the harness's 68 points of every
    image ``[..., 3, H, W]`` (points ``[..., 68, 2]``)."""
    predicted = regressor(images.reshape(-1, *images.shape[-3:]))
    return F.smooth_l1_loss(predicted, points.reshape(-1, 68, 2), beta=1.0)
