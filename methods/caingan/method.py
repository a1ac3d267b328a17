"""CainGAN (Ardelean & Sasu 2020): few-shot pose manipulation with identity preservation.

From K frames x_i of one clip with their landmark images L(x_i) and the target's landmark
image L(x_t), the targeted embedder gives spatial embeddings e_i and responsibilities r_i,
fused by Eq. (1); the generator draws x_t_hat = G(L(x_t), e) with SPADE blocks modulated
by e. Two multi-scale discriminators judge identity, D_I(x, x_i1), and pose, D_P(x, L(x_t)).

Losses (hinge, Eq. (2)-(4); full E+G objective Eq. (5) with feature matching Eq. (6) and a
perceptual loss):

    L_adv  = -lambda_I D_I(x_hat, x_i1) - lambda_P D_P(x_hat, L(x_t))                   (2)
    L_Id   = max(0, 1 - D_I(x_t, x_i1)) + max(0, 1 + D_I(x_hat, x_i1))                  (3)
    L_Pose = max(0, 1 - D_P(x_t, L(x_t))) + max(0, 1 + D_P(x_hat, L(x_t)))              (4)
    L      = L_adv + lambda_FM (lambda_I L_FM(D_I) + lambda_P L_FM(D_P)) + lambda_VGG L_VGG (5)

lambda_I grows linearly over the first ``ramp_epochs`` of ``epochs`` (paper: 10 of 30);
the discriminators take ``d_steps_per_g`` steps per E+G step (paper: 2), with their own
learning rate (TTUR).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling, k_shot_sampling
from bench.perceptual import MethodPerceptualLoss

from .model import (
    CainGenerator,
    LandmarkRegressor,
    MultiscaleDiscriminator,
    TargetedEmbedder,
    combine,
    draw_base_seed,
    draw_landmark_images,
    landmark_regression_loss,
    seeded,
    stable_seed,
)

log = logging.getLogger(__name__)

#: E+G loss columns, logged every step (the last E+G step's values between E+G steps).
GENERATOR_LOSSES = ("g_adv_id", "g_adv_pose", "g_fm_id", "g_fm_pose", "g_perceptual", "lambda_i")


def discriminator_hinge(outputs: list[list[Tensor]], real: bool) -> Tensor:
    """Eq. (3)/(4) for one side: mean max(0, 1 -+ D), the last layer of each scale, scale mean."""
    sign = -1.0 if real else 1.0
    return sum(F.relu(1 + sign * scale[-1]).mean() for scale in outputs) / len(outputs)


def generator_hinge(outputs: list[list[Tensor]]) -> Tensor:
    """Eq. (2) for one discriminator: -mean D(x_hat), averaged over the scales."""
    return -sum(scale[-1].mean() for scale in outputs) / len(outputs)


def feature_matching(fake: list[list[Tensor]], real: list[list[Tensor]]) -> Tensor:
    """Eq. (6): sum over scales and intermediate layers of mean L1 (= L1 / N_j), / scales.

    The output layer is excluded and each term weighted 1/num_D, as the authors' code.
    """
    total = sum(
        F.l1_loss(f, r.detach())
        for fake_scale, real_scale in zip(fake, real, strict=True)
        for f, r in zip(fake_scale[:-1], real_scale[:-1], strict=True)
    )
    return total / len(fake)


class CainGAN(Method):
    """Targeted embedder + SPADE generator + identity and pose discriminators."""

    needs = frozenset({"clip", "landmarks"})
    provides = frozenset({"transfer", "identity_code"})
    perceptual = MethodPerceptualLoss()

    @classmethod
    def sampling_for(cls, config: dict) -> Sampling:
        """K = ``k_train`` sources plus one target frame of one clip per item (paper: K = 8)."""
        return k_shot_sampling(config, cls.name or "caingan")

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        # Each sub-network is built on a stream named by (one draw of the harness's seeded
        # stream, its name), so caingan and its ablations share the initial weights of every
        # sub-network whose shapes agree (all but w/o T's first embedder block).
        base = draw_base_seed()
        self.embedder = TargetedEmbedder(
            config["embed_width"],
            config["embed_dim"],
            config["targeted"],
            config["init_std"],
            seed=stable_seed(base, "embedder"),
        )
        with seeded(base, "generator"):
            self.generator = CainGenerator(
                config["gen_width"],
                config["spade_width"],
                config["embed_dim"],
                config["same_blocks"],
                config["spade_hidden"],
                config["down_samplings"],
            )
        disc = (config["disc_width"], config["disc_layers"], config["disc_scales"])
        with seeded(base, "identity_discriminator"):
            self.identity_discriminator = MultiscaleDiscriminator(6, *disc)  # D_I(x, x_i1)
        with seeded(base, "pose_discriminator"):
            self.pose_discriminator = MultiscaleDiscriminator(6, *disc)  # D_P(x, L(x))
        with seeded(base, "landmark_regressor"):
            self.landmark_regressor = LandmarkRegressor(info.resolution, config["landmark_width"])
        # The last E+G losses, logged on D-only steps; a buffer so that a resumed run logs
        # exactly what an uninterrupted one does.
        self.register_buffer("last_generator_losses", torch.zeros(len(GENERATOR_LOSSES)))

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """TTUR Adam(0, 0.9): lr_eg for E+G, lr_d for both discriminators (authors' code)."""
        # Built here, before the first step (the random stream's order of the trained runs).
        log.info("caingan perceptual loss: %s", self.perceptual.extra_repr())
        betas = tuple(self.config["betas"])
        eg = [*self.embedder.parameters(), *self.generator.parameters()]
        d = [*self.identity_discriminator.parameters(), *self.pose_discriminator.parameters()]
        return {
            "embedder_generator": torch.optim.Adam(eg, lr=self.config["lr_eg"], betas=betas),
            "discriminators": torch.optim.Adam(d, lr=self.config["lr_d"], betas=betas),
            "landmarks": torch.optim.Adam(
                self.landmark_regressor.parameters(), lr=self.config["lr_landmarks"]
            ),
        }

    def identity_weight(self, step: int) -> float:
        """lambda_I at ``step``: lambda_I * min(1, epoch / ramp_epochs), 0 in the first epoch.

        ``epoch = floor(step * epochs / steps)`` maps the run onto the paper's 30 epochs,
        so the ramp covers the first ramp_epochs / epochs of the steps (authors'
        ``cain_helper.py``, integer epochs). ``ramp_epochs: 0`` fixes lambda_I (w/o I).
        """
        ramp, weight = self.config["ramp_epochs"], self.config["lambda_i"]
        if ramp == 0:
            return weight
        epoch = step * self.config["epochs"] // max(1, self.config["steps"])
        return weight * min(1.0, epoch / ramp)

    def _embed(self, sources: Tensor, source_landmarks: Tensor, target_landmarks: Tensor) -> Tensor:
        e, r = self.embedder(sources, source_landmarks, target_landmarks)
        return combine(e, r, self.config["fusion"])

    def _generate(
        self, sources: Tensor, source_landmarks: Tensor, target_landmarks: Tensor
    ) -> Tensor:
        return self.generator(
            target_landmarks, self._embed(sources, source_landmarks, target_landmarks)
        )

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        """Frame 0 of each item is the target x_t, frames 1..K the sources (authors' train.py)."""
        images, landmark_images = batch.images, batch.landmark_images
        losses = {"landmark_l1": self._landmark_step(images, batch.landmarks)}
        target, target_landmarks = images[:, 0], landmark_images[:, 0]
        sources, source_landmarks = images[:, 1:], landmark_images[:, 1:]
        if step % self.config["d_steps_per_g"] == 0:
            self._generator_step(target, target_landmarks, sources, source_landmarks, step)
        losses.update(dict(zip(GENERATOR_LOSSES, self.last_generator_losses.tolist(), strict=True)))
        losses.update(self._discriminator_step(target, target_landmarks, sources, source_landmarks))
        return losses

    def _generator_step(
        self,
        target: Tensor,
        target_landmarks: Tensor,
        sources: Tensor,
        source_landmarks: Tensor,
        step: int,
    ) -> None:
        """One E+G update on Eq. (5); the discriminators are frozen for it."""
        c = self.config
        lambda_i, lambda_p = self.identity_weight(step), c["lambda_p"]
        first = sources[:, 0]  # x_i1, the identity reference of D_I
        self._freeze_discriminators(True)
        with self.autocast():
            fake = self._generate(sources, source_landmarks, target_landmarks)
            id_fake = self.identity_discriminator(torch.cat([first, fake], 1))
            pose_fake = self.pose_discriminator(torch.cat([target_landmarks, fake], 1))
            with torch.no_grad():
                id_real = self.identity_discriminator(torch.cat([first, target], 1))
                pose_real = self.pose_discriminator(torch.cat([target_landmarks, target], 1))
            adv_id, adv_pose = generator_hinge(id_fake), generator_hinge(pose_fake)
            fm_id, fm_pose = (
                feature_matching(id_fake, id_real),
                feature_matching(pose_fake, pose_real),
            )
            perceptual = self.perceptual(fake.float(), target.float())
            loss = (
                lambda_i * adv_id
                + lambda_p * adv_pose
                + c["lambda_fm"] * (lambda_i * fm_id + lambda_p * fm_pose)
                + c["lambda_perceptual"] * perceptual
            )
        self.optimize("embedder_generator", loss)
        self._freeze_discriminators(False)
        values = [adv_id, adv_pose, fm_id, fm_pose, perceptual]
        self.last_generator_losses.copy_(
            torch.tensor([*(float(v.detach()) for v in values), lambda_i])
        )

    def _discriminator_step(
        self, target: Tensor, target_landmarks: Tensor, sources: Tensor, source_landmarks: Tensor
    ) -> dict[str, float]:
        """One update of D_I and D_P on Eq. (3) + (4), with x_hat from the current E+G."""
        first = sources[:, 0]
        with torch.no_grad(), self.autocast():
            fake = self._generate(sources, source_landmarks, target_landmarks)
        b = len(target)
        with self.autocast():
            # Real and fake in one batch: instance norm keeps every sample independent.
            id_out = self.identity_discriminator(
                torch.cat([torch.cat([first, first]), torch.cat([target, fake])], 1)
            )
            pose_out = self.pose_discriminator(
                torch.cat(
                    [torch.cat([target_landmarks, target_landmarks]), torch.cat([target, fake])], 1
                )
            )

            def split(outputs: list[list[Tensor]], half: slice) -> list[list[Tensor]]:
                return [[layer[half] for layer in scale] for scale in outputs]

            real, fake_half = slice(0, b), slice(b, 2 * b)
            d_id_real = discriminator_hinge(split(id_out, real), True)
            d_id_fake = discriminator_hinge(split(id_out, fake_half), False)
            d_pose_real = discriminator_hinge(split(pose_out, real), True)
            d_pose_fake = discriminator_hinge(split(pose_out, fake_half), False)
            loss = d_id_real + d_id_fake + d_pose_real + d_pose_fake
        self.optimize("discriminators", loss)
        return {
            "d_id_real": d_id_real.item(),
            "d_id_fake": d_id_fake.item(),
            "d_pose_real": d_pose_real.item(),
            "d_pose_fake": d_pose_fake.item(),
        }

    def _landmark_step(self, images: Tensor, landmarks: Tensor) -> float:
        """Fit the landmark regressor (the stand-in for the paper's face-alignment network)."""
        with self.autocast():
            loss = landmark_regression_loss(self.landmark_regressor, images, landmarks)
        self.optimize("landmarks", loss)
        return loss.item()

    def _freeze_discriminators(self, frozen: bool) -> None:
        for net in (self.identity_discriminator, self.pose_discriminator):
            net.requires_grad_(not frozen)

    def preview_headers(self, columns: int) -> list[str]:
        return ["source 1", "target landmarks", "target", "output (true lm)", "output (drawn lm)"]

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: first source, target landmarks, target, x_t_hat from true landmarks, from drawn ones."""
        images, landmark_images = batch.images, batch.landmark_images
        sources = images[:, 1:]
        fake = self._generate(sources, landmark_images[:, 1:], landmark_images[:, 0])
        drawn = self._generate(sources, self.draw_landmarks(sources), landmark_images[:, 0])
        return torch.stack([sources[:, 0], landmark_images[:, 0], images[:, 0], fake, drawn], 1)

    # -- capabilities ---------------------------------------------------------------------
    def draw_landmarks(self, images: Tensor) -> Tensor:
        """L(x) for images ``[..., 3, H, W]``: regressed landmarks drawn in the harness's style."""
        points = self.landmark_regressor(images.flatten(0, -4))
        return draw_landmark_images(points, self.info.resolution).view(images.shape)

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        """x_hat = G(L(driver), Psi(E(x_i, L(x_i), L(driver)))) for the K sources."""
        k = sources.shape[1]
        return self.transfer_k(sources, driver, [k])[k]

    def transfer_k(
        self, sources: Tensor, driver: Driver, k_values: Sequence[int]
    ) -> dict[int, Tensor]:
        """:meth:`transfer` from the first k sources, for every k: e_i, r_i of each source
        and G's layout of L(driver) do not depend on k, so they are computed once."""
        # The contract's Driver carries no source landmark images (README, "Source landmark
        # images"): L(x_i) is always drawn from the regressor at test time.
        landmarks = self.draw_landmarks(sources)
        target = driver.landmark_image
        e, r = self.embedder(sources, landmarks, target)
        layout = self.generator.layout(target)
        fusion = self.config["fusion"]
        return {
            k: self.generator.render(layout, combine(e[:, :k], r[:, :k], fusion)).clamp(0, 1)
            for k in k_values
        }

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """Identity code: e of each image targeted at its own landmarks, global-average-pooled."""
        landmarks = self.draw_landmarks(images)
        e, _ = self.embedder(images[:, None], landmarks[:, None], landmarks)
        return {"identity": e[:, 0].mean(dim=(-2, -1))}
