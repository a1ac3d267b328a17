"""faceaae: Browatzki & Wallraven, "Robust discrimination and generation of faces using
compact, disentangled embeddings" (ICCV Workshops 2019), trained in stages.

Stage ``ae`` trains the adversarial autoencoder (E, G, D_z, D_x) on Eq. (5); stage ``phi``
trains the disentangling networks Phi, Phi^-1 on Eq. (14) with E and G frozen; stage
``joint`` (Sec. 3.8, used by ``faceaae_joint``) trains everything on L_AE + L_Phi. The
stage of a step is a function of ``step`` and the config's ``ae_until`` / ``phi_until``
fractions of ``steps``, so a resumed run continues in the right stage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling, frozen

from .losses import AttributeLabels, gan_loss, task_loss
from .model import (
    ATTRIBUTES,
    Disentangler,
    Encoder,
    Entangler,
    Generator,
    ImageDiscriminator,
    LatentDiscriminator,
)

STAGES = ("ae", "phi", "joint")
LOG_COLUMNS = (
    *("stage", "loss", "rec", "adv", "enc", "gen", "d_z", "d_x", "z_rec", "cyc", "aug"),
    *(f"task_{k}" for k in ATTRIBUTES),
)


@contextlib.contextmanager
def running_stats_frozen(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` keep their running statistics inside the block.

    A train-mode forward still normalises by the batch's own statistics (the gradients
    are those of a train-mode pass); momentum 0 makes the update
    ``running = (1 - momentum) * running + momentum * batch`` leave them as they are.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    before = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, before, strict=True):
            m.momentum = momentum


class FaceAAE(Method):
    """Adversarial autoencoder z = E(x), x = G(z) plus f = Phi(z) = (f_p, f_id, f_e, f_s).

    f_p is the head pose itself (yaw, pitch, roll in radians, Eq. 11), so transfer swaps
    in the driver's angles: G(Phi^-1(f_p <- driver, f_id <- sources, f_e, f_s)).
    """

    needs = frozenset({"identity", "pose_angles", "expression", "clip"})
    provides = frozenset({"transfer", "identity_code", "pose_code", "reconstruct", "sample"})
    # Items of 4 frames of one person, drawn across that person's clips: positives for the
    # identity triplet (same person) and for the style triplet (same clip) lie in the batch,
    # like the paper's macro-batches of persons x clips (Sec. 3.9).
    sampling = Sampling(group="identity", frames=4)

    def __init__(self, config: dict[str, Any], info: DatasetInfo) -> None:
        super().__init__(config, info)
        z_dim, width = config["z_dim"], config["width"]
        sizes = dict(config["code_sizes"])
        if sum(sizes.values()) != z_dim or set(sizes) != set(ATTRIBUTES):
            raise ValueError(f"code_sizes {sizes} must cover {ATTRIBUTES} and sum to z_dim")
        if sizes["pose"] != 3:
            raise ValueError("code_sizes.pose must be 3: f_p is (yaw, pitch, roll)")
        self.encoder = Encoder(info.resolution, width, z_dim, tuple(config["encoder_blocks"]))
        self.generator = Generator(info.resolution, width, z_dim)
        self.d_z = LatentDiscriminator(z_dim, config["d_z_hidden"], config["d_z_dropout"])
        self.d_x = ImageDiscriminator(info.resolution, config["d_x_width"])
        self.phi = Disentangler(z_dim, sizes, config["phi_hidden"])
        self.phi_inv = Entangler(z_dim, z_dim, config["phi_hidden"])

    # -- schedule ---------------------------------------------------------------------------
    def stage(self, step: int) -> str:
        """``ae`` before ``ae_until * steps``, ``phi`` before ``phi_until * steps``, then ``joint``."""
        steps = int(self.config["steps"])
        if step < round(self.config["ae_until"] * steps):
            return "ae"
        if step < round(self.config["phi_until"] * steps):
            return "phi"
        return "joint"

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for E+G (lr 5e-5, betas 0/0.999) and Phi+Phi^-1 (1e-4, 0.9/0.999), Sec. 4.3.

        One optimizer holds both groups, so joint training steps them on one backward;
        a group without gradients (Phi in stage ``ae``, E/G frozen in ``phi``) is skipped.
        """
        c = self.config
        groups = [
            {
                "params": [*self.encoder.parameters(), *self.generator.parameters()],
                "lr": c["lr_ae"],
                "betas": tuple(c["betas_ae"]),
            },
            {
                "params": [*self.phi.parameters(), *self.phi_inv.parameters()],
                "lr": c["lr_phi"],
                "betas": tuple(c["betas_phi"]),
            },
        ]
        d_betas = tuple(c["betas_ae"])
        return {
            "model": torch.optim.Adam(groups),
            "d_z": torch.optim.Adam(self.d_z.parameters(), lr=c["lr_d"], betas=d_betas),
            "d_x": torch.optim.Adam(self.d_x.parameters(), lr=c["lr_d"], betas=d_betas),
        }

    # -- training ---------------------------------------------------------------------------
    def _inputs(self, batch: FaceBatch) -> tuple[Tensor, AttributeLabels]:
        """Flatten [B, F] to N images in [-1, 1]; mirror with p (Sec. 4.3), negating yaw and roll."""
        images = batch.images.flatten(0, 1) * 2 - 1
        pose = torch.deg2rad(batch.pose.flatten(0, 1).float())
        identity = batch.identity.flatten()
        clip = identity * 1_000_003 + batch.clip.flatten()
        flip = torch.rand(images.shape[0]).to(images.device) < self.config["flip_probability"]
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        pose = pose * torch.where(flip[:, None], pose.new_tensor([-1.0, 1.0, -1.0]), 1.0)
        labels = AttributeLabels(pose, identity, batch.expression.flatten(), clip)
        return images, labels

    def _prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z* ~ p(z) = N(0, I) (the official code's prior)."""
        return torch.randn(n, self.config["z_dim"], generator=generator).to(self.device)

    def _d_z_logits(self, z_prior: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        """D_z on prior samples and codes in one batch: BatchNorm over a batch of one kind
        alone would normalise away the very mean and scale D_z must tell apart."""
        return self.d_z(torch.cat([z_prior, z])).chunk(2)

    def _autoencoder_losses(self, images: Tensor) -> tuple[Tensor, Tensor, dict[str, float]]:
        """Update D_z and D_x, then return (E/G objective of Eq. 5, z = E(x), logs)."""
        lam = self.config["lambda_ae"]
        z = self.encoder(images)
        z_prior = self._prior(images.shape[0])
        # One G pass over [E(x); z*] so BatchNorm sees both (reconstructions and samples).
        decoded = self.generator(torch.cat([z, z_prior]))
        recon, generated = decoded.chunk(2)

        # max over D_z of Eq. (2), max over D_x of lambda_AE * Eq. (3) + Eq. (4).
        prior_logits, code_logits = self._d_z_logits(z_prior, z.detach())
        loss_d_z = gan_loss(prior_logits, True) + gan_loss(code_logits, False)
        self.optimize("d_z", loss_d_z)
        real = gan_loss(self.d_x(images), True)
        loss_d_x = lam * (real + gan_loss(self.d_x(recon.detach()), False)) + (
            real + gan_loss(self.d_x(generated.detach()), False)
        )
        self.optimize("d_x", loss_d_x)

        # min over E, G of Eq. (5), the generator terms in their non-saturating form.
        with frozen(self.d_z, self.d_x):
            rec = (images - recon).abs().mean() * self.config["rec_scale"]
            adv = gan_loss(self.d_x(recon), True)
            enc = gan_loss(self._d_z_logits(z_prior, z)[1], True)
            gen = gan_loss(self.d_x(generated), True)
        loss = lam * (rec + adv) + enc + gen
        logs = {
            "rec": rec.item(),
            "adv": adv.item(),
            "enc": enc.item(),
            "gen": gen.item(),
            "d_z": loss_d_z.item(),
            "d_x": loss_d_x.item(),
        }
        return loss, z, logs

    def _disentangle_losses(
        self, z: Tensor, labels: AttributeLabels, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        """L_Phi of Eq. (14) on codes z; the cycle edits attribute ``ATTRIBUTES[step % 4]``."""
        c = self.config
        weights, margin = c["task_weights"], c["triplet_margin"]
        f = self.phi(z)
        rec = (z - self.phi_inv(f)).abs().mean()  # Eq. (6)
        tasks = {k: task_loss(k, f[k], labels, margin) for k in ATTRIBUTES}  # Eq. (7)
        task = sum(weights[k] * tasks[k] for k in ATTRIBUTES)

        # Eq. (8)-(9): permute attribute k across the batch, decode, re-encode.
        edited = ATTRIBUTES[step % len(ATTRIBUTES)]
        order = torch.randperm(z.shape[0]).to(z.device)
        f_star = {k: v.detach() for k, v in f.items()}
        f_star[edited] = f_star[edited][order]
        # E's running statistics come from real images only: the cycled syntheses pass
        # through a train-mode E in the joint stage, and would otherwise make its
        # test-time normalisation half synthetic.
        with running_stats_frozen(self.encoder):
            cycled = self.phi(self.encoder(self.generator(self.phi_inv(f_star))))
        cyc = (
            (
                torch.cat([cycled[k] for k in ATTRIBUTES], 1)
                - torch.cat([f_star[k] for k in ATTRIBUTES], 1)
            )
            .abs()
            .mean()
        )
        # Eq. (10): the edited attribute of the cycled codes must match the permuted labels.
        aug = weights[edited] * task_loss(edited, cycled[edited], labels.permuted(order), margin)

        loss = c["lambda_rec_phi"] * rec + task + cyc + aug
        logs = {"z_rec": rec.item(), "cyc": cyc.item(), "aug": aug.item()}
        logs.update({f"task_{k}": v.item() for k, v in tasks.items()})
        return loss, logs

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        stage = self.stage(step)
        images, labels = self._inputs(batch)
        # E and G are fixed in stage phi (eval-mode BatchNorm), trained otherwise; set per
        # step so the mode is a function of ``step`` (resume) and survives preview's eval().
        self.encoder.train(stage != "phi")
        self.generator.train(stage != "phi")
        with self.autocast():
            if stage == "ae":
                loss, _, logs = self._autoencoder_losses(images)
                self.optimize("model", loss)
            elif stage == "phi":
                # E and G fixed (Sec. 3.7): no parameter gradients; gradients of the cycle
                # losses still pass through them to Phi^-1.
                with frozen(self.encoder, self.generator):
                    with torch.no_grad():
                        z = self.encoder(images)
                    loss, logs = self._disentangle_losses(z, labels, step)
                    self.optimize("model", loss)
            else:
                loss_ae, z, logs = self._autoencoder_losses(images)
                loss_phi, phi_logs = self._disentangle_losses(z, labels, step)
                logs.update(phi_logs)
                loss = loss_ae + loss_phi  # Sec. 3.8
                self.optimize("model", loss)
        # Every step logs the same columns (terms a stage does not use are 0).
        row = dict.fromkeys(LOG_COLUMNS, 0.0)
        row.update(logs, stage=float(STAGES.index(stage)), loss=loss.item())
        return row

    # -- capabilities -----------------------------------------------------------------------
    def _codes(self, images: Tensor) -> dict[str, Tensor]:
        """f = Phi(E(x)) for images in [0, 1]."""
        return self.phi(self.encoder(images * 2 - 1))

    def _decode(self, codes: dict[str, Tensor]) -> Tensor:
        """x = G(Phi^-1(f)) in [0, 1]."""
        return ((self.generator(self.phi_inv(codes)) + 1) / 2).clamp(0, 1)

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        """f_id: renormalised mean over the K sources; f_s from the first source; f_p: the
        driver's angles; f_e from the driver's image or the first source (``transfer_expression``)."""
        b, k = sources.shape[:2]
        codes = self._codes(sources.flatten(0, 1))
        codes = {name: v.view(b, k, -1) for name, v in codes.items()}
        mixed = {
            "pose": torch.deg2rad(driver.pose.float()).to(sources.device),
            "identity": F.normalize(codes["identity"].mean(dim=1), dim=1),
            "expression": codes["expression"][:, 0],
            "style": codes["style"][:, 0],
        }
        if self.config["transfer_expression"] == "driver":
            mixed["expression"] = self._codes(driver.image)["expression"]
        return self._decode(mixed)

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """f_id as the identity code; f_p, f_e, f_s and f_-id (their concatenation) as leakage checks."""
        f = self._codes(images)
        rest = torch.cat([f["pose"], f["expression"], f["style"]], dim=1)
        return {
            "identity": f["identity"],
            "pose": f["pose"],
            "expression": f["expression"],
            "style": f["style"],
            "non_identity": rest,
        }

    def reconstruct(self, images: Tensor) -> Tensor:
        """G(E(x)) (Eq. 1)."""
        return ((self.generator(self.encoder(images * 2 - 1)) + 1) / 2).clamp(0, 1)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """G(z*), z* ~ N(0, I) drawn from ``generator``."""
        return ((self.generator(self._prior(n, generator)) + 1) / 2).clamp(0, 1)

    def preview_headers(self, columns: int) -> list[str]:
        return ["frame 0", "G(E(x))", "G(Phi^-1(Phi(E(x))))", "frame 1", "0 in 1's pose", "G(z*)"]

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: frame 0, G(E(x)), G(Phi^-1(Phi(E(x)))), frame 1, frame 0 in frame 1's pose,
        and a sample G(z*) (a fixed local generator, so the global RNG is untouched)."""
        first, second = batch.images[:, 0], batch.images[:, 1]
        driver = Driver(image=second, pose=batch.pose[:, 1])
        samples = self.sample(first.shape[0], torch.Generator().manual_seed(0))
        return torch.stack(
            [
                first,
                self.reconstruct(first),
                self._decode(self._codes(first)),
                second,
                self.transfer(first[:, None], driver),
                samples,
            ],
            dim=1,
        )
