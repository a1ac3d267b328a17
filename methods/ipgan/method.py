"""IP-GAN (Zeno, Kalinovskiy, Matveev, ICANN 2019): identity and pose codes from two
encoders, one AdaIN generator, trained through two parameter-sharing pathways.

Only the abstract ([S1]) and the framework paragraph ([S0]) of the paper are available;
the losses and schedule below are the reconstruction of
``../shared/research/methods.md`` §2: CR-GAN's two pathways, update order and
complete-representation branch (``bluer555/CR-GAN`` ``train.py``) and MUNIT's latent
reconstruction (``NVlabs/MUNIT`` ``trainer.py``). README.md marks every such choice.

Each iteration, as CR-GAN's, updates the critic and the generator side once per pathway:

Path 1, generation (random codes): x~ = G(z_id, z_p)
    D: L_D(x_a, x~)                       G only: adversarial(x~)
Path 2, with probability ``complete_representation_share`` the complete-representation
branch (CR-GAN's ``reconstruct_fake``), else the transformation:
    complete:   x^ = G(E_id(x~), z_p), target x~    D: L_D(x_a, x^)
                E_id only: adversarial(x^) + lambda_rec * |x^ - x~|_1
    transform:  x^ = G(E_id(x_a), E_p(x_b)), target x_b    D: L_D(x_b, x^)
                E_id, E_p, G: adversarial(x^) + lambda_rec * |x^ - x_b|_1
                  + MUNIT's latent reconstruction of x_ab = G(c_a, z_p), c_a = E_id(x_a):
                    |E_id(x_ab) - c_a|_1 + |E_p(x_ab) - z_p|_1
|.|_1 of images is CR-GAN's ``L1_loss`` (sum over channels, mean over pixels); of codes
MUNIT's ``recon_criterion`` (mean). Two measured options, off by default (README
"Deviations" 5 and 11): ``self_reconstruction_weight`` adds the a = b term
|G(E_id(x_a), E_p(x_a)) - x_a|_1, and ``pose_colour_mix`` makes E_p read its training
images through ``colour_mix`` (the pairs share their scene, and E_p fed the plain image
learns the scene; through the colour map it learned nothing at the tiny budget). A third,
``pose_scene_adversary_weight`` > 0, adds DrNet's scene discriminator C (Denton &
Birodkar 2017; README "Deviations" 12): in each transformation step C learns, with its own
optimizer, to tell same-session pose-code pairs (E_p(x_a_i), E_p(x_b_i)) from
different-session ones (E_p(x_a_i), E_p(x_b_{i-1})), and E_p takes the cross-entropy
between C(E_p(x_a_i), E_p(x_b_i)) and 1/2 at that weight (measured, off by default).

The tiny config departs from the references in three measured ways (README "Deviations"
13-15; ``paper`` keeps the references): ``pose_grey`` makes E_p read the per-image
standardised grey image (train and test), ``latent_identity_detach`` detaches the latent
identity target E_id(x_a), and ``complete_representation_share`` is 0.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling, frozen

from .model import (
    Critic,
    Generator,
    IdentityEncoder,
    PoseEncoder,
    SceneDiscriminator,
    gradient_penalty,
)


def colour_mix(images: Tensor) -> Tensor:
    """Each image in [-1, 1] through its own random linear colour map: output channel c is
    sum_j M_cj x_j / sum_j |M_cj| with M_cj ~ U(-1, 1), so every colour (and the sign of
    every contrast) is random while the layout of the regions survives; the outputs stay
    in [-1, 1]. Drawn from the global torch RNG (the checkpoint carries it)."""
    b = images.shape[0]
    mix = torch.rand(b, 3, 3, device=images.device) * 2 - 1
    mix = mix / mix.abs().sum(dim=2, keepdim=True).clamp_min(1e-6)
    return torch.einsum("bcj,bjhw->bchw", mix, images)


def channel_sum_l1(output: Tensor, target: Tensor) -> Tensor:
    """CR-GAN's ``L1_loss``: |x - y| summed over channels, averaged over batch and pixels."""
    return (output - target).abs().sum(dim=1).mean()


