"""Networks of DR-GAN (Tran, Yin & Liu, CVPR 2017): G_enc, G_dec and the multi-task D.

All three follow the CASIA-Net layout of the paper's network table as the reference
ports build it (kayamin/DR-GAN, tranluan/DR-GAN): 3x3 convolutions, each followed by
BatchNorm and ELU, five stages of which the last four start with a stride-2
convolution, then global average pooling to the representation f(x). Channel widths are
multiples of ``width`` (the paper's 32): stage widths (1, 2 | 2, 2, 4 | 4, 3, 6 | 6, 4, 8 |
8, 5, 10) x width, so f has 10 x width = 320 dimensions at the paper's width.
D shares Conv11 ... Conv51 and gives D^d, D^p and the real/fake logit their own Conv52,
Conv53 branches, as tranluan's discriminator does. Weights are initialised N(0, 0.02) as
in the reference code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Channels of every 3x3 convolution of the CASIA-Net trunk, in units of ``width``; a
#: stage is one tuple, and every stage after the first starts with a stride-2 convolution.
TRUNK_STAGES: tuple[tuple[int, ...], ...] = ((1, 2), (2, 2, 4), (4, 3, 6), (6, 4, 8), (8, 5, 10))
#: The decoder mirrors the trunk (FConv52 ... FConv11): per stage, its channels, the first
#: transposed convolution of each stage after the first doubling the resolution.
DECODER_STAGES: tuple[tuple[int, ...], ...] = ((5, 8), (8, 4, 6), (6, 3, 4), (4, 2, 2), (2, 1))
#: Stride-2 stages: the trunk reduces the input by 2**4 (96 -> 6 in the paper, 64 -> 4 here).
DOWNSAMPLING = 2 ** (len(TRUNK_STAGES) - 1)


def representation_dim(width: int) -> int:
    """Size of f(x): the channels of Conv53 (320 at the paper's width 32)."""
    return TRUNK_STAGES[-1][-1] * width


def check_resolution(resolution: int) -> int:
    """The side of the trunk's last feature map; the resolution must be a multiple of 16."""
    if resolution < 2 * DOWNSAMPLING or resolution % DOWNSAMPLING:
        raise ValueError(
            f"DR-GAN needs a resolution that is a multiple of 16, >= 32; got {resolution}"
        )
    return resolution // DOWNSAMPLING


def _conv_block(channels_in: int, channels_out: int, stride: int) -> list[nn.Module]:
    """Conv 3x3 -> BatchNorm -> ELU; stride 2 pads right/bottom only (TF "SAME", as kayamin)."""
    pad: list[nn.Module] = [nn.ZeroPad2d((0, 1, 0, 1))] if stride == 2 else []
    return [
        *pad,
        nn.Conv2d(channels_in, channels_out, 3, stride, 0 if stride == 2 else 1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ELU(),
    ]


def casia_blocks(width: int, extra_channels: int = 0) -> list[nn.Sequential]:
    """Conv11 ... Conv53 of CASIA-Net, one block (conv, BatchNorm, ELU) each.

    ``extra_channels`` widens Conv53 (the multi-image G_enc adds one for the confidence).
    """
    blocks: list[nn.Sequential] = []
    channels = 3
    for stage, widths in enumerate(TRUNK_STAGES):
        for index, multiple in enumerate(widths):
            out = multiple * width
            if stage == len(TRUNK_STAGES) - 1 and index == len(widths) - 1:
                out += extra_channels
            stride = 2 if stage > 0 and index == 0 else 1
            blocks.append(nn.Sequential(*_conv_block(channels, out, stride)))
            channels = out
    return blocks


#: D's shared trunk is Conv11 ... Conv51 (tranluan's d_k01 ... d_k40); each of D's heads has
#: its own Conv52, Conv53 (tranluan's d_k41, d_k42 and their _pose and _ad copies).
SHARED_BLOCKS = sum(len(widths) for widths in TRUNK_STAGES) - 2


def _pooled(blocks: list[nn.Sequential]) -> nn.Sequential:
    """The blocks, then global average pooling to a vector."""
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())


def casia_trunk(width: int, extra_channels: int = 0) -> nn.Sequential:
    """Conv11 ... Conv53, then global average pooling: [B, 3, R, R] -> [B, C] (G_enc)."""
    return _pooled(casia_blocks(width, extra_channels))


def casia_branch(width: int) -> nn.Sequential:
    """Conv52, Conv53 and the average pool: one of D's heads on the shared trunk's map."""
    return _pooled(casia_blocks(width)[SHARED_BLOCKS:])


def init_weights(module: nn.Module, std: float) -> None:
    """N(0, std) for every convolution and linear weight (the reference code's 0.02)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class Encoder(nn.Module):
    """G_enc: image in [-1, 1] -> identity representation f(x) [B, 10 width].

    With ``confidence=True`` (multi-image DR-GAN) Conv53 has one more channel; after the
    average pooling a sigmoid turns it into the confidence coefficient omega in (0, 1).
    """

    def __init__(self, resolution: int, width: int, confidence: bool = False) -> None:
        super().__init__()
        check_resolution(resolution)
        self.confidence = confidence
        self.trunk = casia_trunk(width, extra_channels=int(confidence))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """Returns (f [B, d], omega [B] or None)."""
        pooled = self.trunk(images)
        if not self.confidence:
            return pooled, None
        return pooled[:, :-1], torch.sigmoid(pooled[:, -1])


class Decoder(nn.Module):
    """G_dec: [f(x), one-hot pose code c, noise z] -> image [B, 3, R, R] in [-1, 1].

    FC to a (10 width) x R/16 x R/16 map, then transposed 3x3 convolutions (BatchNorm, ELU)
    FConv52 ... FConv12 mirroring the trunk, FConv11 to 3 channels and tanh.
    """

    def __init__(self, resolution: int, width: int, n_pose_bins: int, noise_dim: int) -> None:
        super().__init__()
        self.side = check_resolution(resolution)
        self.channels = representation_dim(width)
        self.project = nn.Linear(
            self.channels + n_pose_bins + noise_dim, self.channels * self.side**2
        )
        layers: list[nn.Module] = []
        channels = self.channels
        for stage, widths in enumerate(DECODER_STAGES):
            for index, multiple in enumerate(widths):
                out = multiple * width
                if stage > 0 and index == 0:  # FConv43, 33, 23, 13: stride 2
                    layers.append(nn.ConvTranspose2d(channels, out, 3, 2, 1, 1, bias=False))
                else:
                    layers.append(nn.ConvTranspose2d(channels, out, 3, 1, 1, bias=False))
                layers += [nn.BatchNorm2d(out), nn.ELU()]
                channels = out
        layers += [nn.ConvTranspose2d(channels, 3, 3, 1, 1, bias=False), nn.Tanh()]  # FConv11
        self.body = nn.Sequential(*layers)

    def forward(self, representation: Tensor, pose_code: Tensor, noise: Tensor) -> Tensor:
        hidden = self.project(torch.cat([representation, pose_code, noise], dim=1))
        return self.body(hidden.view(-1, self.channels, self.side, self.side))


class Discriminator(nn.Module):
    """D = [D^d, D^p] (and, with ``real_fake_branch``, a real/fake logit), as tranluan builds it.

    A shared trunk (Conv11 ... Conv51) feeds one branch per task, each with its own Conv52,
    Conv53, average pool and linear layer: ``identity_branch`` + ``identity_head`` is D^d,
    ``pose_branch`` + ``pose_head`` is D^p, and ``real_fake_branch`` + ``real_fake_head`` the
    real/fake logit (tranluan/DR-GAN model_DR_GAN_multi.py: d_k41/d_k42 + d_k6_id, the _pose
    copies + d_k6_pose_lin, the _ad copies + d_k6_ad_lin). D^d has ``n_identity_logits``
    outputs: N_d + 1 (the paper's "synthetic" class last) or N_d when real/fake has its own
    branch. Only the trunk and the identity path are trained by the identity pretraining and
    copied into G_enc.
    """

    def __init__(
        self,
        resolution: int,
        width: int,
        n_identity_logits: int,
        n_pose_bins: int,
        real_fake_branch: bool,
    ) -> None:
        super().__init__()
        check_resolution(resolution)
        dim = representation_dim(width)
        self.trunk = nn.Sequential(*casia_blocks(width)[:SHARED_BLOCKS])
        self.identity_branch = casia_branch(width)
        self.identity_head = nn.Linear(dim, n_identity_logits)
        self.pose_branch = casia_branch(width)
        self.pose_head = nn.Linear(dim, n_pose_bins)
        self.real_fake_branch = casia_branch(width) if real_fake_branch else None
        self.real_fake_head = nn.Linear(dim, 1) if real_fake_branch else None

    def identity_path(self) -> list[nn.Module]:
        """The modules of trunk + D^d's branch in order: what G_enc copies (Conv11 ... Conv53)."""
        return [*self.trunk, *self.identity_branch]

    def identity_logits(self, images: Tensor) -> Tensor:
        """D^d alone (the identity pretraining; the other branches are not run)."""
        return self.identity_head(self.identity_branch(self.trunk(images)))

    def identity_and_pose_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """D^d and D^p of one batch, without the real/fake branch (pretraining with pose)."""
        shared = self.trunk(images)
        return self.identity_head(self.identity_branch(shared)), self.pose_head(
            self.pose_branch(shared)
        )

    def _heads(self, identity_features: Tensor, shared: Tensor) -> tuple[Tensor, ...]:
        pose = self.pose_head(self.pose_branch(shared))
        identity = self.identity_head(identity_features)
        if self.real_fake_branch is None:
            return identity, pose, None
        return identity, pose, self.real_fake_head(self.real_fake_branch(shared))[:, 0]

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """(D^d logits [B, n_identity_logits], D^p logits [B, N_p], real/fake logit [B] or
        None) of one batch."""
        shared = self.trunk(images)
        return self._heads(self.identity_branch(shared), shared)

    def forward_pair(self, real: Tensor, synthetic: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """D on real and synthetic images, batched as tranluan's discriminator does: the
        trunk and D^d's branch run on each half separately (BatchNorm statistics of real
        images alone and of synthetic ones alone), D^p's and real/fake's branches on the
        concatenation (statistics of the mix). Outputs are concatenated, real first."""
        shared = [self.trunk(real), self.trunk(synthetic)]
        identity_features = torch.cat([self.identity_branch(part) for part in shared])
        return self._heads(identity_features, torch.cat(shared))


@torch.no_grad()
def copy_modules(source: list[nn.Module], target: list[nn.Module]) -> None:
    """Copy trained modules into the same modules of another network, in order; where a
    target has more channels (the omega channel of the multi-image G_enc's Conv53) the
    extra ones keep their values."""
    if len(source) != len(target):
        raise ValueError(f"copy_modules: {len(source)} source modules, {len(target)} targets")
    for source_module, target_module in zip(source, target, strict=True):
        target_state = target_module.state_dict()
        for name, value in source_module.state_dict().items():
            slices = tuple(slice(0, n) for n in value.shape)
            target_state[name][slices] = value
        target_module.load_state_dict(target_state)


def fuse(representations: Tensor, confidence: Tensor | None) -> Tensor:
    """[B, K, d] -> [B, d]: sum_i omega_i f(x_i) / sum_i omega_i (plain mean without omega)."""
    if confidence is None:
        return representations.mean(dim=1)
    weights = confidence.unsqueeze(-1)
    return (weights * representations).sum(dim=1) / (weights.sum(dim=1) + 1e-6)


def one_hot(bins: Tensor, n_pose_bins: int) -> Tensor:
    """Pose code c: one-hot over the N_p discrete poses."""
    return F.one_hot(bins.long(), n_pose_bins).float()
