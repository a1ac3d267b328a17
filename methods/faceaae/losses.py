"""Loss terms of Browatzki & Wallraven (ICCVW 2019): the GAN terms of Eq. (2)-(4) and the
supervised feature losses F_k of Eq. (11)-(13).

Randomness (which positive and negative a triplet takes) comes from the global torch RNG,
which the harness seeds and stores in every checkpoint, so resumed runs draw the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def gan_loss(logits: Tensor, real: bool) -> Tensor:
    """-log D (real) or -log(1 - D) (fake) for logits of a sigmoid discriminator."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


@dataclass
class AttributeLabels:
    """Ground truth y_k of a batch of N images (Sec. 3.4): what F_k compares f_k with."""

    pose: Tensor  # [N, 3] yaw, pitch, roll in radians (the scale of f_p)
    identity: Tensor  # [N] long
    expression: Tensor  # [N] long, the category l of Eq. (13)
    clip: Tensor  # [N] long, unique per (identity, clip): the style classes

    def permuted(self, order: Tensor) -> AttributeLabels:
        """pi(y): the labels shuffled by the same permutation as the features (Eq. 10)."""
        return AttributeLabels(
            self.pose[order], self.identity[order], self.expression[order], self.clip[order]
        )


def _random_member(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per row, a uniformly random column where ``mask`` is true, and whether one exists."""
    scores = torch.rand(mask.shape).to(mask.device).masked_fill(~mask, -1.0)
    return scores.argmax(dim=1), mask.any(dim=1)


def triplet_loss(codes: Tensor, positive: Tensor, negative: Tensor, margin: float) -> Tensor:
    """Eq. (12): mean of max(0, ||f - f+||^2 - ||f - f-||^2 + delta) over in-batch triplets.

    ``positive`` / ``negative`` are [N, N] masks of admissible partners of each anchor;
    one of each is drawn at random. Anchors without both are left out (a batch where no
    anchor has both gives a zero loss that still belongs to the graph).
    """
    n = codes.shape[0]
    not_self = ~torch.eye(n, dtype=torch.bool, device=codes.device)
    pos_index, has_pos = _random_member(positive & not_self)
    neg_index, has_neg = _random_member(negative & not_self)
    valid = has_pos & has_neg
    if not valid.any():
        return codes.sum() * 0.0
    anchor = codes[valid]
    d_pos = (anchor - codes[pos_index[valid]]).pow(2).sum(dim=1)
    d_neg = (anchor - codes[neg_index[valid]]).pow(2).sum(dim=1)
    return F.relu(d_pos - d_neg + margin).mean()


def pose_loss(f_pose: Tensor, labels: AttributeLabels) -> Tensor:
    """Eq. (11): F_p = ||y_p - f_p||_1 (angles in radians), averaged over the batch."""
    return (f_pose - labels.pose).abs().sum(dim=1).mean()


def identity_loss(f_id: Tensor, labels: AttributeLabels, margin: float) -> Tensor:
    """tl_id: a random image of the same identity is the positive, of another the negative."""
    same = labels.identity[:, None] == labels.identity[None, :]
    return triplet_loss(f_id, same, ~same, margin)


def expression_loss(f_e: Tensor, labels: AttributeLabels, margin: float) -> Tensor:
    """tl_e with the distance of Eq. (13) reduced to its category term (no valence/arousal).

    The paper's positive is the nearest sample under Eq. (13) and its negative a random
    one ranked beyond it; with categories only, every sample of the anchor's category is
    nearest (ties, broken at random) and every other category is farther.
    """
    same = labels.expression[:, None] == labels.expression[None, :]
    return triplet_loss(f_e, same, ~same, margin)


def style_loss(f_s: Tensor, labels: AttributeLabels, margin: float) -> Tensor:
    """tl_s: positive from the anchor's clip, negative the same person in another clip.

    Style is what stays constant within a clip but not across clips of one person
    (background, light), as in the official code's VoxCeleb triplets (``MAD:utils/nn.py``).
    """
    same_person = labels.identity[:, None] == labels.identity[None, :]
    same_clip = labels.clip[:, None] == labels.clip[None, :]
    return triplet_loss(f_s, same_clip, same_person & ~same_clip, margin)


def task_loss(name: str, code: Tensor, labels: AttributeLabels, margin: float) -> Tensor:
    """F_k of Eq. (7) for attribute ``name``."""
    if name == "pose":
        return pose_loss(code, labels)
    if name == "identity":
        return identity_loss(code, labels, margin)
    if name == "expression":
        return expression_loss(code, labels, margin)
    if name == "style":
        return style_loss(code, labels, margin)
    raise ValueError(f"unknown attribute {name!r}")
