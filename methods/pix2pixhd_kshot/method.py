"""pix2pixHD (Wang et al., CVPR 2018) as a K-shot reenactment baseline, as CainGAN uses it
(Ardelean & Sasu 2020, Sec. 4): trained from scratch, no fine-tuning, the generator input is
the channel concatenation of all K source frames, their landmark images and the target
landmark image; the discriminators see that input together with the real or generated image.

    s   = [x_1, y_1, ..., x_K, y_K, y_t]                       (6K + 3 channels)
    x_hat = G(s)
    L_D = 1/2 sum_k [ (D_k(s, x_t) - 1)^2 + D_k(s, x_hat)^2 ]                 (LSGAN)
    L_G = sum_k (D_k(s, x_hat) - 1)^2
          + lambda_feat sum_k sum_i 4/(n_layers+1) 1/num_D ||D_k^i(s, x_t) - D_k^i(s, x_hat)||_1
          + lambda_feat sum_l w_l ||phi_l(x_t) - phi_l(x_hat)||_1                (perceptual)

The input width fixes K: a model trained with ``k_train`` sources tiles fewer sources
cyclically and keeps the first ``k_train`` of more (README, "K at test time").
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling, k_shot_sampling
from bench.perceptual import MethodPerceptualLoss

from ..caingan.model import LandmarkRegressor, draw_landmark_images, landmark_regression_loss
from .model import GlobalGenerator, MultiscaleDiscriminator, downsamplings


def lsgan(scores: list[list[Tensor]], real: bool) -> Tensor:
    """sum over scales of mean (D_k - target)^2, target 1 for real and 0 for fake."""
    return sum(F.mse_loss(s[-1], torch.full_like(s[-1], float(real))) for s in scores)


def feature_matching(real: list[list[Tensor]], fake: list[list[Tensor]], n_layers: int) -> Tensor:
    """pix2pixHD's FM: sum over scales and intermediate layers of 4/(n_layers+1)/num_D * L1."""
    weight = 4.0 / (n_layers + 1) / len(real)
    return sum(
        weight * F.l1_loss(f, r.detach())
        for real_scale, fake_scale in zip(real, fake, strict=True)
        for r, f in zip(real_scale[:-1], fake_scale[:-1], strict=True)
    )


def fit_sources(sources: Tensor, k: int) -> Tensor:
    """[B, K', ...] -> [B, k, ...]: tile the K' sources cyclically, or keep the first k."""
    index = torch.arange(k, device=sources.device) % sources.shape[1]
    return sources[:, index]


