"""FSHM, feed-forward (Zakharov, Shysheya, Burkov & Lempitsky, ICCV 2019), as CainGAN's baseline.

Meta-learning episode (Sec. 3.2): K frames x_k of one video with landmark images y_k, and a
target frame x_t with y_t.

    e_hat = 1/K sum_k E(x_k, y_k)                      (embeddings averaged over K)
    x_hat = G(y_t, e_hat),  psi_hat = P e_hat          (AdaIN parameters projected)
    r(x, y, i) = v(x, y)^T (W_i + w_0) + b             (projection discriminator)

    L(E, G, P) = L_CNT(x_t, x_hat) + L_ADV(x_hat) + L_MCH
    L_CNT = lambda_VGG19 * L1(VGG19) + lambda_VGGFace * L1(VGGFace)  (two perceptual halves:
            `perceptual` and `perceptual_identity`, named backbones of bench.perceptual)
    L_ADV = -r(x_hat, y_t, i) + lambda_FM * sum_l ||D_l(x_t, y_t) - D_l(x_hat, y_t)||_1
    L_MCH = lambda_MCH * ||W_i - e_hat||_1
    L_DSC = max(0, 1 + r(x_hat, y_t, i)) + max(0, 1 - r(x_t, y_t, i))       (hinge)

Feed-forward only: no fine-tuning, transfer is G(L(driver), mean_k E(x_k, L(x_k))).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling, k_shot_sampling
from bench.perceptual import MethodPerceptualLoss

from ..caingan.model import LandmarkRegressor, draw_landmark_images, landmark_regression_loss
from .model import Embedder, Generator, ProjectionDiscriminator

#: Losses of the E/G update, logged on every step.
#: ``content`` is L_CNT's geometry (VGG19) half, ``content_identity`` its VGGFace half.
GENERATOR_LOSSES = ("content", "content_identity", "adversarial", "feature_matching", "match")


def feature_matching(real: list[Tensor], fake: list[Tensor]) -> Tensor:
    """sum_l mean |D_l(real) - D_l(fake)|: pix2pixHD feature matching over D's blocks."""
    return sum(F.l1_loss(f, r.detach()) for r, f in zip(real, fake, strict=True))