class IPGAN(Method):
    """Two encoders E_id, E_p, generator G and critic D; see the module docstring.

    Items are two images of one group (``sampling_group``; default ``session``: two views
    of one multi-view session, as CR-GAN's Multi-PIE loader pairs two cameras of one
    session, expression and flash). The transformation path needs an image x_b whose
    identity and scene are those of x_a, as its L1 target; no identity or pose label is
    read, so ``needs`` is empty: the grouping alone pairs the images.
    """

    needs = frozenset()
    provides = frozenset({"transfer", "identity_code", "pose_code", "reconstruct", "sample"})

    @classmethod
    def sampling_for(cls, config: dict[str, Any]) -> Sampling:
        """Two images of one ``config["sampling_group"]`` (session, clip or identity)."""
        return Sampling(group=config["sampling_group"], frames=2)

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        resolution = info.resolution
        self.identity_dim = int(config["identity_dim"])
        self.pose_dim = int(config["pose_dim"])
        self.identity_encoder = IdentityEncoder(
            resolution, config["width"], self.identity_dim, config["identity_pool"]
        )
        # Absent in checkpoints from before the key: E_p read the image as it is.
        grey = bool(config.get("pose_grey", False))
        self.pose_encoder = PoseEncoder(resolution, config["width"] // 2, self.pose_dim, grey=grey)
        self.generator = Generator(
            resolution,
            config["generator_width"],
            self.identity_dim,
            self.pose_dim,
            config["mlp_hidden"],
        )
        self.critic = Critic(resolution, config["width"])
        # A training input only; checkpoints from before the key were trained without it.
        self.pose_colour_mix = bool(config.get("pose_colour_mix", False))
        # DrNet's scene adversary on the pose code; absent (as in checkpoints from before the
        # key) or 0: no C is built, so the other networks' initialisation is unchanged.
        self.scene_weight = float(config.get("pose_scene_adversary_weight", 0.0))
        if self.scene_weight < 0:
            raise ValueError(
                f"ipgan: pose_scene_adversary_weight must be >= 0, got {self.scene_weight}"
            )
        self.scene_discriminator = (
            SceneDiscriminator(self.pose_dim, int(config["scene_discriminator_hidden"]))
            if self.scene_weight
            else None
        )
        share = float(config["complete_representation_share"])
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"ipgan: complete_representation_share must be in [0, 1], got {share}")

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for E_id + E_p + G and Adam for D at the config's lr and betas.

        One optimizer holds E_id, E_p and G: each update steps only the parameters that
        took a gradient (Adam skips the others), so path 1 moves G alone and the
        complete-representation branch E_id alone, as CR-GAN's separate solvers do.
        """
        lr, betas = self.config["lr"], tuple(self.config["betas"])
        synthesis = [
            *self.identity_encoder.parameters(),
            *self.pose_encoder.parameters(),
            *self.generator.parameters(),
        ]
        optimizers = {
            "generator": torch.optim.Adam(synthesis, lr=lr, betas=betas),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas),
        }
        if self.scene_discriminator is not None:  # C's own Adam (DrNet: optimStateC)
            params = self.scene_discriminator.parameters()
            scene_lr = self.config.get("scene_discriminator_lr") or lr  # null: the others' lr
            optimizers["scene"] = torch.optim.Adam(params, lr=scene_lr, betas=betas)
        return optimizers

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
        """Path 1 (D, then G), then path 2 (D, then the complete-representation branch on
        E_id or the transformation on E_id, E_p and G), as CR-GAN's ``train.py``."""
        images = batch.images * 2 - 1
        x_a, x_b = images[:, 0], images[:, 1]
        z_id, z_p = self._prior(x_a.shape[0])
        # Drawn from the global torch RNG, which the checkpoint carries: resume is exact.
        complete = bool(torch.rand(()) < self.config["complete_representation_share"])

        generated, logs = self._generation_step(x_a, z_id, z_p)
        if complete:
            logs |= self._complete_representation_step(x_a, generated, z_p)
        else:
            logs |= self._transformation_step(x_a, x_b, z_p)
        # Every step logs the same columns; a term the branch does not compute is 0.
        row = dict.fromkeys(self._log_columns(), 0.0)
        row.update(logs, complete_representation=float(complete))
        return row

    def _log_columns(self) -> tuple[str, ...]:
        critic = (
            ("wasserstein", "gp") if self.config["gan_loss"] == "wgan-gp" else ("d_real", "d_fake")
        )
        per_path = [
            f"{name}_{path}"
            for path in ("generation", "transformation")
            for name in ("critic", *critic, "adversarial")
        ]
        return (
            "complete_representation",
            *per_path,
            "reconstruction",
            "complete_reconstruction",
            "latent_identity",
            "latent_pose",
            "self_reconstruction",
            *(
                ("scene_discriminator", "scene_accuracy", "scene_adversarial")
                if self.scene_weight
                else ()
            ),
        )

    def _generation_step(
        self, x_a: Tensor, z_id: Tensor, z_p: Tensor
    ) -> tuple[Tensor, dict[str, float]]:
        """Path 1: D on x_a vs G(z_id, z_p), then G alone on the adversarial loss; returns
        the generated images (detached) for the complete-representation branch."""
        with self.autocast():
            generated = self.generator(z_id, z_p)
            critic_loss, critic_logs = self._critic_loss(x_a, generated.detach())
        self.optimize("critic", critic_loss)
        with frozen(self.critic), self.autocast():
            adversarial = self._adversarial(self.critic(generated))
            loss = self.config["adversarial_weight"] * adversarial
        self.optimize("generator", loss)
        return generated.detach(), {
            "critic_generation": critic_loss.item(),
            **{f"{k}_generation": v for k, v in critic_logs.items()},
            "adversarial_generation": adversarial.item(),
        }

    def _complete_representation_step(
        self, x_real: Tensor, generated: Tensor, z_p: Tensor
    ) -> dict[str, float]:
        """CR-GAN's ``reconstruct_fake`` branch: encode a generated image, decode it with
        the pose code that made it (CR-GAN: the known view), L1 to it; D sets the result
        against a real image; only E_id is updated (CR-GAN steps ``G_xvz_solver`` alone)."""
        generated = generated.detach()
        with frozen(self.generator), self.autocast():  # G's parameters take no gradient
            rebuilt = self.generator(self.identity_encoder(generated), z_p)
        with self.autocast():
            critic_loss, critic_logs = self._critic_loss(x_real, rebuilt.detach())
        self.optimize("critic", critic_loss)
        with frozen(self.critic), self.autocast():
            adversarial = self._adversarial(self.critic(rebuilt))
            reconstruction = channel_sum_l1(rebuilt, generated)
            loss = (
                self.config["adversarial_weight"] * adversarial
                + self.config["reconstruction_weight"] * reconstruction
            )
        self.optimize("generator", loss)  # only E_id has gradients: Adam steps nothing else
        return {
            "critic_transformation": critic_loss.item(),
            **{f"{k}_transformation": v for k, v in critic_logs.items()},
            "adversarial_transformation": adversarial.item(),
            "complete_reconstruction": reconstruction.item(),
        }

    def _transformation_step(self, x_a: Tensor, x_b: Tensor, z_p: Tensor) -> dict[str, float]:
        """x^_b = G(E_id(x_a), E_p(x_b)) against x_b, plus MUNIT's latent reconstruction of
        x_ab = G(E_id(x_a), z_p): the real identity code with a random pose code."""
        cfg = self.config
        with self.autocast():
            identity = self.identity_encoder(x_a)
            pose_b = self.pose_encoder(self._pose_input(x_b))
            transformed = self.generator(identity, pose_b)
            critic_loss, critic_logs = self._critic_loss(x_b, transformed.detach())
        self.optimize("critic", critic_loss)
        scene_logs, pose_a = {}, None
        if self.scene_discriminator is not None:  # DrNet: C's update first, on detached codes
            with torch.no_grad(), self.autocast():
                pose_a = self.pose_encoder(self._pose_input(x_a))
            scene_logs = self._scene_discriminator_step(pose_a, pose_b.detach())
        with frozen(self.critic), self.autocast():
            adversarial = self._adversarial(self.critic(transformed))
            reconstruction = channel_sum_l1(transformed, x_b)
            latent_identity, latent_pose = self.latent_reconstruction(identity, z_p)
            loss = (
                cfg["adversarial_weight"] * adversarial
                + cfg["reconstruction_weight"] * reconstruction
                + cfg["latent_identity_weight"] * latent_identity
                + cfg["latent_pose_weight"] * latent_pose
            )
            self_reconstruction = torch.zeros(())
            if cfg["self_reconstruction_weight"]:  # a = b: G(E_id(x_a), E_p(x_a)) to x_a
                rebuilt = self.generator(identity, self.pose_encoder(self._pose_input(x_a)))
                self_reconstruction = channel_sum_l1(rebuilt, x_a)
                loss = loss + cfg["self_reconstruction_weight"] * self_reconstruction
            if pose_a is not None:
                with frozen(self.scene_discriminator):
                    scene_adversarial = self.scene_adversarial(pose_a, pose_b)
                loss = loss + self.scene_weight * scene_adversarial
                scene_logs["scene_adversarial"] = scene_adversarial.item()
        self.optimize("generator", loss)
        return {
            "critic_transformation": critic_loss.item(),
            **{f"{k}_transformation": v for k, v in critic_logs.items()},
            "adversarial_transformation": adversarial.item(),
            "reconstruction": reconstruction.item(),
            "latent_identity": latent_identity.item(),
            "latent_pose": latent_pose.item(),
            "self_reconstruction": self_reconstruction.item(),
            **scene_logs,
        }

    def scene_discriminator_loss(self, pose_a: Tensor, pose_b: Tensor) -> tuple[Tensor, Tensor]:
        """DrNet's C loss: BCE of C(pose_a_i, pose_b_i) to 1 (one session: a training pair)
        and of C(pose_a_i, pose_b_{i-1}) to 0 (the batch rolled by one: another session), mean
        over the 2B pairs; returns (loss, accuracy at 0.5). DrNet draws half a batch of each."""
        other = pose_b.roll(1, dims=0)
        logits = self.scene_discriminator(torch.cat([pose_a, pose_a]), torch.cat([pose_b, other]))
        n = len(pose_a)
        target = torch.cat([logits.new_ones(n), logits.new_zeros(n)])
        loss = F.binary_cross_entropy_with_logits(logits, target)
        accuracy = ((logits > 0).float() == target).float().mean()
        return loss, accuracy

    def scene_adversarial(self, pose_a: Tensor, pose_b: Tensor) -> Tensor:
        """DrNet's pose-encoder term: BCE of C(pose_a_i, pose_b_i) on same-session pairs to
        1/2, i.e. C kept maximally uncertain. As in ``train_drnet.lua`` the gradient reaches
        E_p through the second code only (``dhp2_rec``): ``pose_a`` is detached."""
        logits = self.scene_discriminator(pose_a.detach(), pose_b)
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 0.5))

    def _scene_discriminator_step(self, pose_a: Tensor, pose_b: Tensor) -> dict[str, float]:
        """One update of C alone (its own optimizer) on detached pose codes."""
        with self.autocast():
            loss, accuracy = self.scene_discriminator_loss(pose_a.detach(), pose_b.detach())
        self.optimize("scene", loss)
        return {"scene_discriminator": loss.item(), "scene_accuracy": accuracy.item()}

    def latent_reconstruction(self, identity: Tensor, z_p: Tensor) -> tuple[Tensor, Tensor]:
        """MUNIT's ``loss_gen_recon_c_a`` and ``loss_gen_recon_s_b``: decode the real
        identity (content) code ``identity`` = E_id(x_a) with a random pose (style) code
        ``z_p``, re-encode, mean L1 to each. As in MUNIT neither code is detached, so the
        identity term also reaches E_id through its target, unless the config's
        ``latent_identity_detach`` (tiny; README "Deviations" 14) detaches that target."""
        mixed = self.generator(identity, z_p)
        target = identity.detach() if self.config.get("latent_identity_detach") else identity
        latent_identity = (self.identity_encoder(mixed) - target).abs().mean()
        latent_pose = (self.pose_encoder(self._pose_input(mixed)) - z_p).abs().mean()
        return latent_identity, latent_pose

    def _pose_input(self, images: Tensor) -> Tensor:
        """What E_p sees in training: ``images`` under :func:`colour_mix` when the config's
        ``pose_colour_mix`` is on (README "Deviations" 11), else the images themselves."""
        return colour_mix(images) if self.pose_colour_mix else images

    def _critic_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, dict[str, float]]:
        """Critic loss of one pathway.

        ``wgan-gp`` (CR-GAN): D(fake) - D(real) + lambda_gp * GP.
        ``lsgan`` (MUNIT): (D(real) - 1)^2 + D(fake)^2.
        """
        real_scores, fake_scores = self.critic(real), self.critic(fake)
        if self.config["gan_loss"] == "wgan-gp":
            mix = torch.rand(len(real), device=real.device)  # GP interpolation weights
            penalty = gradient_penalty(self.critic, real, fake, mix).mean()
            gap = real_scores.mean() - fake_scores.mean()
            loss = -gap + self.config["gradient_penalty_weight"] * penalty
            return loss, {"wasserstein": gap.item(), "gp": penalty.item()}
        if self.config["gan_loss"] == "lsgan":
            loss = ((real_scores - 1) ** 2).mean() + (fake_scores**2).mean()
            return loss, {"d_real": real_scores.mean().item(), "d_fake": fake_scores.mean().item()}
        raise ValueError(
            f"ipgan: gan_loss must be wgan-gp or lsgan, not {self.config['gan_loss']!r}"
        )

    def _adversarial(self, scores: Tensor) -> Tensor:
        """Generator-side adversarial loss: -D (WGAN) or (D - 1)^2 (LSGAN)."""
        if self.config["gan_loss"] == "wgan-gp":
            return -scores.mean()
        return ((scores - 1) ** 2).mean()

    def preview_headers(self, columns: int) -> list[str]:
        return ["x_a", "x_b", "x_a in x_b's pose", "G(E(x_a))", "prior sample"]

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
