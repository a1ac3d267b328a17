"""IP-GAN (Zeno, Kalinovskiy, Matveev, ICANN 2019): identity and pose codes from two
encoders, one AdaIN generator, trained through two parameter-sharing pathways.

Only the abstract ([S1]) and the framework paragraph ([S0]) of the paper are available;
the losses and schedule below are the reconstruction of
``../shared/research/methods.md`` §2 (CR-GAN's two pathways and WGAN-GP critic, MUNIT's
latent reconstruction), and README.md marks every such choice.

Generation path (random codes, learns a complete latent space):
    x~ = G(z_id, z_p),  z_id ~ p(z_id), z_p ~ p(z_p)
    L_D^gen = D(x~) - D(x) + lambda_gp * GP           L_G^gen = -D(x~)
    L_lat   = |E_id(x~) - z_id|_1 + |E_p(x~) - z_p|_1
Transformation path (identity from one image, pose from another of the same person):
    x^_b = G(E_id(x_a), E_p(x_b))
    L_D^tr = D(x^_b) - D(x_b) + lambda_gp * GP        L_G^tr = -D(x^_b)
    L_rec  = |x^_b - x_b|_1 (CR-GAN's L1: sum over channels, mean over pixels)
    L_self = |G(E_id(x_a), E_p(x_a)) - x_a|_1
"""

from __future__ import annotations

import torch
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling

from .model import Critic, Generator, IdentityEncoder, PoseEncoder, gradient_penalty


def channel_sum_l1(output: Tensor, target: Tensor) -> Tensor:
    """CR-GAN's ``L1_loss``: |x - y| summed over channels, averaged over batch and pixels."""
    return (output - target).abs().sum(dim=1).mean()