def widen_sketch(sketches: Tensor, width: int) -> Tensor:
    """Landmark images ``[..., 3, H, W]`` with every line widened to ``width`` pixels (odd):
    a ``width`` x ``width`` per-channel max filter; ``width`` 1 returns them unchanged."""
    if width < 1 or width % 2 == 0:
        raise ValueError(f"pix2pixhd_kshot: sketch_width must be an odd integer >= 1, got {width}")
    if width == 1:
        return sketches
    flat = sketches.reshape(-1, *sketches.shape[-3:])
    wide = F.max_pool2d(flat, width, stride=1, padding=width // 2)
    return wide.view(sketches.shape)


class Pix2PixHDKShot(Method):
    """pix2pixHD global generator + multi-scale D on K stacked sources and the target landmarks."""

    needs = frozenset({"clip", "landmarks"})
    provides = frozenset({"transfer", "reconstruct"})
    perceptual = MethodPerceptualLoss()  # built on first use, not in the state_dict

    @classmethod
    def sampling_for(cls, config: dict[str, Any]) -> Sampling:
        """K source frames plus one target frame of one clip per item (CainGAN: K = 8)."""
        return k_shot_sampling(config, cls.name or "pix2pixhd_kshot")

    def __init__(self, config: dict[str, Any], info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.k = int(config["k_train"])
        self.sketch_width = int(config["sketch_width"])
        widen_sketch(torch.zeros(1, 3, 1, 1), self.sketch_width)  # refuses a bad width now
        in_channels = 6 * self.k + 3
        n_down = downsamplings(info.resolution, config["n_downsample_global"])
        self.generator = GlobalGenerator(
            in_channels, config["ngf"], n_down, config["n_blocks_global"], config["max_width"]
        )
        self.discriminator = MultiscaleDiscriminator(
            in_channels + 3, config["ndf"], config["n_layers_d"], config["num_d"], 512
        )
        self.landmark_regressor = LandmarkRegressor(info.resolution, config["landmark_width"])

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr, betas = self.config["lr"], tuple(self.config["betas"])
        return {
            "generator": torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
            "discriminator": torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas),
            "landmarks": torch.optim.Adam(
                self.landmark_regressor.parameters(), lr=self.config["lr_landmarks"]
            ),
        }

    def learning_rate(self, step: int) -> float:
        """Constant for the first ``lr_decay_from`` of the steps, then linear to 0 (pix2pixHD's
        niter / niter_decay, 100 + 100 epochs)."""
        steps, start = (
            self.config["steps"],
            int(self.config["lr_decay_from"] * self.config["steps"]),
        )
        if step < start or steps <= start:
            return self.config["lr"]
        return self.config["lr"] * (1 - (step - start) / (steps - start))

    # -- the networks, in the harness's [0, 1] convention ----------------------------------
    def condition(
        self, sources: Tensor, source_landmarks: Tensor, target_landmarks: Tensor
    ) -> Tensor:
        """s = [x_1, y_1, ..., x_K, y_K, y_t] in [-1, 1], K = ``k_train`` (tiled or cut); the
        landmark images widened to ``sketch_width`` pixels (:func:`widen_sketch`)."""
        source_landmarks = widen_sketch(fit_sources(source_landmarks, self.k), self.sketch_width)
        pairs = torch.cat([fit_sources(sources, self.k), source_landmarks], 2)
        target_landmarks = widen_sketch(target_landmarks, self.sketch_width)
        return torch.cat([pairs.flatten(1, 2), target_landmarks], dim=1) * 2 - 1

    def estimate_landmarks(self, images: Tensor) -> Tensor:
        """Landmark images for images [..., 3, H, W] in [0, 1] the harness gives none for:
        the regressed 68 points drawn with the harness's sketch code (README)."""
        points = self.landmark_regressor(images.reshape(-1, *images.shape[-3:]))
        return draw_landmark_images(points, self.info.resolution).view(images.shape)

    # -- training ---------------------------------------------------------------------------
    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        """One D and one G update (pix2pixHD), at the learning rate of ``step``."""
        for _, optimizer in self.iter_optimizers():
            if optimizer is not self.optimizers["landmarks"]:
                for group in optimizer.param_groups:
                    group["lr"] = self.learning_rate(step)
        images, landmark_images = batch.images, batch.landmark_images
        target = images[:, 0] * 2 - 1
        losses = {"landmarks": self._landmark_step(images, batch.landmarks)}
        with self.autocast():
            condition = self.condition(images[:, 1:], landmark_images[:, 1:], landmark_images[:, 0])
            fake = self.generator(condition)
            scores = self.discriminate(condition, target, fake)
            gan = lsgan(scores["fake"], True)
            weight = self.config["lambda_feat"]
            fm = weight * feature_matching(
                scores["real"], scores["fake"], self.config["n_layers_d"]
            )
            vgg = weight * self.perceptual_loss(fake, target)
            g_loss = gan + fm + vgg
            d_loss = 0.5 * (lsgan(scores["real"], True) + lsgan(scores["fake_detached"], False))
        # pix2pixHD's train.py: G steps first, then D, both on the losses of this one forward
        # (zero_grad in optimize drops the G loss's gradients in D before D's own step).
        self.optimize("generator", g_loss)
        self.optimize("discriminator", d_loss)
        losses.update(
            {
                "d": d_loss.item(),
                "g_gan": gan.item(),
                "g_feat": fm.item(),
                "g_perceptual": vgg.item(),
            }
        )
        return losses

    def perceptual_loss(self, fake: Tensor, target: Tensor) -> Tensor:
        """The "VGG" loss of G's output and x_t, both in [-1, 1], fed to the backbone in
        ``perceptual_range``: ``signed`` as pix2pixHD (``criterionVGG(fake_image,
        real_image)`` on [-1, 1]), ``unit`` [0, 1] for backbones trained on [0, 1]."""
        mode = self.config["perceptual_range"]
        if mode == "signed":
            return self.perceptual(fake, target)
        if mode != "unit":
            raise ValueError(
                f"pix2pixhd_kshot: perceptual_range must be unit or signed, got {mode!r}"
            )
        return self.perceptual((fake + 1) / 2, (target + 1) / 2)

    def discriminate(self, condition: Tensor, real: Tensor, fake: Tensor) -> dict[str, list]:
        """D's outputs on (s, x_t), (s, x_hat) detached (D's loss) and (s, x_hat) (G's loss),
        all from the current D, as pix2pixHD's ``Pix2PixHDModel.forward``."""
        return {
            "real": self.discriminator(torch.cat([condition, real], 1)),
            "fake_detached": self.discriminator(torch.cat([condition, fake.detach()], 1)),
            "fake": self.discriminator(torch.cat([condition, fake], 1)),
        }

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
        """Columns: sources, target, its landmark image, G(s), the same from estimated source
        landmarks (what transfer does)."""
        images, landmark_images = batch.images, batch.landmark_images
        condition = self.condition(images[:, 1:], landmark_images[:, 1:], landmark_images[:, 0])
        fake = (self.generator(condition) + 1) / 2
        driver = Driver(image=images[:, 0], landmark_image=landmark_images[:, 0])
        columns = [*images[:, 1:].unbind(1), images[:, 0], landmark_images[:, 0]]
        return torch.stack([*columns, fake, self.transfer(images[:, 1:], driver)], dim=1)

    # -- capabilities -----------------------------------------------------------------------
    def transfer(
        self, sources: Tensor, driver: Driver, source_landmark_images: Tensor | None = None
    ) -> Tensor:
        """G([x_k, L(x_k)]_k, L(driver)); L(x_k) estimated unless given."""
        if source_landmark_images is None:
            source_landmark_images = self.estimate_landmarks(sources)
        condition = self.condition(sources, source_landmark_images, driver.landmark_image)
        return ((self.generator(condition) + 1) / 2).clamp(0, 1)

    def reconstruct(self, images: Tensor) -> Tensor:
        """transfer with sources = [x] and driver = x (estimated landmark images)."""
        landmarks = self.estimate_landmarks(images)
        driver = Driver(image=images, landmark_image=landmarks)
        return self.transfer(images[:, None], driver, landmarks[:, None])