class FSHM(Method):
    """Few-shot talking heads, feed-forward: averaged embedder, AdaIN generator, projection D."""

    needs = frozenset({"clip", "landmarks", "identity"})
    provides = frozenset({"transfer", "identity_code", "reconstruct"})
    perceptual = MethodPerceptualLoss()  # L_CNT's VGG19 half; built on first use, no state_dict
    perceptual_identity = MethodPerceptualLoss()  # L_CNT's VGGFace half (face recognition)

    @classmethod
    def sampling_for(cls, config: dict[str, Any]) -> Sampling:
        """K source frames plus one target frame of one clip per item (paper: K = 8)."""
        return k_shot_sampling(config, cls.name or "fshm")

    def __init__(self, config: dict[str, Any], info: DatasetInfo) -> None:
        super().__init__(config, info)
        r, width, max_width = info.resolution, config["width"], config["max_width"]
        self.embedder = Embedder(r, width, max_width)
        self.generator = Generator(
            r,
            config["generator_width"],
            max_width,
            self.embedder.dim,
            config["n_residual"],
            config["down_blocks"],
        )
        self.discriminator = ProjectionDiscriminator(r, width, max_width, info.n_identities)
        self.landmark_regressor = LandmarkRegressor(r, config["landmark_width"])
        self.register_buffer("last_generator_losses", torch.zeros(len(GENERATOR_LOSSES)))

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = tuple(self.config["betas"])
        generator = [*self.embedder.parameters(), *self.generator.parameters()]
        return {
            "generator": torch.optim.Adam(generator, lr=self.config["lr_generator"], betas=betas),
            "discriminator": torch.optim.Adam(
                self.discriminator.parameters(), lr=self.config["lr_discriminator"], betas=betas
            ),
            "landmarks": torch.optim.Adam(
                self.landmark_regressor.parameters(), lr=self.config["lr_landmarks"]
            ),
        }

    # -- the networks, in the harness's [0, 1] convention ----------------------------------
    def embed(self, images: Tensor, landmark_images: Tensor) -> Tensor:
        """e_hat = mean_k E(x_k, y_k) for images / landmark images [B, K, 3, H, W] in [0, 1]."""
        b, k = images.shape[:2]
        codes = self.embedder(images.flatten(0, 1) * 2 - 1, landmark_images.flatten(0, 1))
        return codes.view(b, k, -1).mean(dim=1)

    def estimate_landmarks(self, images: Tensor) -> Tensor:
        """Landmark images for images [..., 3, H, W] in [0, 1] the harness gives none for:
        the regressed 68 points drawn with the harness's sketch code (README)."""
        points = self.landmark_regressor(images.reshape(-1, *images.shape[-3:]))
        return draw_landmark_images(points, self.info.resolution).view(images.shape)

    # -- training ---------------------------------------------------------------------------
    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        """One D update every step, one E/G update every ``d_steps_per_g`` steps (paper: 2)."""
        images, landmark_images = batch.images, batch.landmark_images
        target, target_landmarks = images[:, 0] * 2 - 1, landmark_images[:, 0]
        video = batch.identity[:, 0]  # the projection column W_i (README: one per identity)
        losses = {"landmarks": self._landmark_step(images, batch.landmarks)}
        generator_step = (step + 1) % self.config["d_steps_per_g"] == 0
        # E and G keep their graph only when the E/G update of this step reuses x_hat.
        with self.autocast(), torch.set_grad_enabled(generator_step):
            embedding = self.embed(images[:, 1:], landmark_images[:, 1:])
            fake = self.generator(target_landmarks, embedding)
        with self.autocast():
            real_score, _ = self.discriminator(target, target_landmarks, video)
            fake_score, _ = self.discriminator(fake.detach(), target_landmarks, video)
            d_hinge = F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
            # W's half of L_MCH: the projection columns follow the (fixed) embeddings.
            w_match = self._match(self.discriminator.video_embeddings[video], embedding.detach())
            d_loss = d_hinge + w_match
        self.optimize("discriminator", d_loss)
        losses.update({"d_hinge": d_hinge.item(), "d_real": real_score.mean().item()})
        if generator_step:
            g_losses = self._generator_step(target, target_landmarks, video, embedding, fake)
            self.last_generator_losses.copy_(torch.tensor(g_losses))
        # D-only steps repeat the last E/G update's losses (the log has one row per step).
        losses.update(zip(GENERATOR_LOSSES, self.last_generator_losses.tolist(), strict=True))
        return losses

    def _match(self, columns: Tensor, embedding: Tensor) -> Tensor:
        """L_MCH = lambda_MCH * mean |W_i - e_hat|."""
        return self.config["match_weight"] * F.l1_loss(embedding, columns)

    def _generator_step(
        self,
        target: Tensor,
        target_landmarks: Tensor,
        video: Tensor,
        embedding: Tensor,
        fake: Tensor,
    ) -> list[float]:
        """One E/G update on L_CNT + L_ADV + L_MCH; returns them in ``GENERATOR_LOSSES`` order."""
        with self.autocast():
            content, content_identity = self.content_loss(fake, target)
            fake_score, fake_features = self.discriminator(fake, target_landmarks, video)
            with torch.no_grad():
                _, real_features = self.discriminator(target, target_landmarks, video)
            fm = self.config["feature_matching_weight"] * feature_matching(
                real_features, fake_features
            )
            adversarial = -fake_score.mean()
            match = self._match(self.discriminator.video_embeddings[video].detach(), embedding)
            loss = content + content_identity + adversarial + fm + match
        self.optimize("generator", loss)
        return [
            content.item(),
            content_identity.item(),
            adversarial.item(),
            fm.item(),
            match.item(),
        ]

    def content_loss(self, fake: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """L_CNT's two halves for images in [-1, 1]: ``content_weight`` x the geometry (VGG19)
        perceptual L1 and ``identity_content_weight`` x the face-recognition (VGGFace) one."""
        fake, target = (fake + 1) / 2, (target + 1) / 2
        return (
            self.config["content_weight"] * self.perceptual(fake, target),
            self.config["identity_content_weight"] * self.perceptual_identity(fake, target),
        )

    def _landmark_step(self, images: Tensor, landmarks: Tensor) -> float:
        """Smooth L1 of the landmark regressor's 68 points on every frame of the items (README)."""
        with self.autocast():
            loss = landmark_regression_loss(self.landmark_regressor, images, landmarks)
        self.optimize("landmarks", loss)
        return loss.item()

    def preview_headers(self, columns: int) -> list[str]:
        sources = [f"source {i + 1}" for i in range(columns - 4)]
        return [*sources, "target", "target landmarks", "output", "output (est. lm)"]

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: sources, target, its landmark image, G(y_t, e_hat), the same from estimated
        source landmarks (what transfer does)."""
        images, landmark_images = batch.images, batch.landmark_images
        fake = self.generator(
            landmark_images[:, 0], self.embed(images[:, 1:], landmark_images[:, 1:])
        )
        estimated = self.transfer(
            images[:, 1:], Driver(image=images[:, 0], landmark_image=landmark_images[:, 0])
        )
        columns = [*images[:, 1:].unbind(1), images[:, 0], landmark_images[:, 0]]
        return torch.stack([*columns, (fake + 1) / 2, estimated], dim=1)

    # -- capabilities -----------------------------------------------------------------------
    def transfer(
        self, sources: Tensor, driver: Driver, source_landmark_images: Tensor | None = None
    ) -> Tensor:
        """G(L(driver), mean_k E(x_k, L(x_k))); L(x_k) estimated unless given."""
        if source_landmark_images is None:
            source_landmark_images = self.estimate_landmarks(sources)
        embedding = self.embed(sources, source_landmark_images)
        return ((self.generator(driver.landmark_image, embedding) + 1) / 2).clamp(0, 1)

    def transfer_k(
        self, sources: Tensor, driver: Driver, k_values: Sequence[int]
    ) -> dict[int, Tensor]:
        """:meth:`transfer` from the first k sources, for every k: each source's E(x_k, L(x_k))
        and estimated L(x_k) are computed once, then averaged over each prefix."""
        landmarks = self.estimate_landmarks(sources)
        b, k_max = sources.shape[:2]
        codes = self.embedder(sources.flatten(0, 1) * 2 - 1, landmarks.flatten(0, 1))
        codes = codes.view(b, k_max, -1)
        return {
            k: ((self.generator(driver.landmark_image, codes[:, :k].mean(dim=1)) + 1) / 2).clamp(
                0, 1
            )
            for k in k_values
        }

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """identity = e_hat = E(x, L(x)) (the averaged embedding of one frame)."""
        return {"identity": self.embed(images[:, None], self.estimate_landmarks(images[:, None]))}

    def reconstruct(self, images: Tensor) -> Tensor:
        """G(L(x), E(x, L(x))) with estimated landmark images."""
        landmarks = self.estimate_landmarks(images)
        driver = Driver(image=images, landmark_image=landmarks)
        return self.transfer(images[:, None], driver, landmarks[:, None])