class IPGAN(Method):
    """Two encoders E_id, E_p, generator G and critic D; see the module docstring.

    Items are two frames of one clip (``Sampling(group="clip", frames=2)``): the
    transformation path needs an image x_b whose identity is that of x_a, as its L1
    target. Frames of one clip share the person, background and light and differ in
    pose and expression, so no identity or pose label is read: ``needs = {clip}`` only
    asks the harness to group the two frames.
    """

    needs = frozenset({"clip"})
    provides = frozenset({"transfer", "identity_code", "pose_code", "reconstruct", "sample"})
    sampling = Sampling(group="clip", frames=2)

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        resolution = info.resolution
        self.identity_dim = int(config["identity_dim"])
        self.pose_dim = int(config["pose_dim"])
        self.identity_encoder = IdentityEncoder(
            resolution, config["width"], self.identity_dim, config["identity_pool"]
        )
        self.pose_encoder = PoseEncoder(resolution, config["width"] // 2, self.pose_dim)
        self.generator = Generator(
            resolution,
            config["generator_width"],
            self.identity_dim,
            self.pose_dim,
            config["mlp_hidden"],
        )
        self.critic = Critic(resolution, config["width"])

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for E_id + E_p + G and Adam for D, both at CR-GAN's lr and betas."""
        lr, betas = self.config["lr"], tuple(self.config["betas"])
        synthesis = [
            *self.identity_encoder.parameters(),
            *self.pose_encoder.parameters(),
            *self.generator.parameters(),
        ]
        return {
            "generator": torch.optim.Adam(synthesis, lr=lr, betas=betas),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas),
        }

    def _prior(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Generation-path codes (z_id, z_p) from the configured prior, on the CPU RNG
        ``generator`` when given, else on the global torch RNG (seeded by the harness)."""
        device = self.device if generator is None else generator.device
        shape_id, shape_p = (n, self.identity_dim), (n, self.pose_dim)
        if self.config["prior"] == "normal":
            z_id = torch.randn(shape_id, generator=generator, device=device)
            z_p = torch.randn(shape_p, generator=generator, device=device)
        elif self.config["prior"] == "uniform":  # CR-GAN's U(-1, 1)
            z_id = torch.rand(shape_id, generator=generator, device=device) * 2 - 1
            z_p = torch.rand(shape_p, generator=generator, device=device) * 2 - 1
        else:
            raise ValueError(
                f"ipgan: prior must be 'normal' or 'uniform', got {self.config['prior']!r}"
            )
        return z_id.to(self.device), z_p.to(self.device)

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        """One critic update on both pathways' WGAN-GP losses, then one update of
        E_id, E_p and G on every generator-side loss of both pathways."""
        cfg = self.config
        images = batch.images * 2 - 1
        x_a, x_b = images[:, 0], images[:, 1]
        b = x_a.shape[0]
        z_id, z_p = self._prior(b)

        with self.autocast():
            # Transformation path: identity of x_a, pose of x_b; self-reconstruction of x_a.
            identity = self.identity_encoder(x_a)
            pose = self.pose_encoder(images.flatten(0, 1)).view(b, 2, -1)
            decoded = self.generator(identity.repeat(2, 1), torch.cat([pose[:, 1], pose[:, 0]]))
            transformed, reconstructed = decoded.split(b)
            # Generation path: random identity and pose codes.
            generated = self.generator(z_id, z_p)
            fakes = torch.cat([generated, transformed])  # [2B]
            reals = torch.cat([x_a, x_b])  # the real image each fake is set against

            critic_loss, critic_logs = self._critic_loss(reals, fakes.detach(), b)
        self.optimize("critic", critic_loss)

        self.critic.requires_grad_(False)
        with self.autocast():
            scores = self.critic(fakes)
            adversarial = self._adversarial(scores[:b]) + self._adversarial(scores[b:])
            latent_identity = (self.identity_encoder(generated) - z_id).abs().mean()
            latent_pose = (self.pose_encoder(generated) - z_p).abs().mean()
            reconstruction = channel_sum_l1(transformed, x_b)
            self_reconstruction = channel_sum_l1(reconstructed, x_a)
            generator_loss = (
                cfg["adversarial_weight"] * adversarial
                + cfg["latent_identity_weight"] * latent_identity
                + cfg["latent_pose_weight"] * latent_pose
                + cfg["reconstruction_weight"] * reconstruction
                + cfg["self_reconstruction_weight"] * self_reconstruction
            )
        self.optimize("generator", generator_loss)
        self.critic.requires_grad_(True)

        return {
            "critic": critic_loss.item(),
            **critic_logs,
            "adversarial": adversarial.item(),
            "latent_identity": latent_identity.item(),
            "latent_pose": latent_pose.item(),
            "reconstruction": reconstruction.item(),
            "self_reconstruction": self_reconstruction.item(),
        }

    def _critic_loss(self, reals: Tensor, fakes: Tensor, b: int) -> tuple[Tensor, dict]:
        """Critic loss of both pathways; rows [:b] are the generation path, [b:] the
        transformation path, each fake set against its own real image.

        ``wgan-gp`` (CR-GAN): D(fake) - D(real) + lambda_gp * GP per pathway.
        ``lsgan`` (MUNIT): (D(real) - 1)^2 + D(fake)^2 per pathway.
        """
        real_scores, fake_scores = self.critic(reals), self.critic(fakes)
        paths = (slice(0, b), slice(b, None))
        if self.config["gan_loss"] == "wgan-gp":
            mix = torch.rand(len(reals), device=reals.device)  # GP interpolation weights
            penalty = gradient_penalty(self.critic, reals, fakes, mix)
            gap = sum(real_scores[p].mean() - fake_scores[p].mean() for p in paths)
            gp = sum(penalty[p].mean() for p in paths)
            loss = -gap + self.config["gradient_penalty_weight"] * gp
            return loss, {"wasserstein": gap.item(), "gp": gp.item()}
        if self.config["gan_loss"] == "lsgan":
            loss = sum(
                ((real_scores[p] - 1) ** 2).mean() + (fake_scores[p] ** 2).mean() for p in paths
            )
            return loss, {"d_real": real_scores.mean().item(), "d_fake": fake_scores.mean().item()}
        raise ValueError(
            f"ipgan: gan_loss must be wgan-gp or lsgan, not {self.config['gan_loss']!r}"
        )

    def _adversarial(self, scores: Tensor) -> Tensor:
        """Generator-side adversarial loss of one pathway's fakes: -D (WGAN) or (D - 1)^2."""
        if self.config["gan_loss"] == "wgan-gp":
            return -scores.mean()
        return ((scores - 1) ** 2).mean()

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: x_a, x_b, G(E_id(x_a), E_p(x_b)), G(E_id(x_a), E_p(x_a)), a prior sample."""
        x_a, x_b = batch.images[:, 0], batch.images[:, 1]
        samples = self.sample(len(x_a), torch.Generator().manual_seed(0))
        transfer = self._synthesise(x_a[:, None], x_b)
        return torch.stack([x_a, x_b, transfer, self.reconstruct(x_a), samples], dim=1)

    # -- capabilities ---------------------------------------------------------------------
    def _synthesise(self, sources: Tensor, pose_images: Tensor) -> Tensor:
        """G(mean_k E_id(sources_k), E_p(pose_images)); images in [0, 1] in and out."""
        b, k = sources.shape[:2]
        identity = self.identity_encoder(sources.flatten(0, 1) * 2 - 1).view(b, k, -1).mean(1)
        pose = self.pose_encoder(pose_images * 2 - 1)
        return ((self.generator(identity, pose) + 1) / 2).clamp(0, 1)

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        """Identity: mean of the K sources' E_id codes; pose: E_p of the driver image."""
        return self._synthesise(sources, driver.image)

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        x = images * 2 - 1
        return {"identity": self.identity_encoder(x), "pose": self.pose_encoder(x)}

    def reconstruct(self, images: Tensor) -> Tensor:
        return self._synthesise(images[:, None], images)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """G(z_id, z_p) with both codes drawn from the prior on ``generator`` only."""
        z_id, z_p = self._prior(n, generator)
        return ((self.generator(z_id, z_p) + 1) / 2).clamp(0, 1)
