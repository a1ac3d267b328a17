"""DR-GAN, single-image (Tran, Yin & Liu, "Disentangled Representation Learning GAN for
Pose-Invariant Face Recognition", CVPR 2017).

G = G_dec(G_enc(x), c, z) rotates a face x to the pose code c; D = [D^d, D^p] classifies
identity (N_d real classes + one "synthetic" class) and pose (N_p bins). Training is the
paper's two-player game, all weights 1:

    max_D  E_x[log D^d_{y^d}(x) + log D^p_{y^p}(x)] + E_{x,c,z}[log D^d_{N_d+1}(G(x, c, z))]
    max_G  E_{x,c,z}[log D^d_{y^d}(G(x, c, z)) + log D^p_{y^t}(G(x, c, z))]

written here as cross-entropies to minimise. G_enc has no loss of its own: it is trained
through the identity (and pose) classification of the synthetic image, which is what makes
f(x) the identity representation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling

from .model import Decoder, Discriminator, Encoder, copy_trunk, fuse, init_weights, one_hot

#: Pose bins shown in the training preview: about -60, -30, 0, 30, 60 degrees of yaw.
PREVIEW_YAWS = (-60.0, -30.0, 0.0, 30.0, 60.0)


def discriminator_loss(
    real: tuple[Tensor, Tensor],
    identity: Tensor,
    pose_bin: Tensor,
    fake_identity_logits: Tensor,
) -> dict[str, Tensor]:
    """-V_D of eq. (3): real images to their identity and pose, synthetic ones to class N_d+1.

    ``real`` is D's (D^d, D^p) logits of real images; the "synthetic" class is the last
    D^d logit.
    """
    real_identity_logits, real_pose_logits = real
    synthetic = torch.full_like(fake_identity_logits[:, 0], fake_identity_logits.shape[1] - 1)
    return {
        "d_real_id": F.cross_entropy(real_identity_logits, identity),
        "d_real_pose": F.cross_entropy(real_pose_logits, pose_bin),
        "d_fake": F.cross_entropy(fake_identity_logits, synthetic.long()),
    }


def discriminator_loss_bce(
    real: tuple[Tensor, Tensor],
    identity: Tensor,
    pose_bin: Tensor,
    fake_identity_logits: Tensor,
) -> dict[str, Tensor]:
    """kayamin's split of D^d (``real_fake: bce``): an N_d-way identity cross-entropy on
    real images and a separate real/fake BCE on logit N_d+1 (real 1, synthetic 0)."""
    real_identity_logits, real_pose_logits = real
    real_logit = real_identity_logits[:, -1]
    fake_logit = fake_identity_logits[:, -1]
    return {
        "d_real_id": F.cross_entropy(real_identity_logits[:, :-1], identity),
        "d_real_pose": F.cross_entropy(real_pose_logits, pose_bin),
        "d_real": F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit)),
        "d_fake": F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)),
    }


def generator_loss_bce(
    fake: tuple[Tensor, Tensor], identity: Tensor, target_bin: Tensor
) -> dict[str, Tensor]:
    """G's side of kayamin's split: CE(id over the N_d classes) + BCE(real) + CE(pose)."""
    fake_identity_logits, fake_pose_logits = fake
    fake_logit = fake_identity_logits[:, -1]
    return {
        "g_id": F.cross_entropy(fake_identity_logits[:, :-1], identity),
        "g_real": F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit)),
        "g_pose": F.cross_entropy(fake_pose_logits, target_bin),
    }


def generator_loss(
    fake: tuple[Tensor, Tensor], identity: Tensor, target_bin: Tensor
) -> dict[str, Tensor]:
    """-V_G of eq. (4): the synthetic image is classified as the input's identity y^d (one
    of the N_d real classes, so also "not synthetic") and as the target pose y^t of c."""
    fake_identity_logits, fake_pose_logits = fake
    return {
        "g_id": F.cross_entropy(fake_identity_logits, identity),
        "g_pose": F.cross_entropy(fake_pose_logits, target_bin),
    }


def _with_bce_columns(names: tuple[str, ...]) -> tuple[str, ...]:
    """The loss columns under kayamin's split: ``d_real`` after ``d_real_pose``, ``g_real``
    after every ``g_id*``."""
    out: list[str] = []
    for name in names:
        out.append(name)
        if name == "d_real_pose":
            out.append("d_real")
        if name.startswith("g_id"):
            out.append("g_real" + name[len("g_id") :])
    return tuple(out)


class DRGAN(Method):
    """Single-image DR-GAN: one image in, f(x) = G_enc(x), G_dec(f, c, z) out.

    Each training item is one image with its identity and pose bin; its target pose c is
    drawn uniformly over the N_p bins and z ~ U(-1, 1)^{N_z}. Every step updates D once
    and then G (G_enc and G_dec) once on the same synthetic images.
    """

    needs = frozenset({"identity", "pose_bins"})
    provides = frozenset({"transfer", "identity_code", "pose_code", "reconstruct"})
    sampling = Sampling(group=None, frames=1)
    #: G_enc predicts a confidence omega per image (multi-image DR-GAN only).
    confidence = False
    #: Losses logged in the adversarial phase; pretraining steps log them as 0 (every
    #: step logs the same columns), and the column ``adversarial`` says which phase it was.
    adversarial_losses: tuple[str, ...] = ("d_real_id", "d_real_pose", "d_fake", "g_id", "g_pose")

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        real_fake = config["real_fake"]  # in every config.yaml, like pretrain_pose
        if real_fake not in ("softmax", "bce"):
            raise ValueError(f"drgan: real_fake must be softmax or bce, got {real_fake!r}")
        self.bce = real_fake == "bce"
        self.pretrain_pose = bool(config["pretrain_pose"])
        if self.bce:  # kayamin's split logs a real/fake BCE for D and G
            self.adversarial_losses = _with_bce_columns(self.adversarial_losses)
        width, res = config["width"], info.resolution
        self.n_pose_bins = info.n_pose_bins
        self.noise_dim = config["noise_dim"]
        self.encoder = Encoder(res, width, confidence=self.confidence)
        self.decoder = Decoder(res, width, info.n_pose_bins, self.noise_dim)
        self.discriminator = Discriminator(res, width, info.n_identities, info.n_pose_bins)
        for network in (self.encoder, self.decoder, self.discriminator):
            init_weights(network, config["init_std"])
        centres = (
            torch.tensor(info.pose_bin_edges[:-1])
            + torch.diff(torch.tensor(info.pose_bin_edges)) / 2
        )
        self.preview_bins = [int((centres - yaw).abs().argmin()) for yaw in PREVIEW_YAWS]

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = tuple(self.config["betas"])
        generator = [*self.encoder.parameters(), *self.decoder.parameters()]
        return {
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=self.d_lr, betas=betas),
            "g": torch.optim.Adam(generator, lr=self.g_lr, betas=betas),
        }

    @property
    def d_lr(self) -> float:
        """D's adversarial-phase rate: ``d_lr``, or ``lr`` when it is null."""
        return float(self.config.get("d_lr") or self.config["lr"])

    @property
    def g_lr(self) -> float:
        """G's rate: ``g_lr``, or ``lr`` when it is null."""
        return float(self.config.get("g_lr") or self.config["lr"])

    # -- the generator ----------------------------------------------------------------------
    def represent(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """G_enc on images [N, 3, H, W] in [0, 1]: (f [N, d], omega [N] or None)."""
        return self.encoder(images * 2 - 1)

    def represent_set(self, sources: Tensor) -> Tensor:
        """One representation of K images of a person [B, K, 3, H, W]: the fused f [B, d].

        Single-image DR-GAN has no confidence, so its K representations are averaged.
        """
        b, k = sources.shape[:2]
        f, omega = self.represent(sources.flatten(0, 1))
        return fuse(f.view(b, k, -1), None if omega is None else omega.view(b, k))

    def decode(self, representation: Tensor, pose_bin: Tensor, noise: Tensor | None) -> Tensor:
        """G_dec(f, c, z) in [-1, 1]; ``noise=None`` is z = 0 (the test-time choice)."""
        if noise is None:
            noise = representation.new_zeros(representation.shape[0], self.noise_dim)
        return self.decoder(representation, one_hot(pose_bin, self.n_pose_bins), noise)

    def draw_targets(self, n: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """Target pose bins c ~ U{0..N_p-1} and noise z ~ U(-1, 1)^{N_z}, from torch's RNG."""
        target_bin = torch.randint(0, self.n_pose_bins, (n,), device=device)
        noise = torch.rand(n, self.noise_dim, device=device) * 2 - 1
        return target_bin, noise

    # -- training ---------------------------------------------------------------------------
    def adversarial_step(
        self,
        real: Tensor,
        identity: Tensor,
        pose_bin: Tensor,
        fakes: dict[str, tuple[Tensor, Tensor, Tensor]],
    ) -> dict[str, float]:
        """One D update, then one G update.

        ``real`` [N, 3, H, W] in [-1, 1] with its labels; ``fakes`` maps a name to
        (synthetic images in [-1, 1], the identity they must show, their target bin). The G
        loss sums eq. (4) over the groups (multi-image DR-GAN has two: "single", "fused");
        a group's losses are logged as ``g_id_<name>``, ``g_pose_<name>``.
        """
        synthetic = torch.cat([fake for fake, _, _ in fakes.values()])
        n_real = real.shape[0]
        # Real and synthetic images pass through D as one batch (as in the authors' code,
        # tranluan model_DR_GAN_multi.py), so D's BatchNorm statistics are those of the mix
        # in both updates and D can see how synthetic images differ from real ones on
        # average (colour, contrast), which per-batch normalisation would hide.
        with self.autocast():
            identity_logits, pose_logits = self.discriminator(torch.cat([real, synthetic.detach()]))
            d_losses = (discriminator_loss_bce if self.bce else discriminator_loss)(
                (identity_logits[:n_real], pose_logits[:n_real]),
                identity,
                pose_bin,
                identity_logits[n_real:],
            )
        self.optimize("d", sum(d_losses.values()))

        self.discriminator.requires_grad_(False)
        g_losses: dict[str, Tensor] = {}
        with self.autocast():
            identity_logits, pose_logits = self.discriminator(torch.cat([real, synthetic]))
            sizes = [fake.shape[0] for fake, _, _ in fakes.values()]
            for group, (_, fake_identity, target_bin), id_logits, p_logits in zip(
                fakes,
                fakes.values(),
                identity_logits[n_real:].split(sizes),
                pose_logits[n_real:].split(sizes),
                strict=True,
            ):
                for name, loss in (generator_loss_bce if self.bce else generator_loss)(
                    (id_logits, p_logits), fake_identity, target_bin
                ).items():
                    g_losses[f"{name}_{group}" if group else name] = loss
        self.optimize("g", sum(g_losses.values()))
        self.discriminator.requires_grad_(True)
        losses = {name: loss.item() for name, loss in {**d_losses, **g_losses}.items()}
        return {"adversarial": 1.0, "pretrain_id": 0.0, "pretrain_pose": 0.0, **losses}

    def pretrain_step(self, images: Tensor, identity: Tensor, pose_bin: Tensor) -> dict[str, float]:
        """Identity-classification pretraining of D's trunk with D^d's N_d real classes,
        plus D^p's cross-entropy on the real pose bins when ``pretrain_pose`` is set.

        The authors' code (tranluan/DR-GAN: main_pretrain.py, then the restore in
        model_DR_GAN_multi.py) trains a softmax identity classifier first and initialises
        both D (without its pose and real/fake outputs) and G_enc from it.
        """
        with self.autocast():
            identity_logits, pose_logits = self.discriminator(images)
            loss = F.cross_entropy(identity_logits[:, :-1], identity)
            pose_loss = F.cross_entropy(pose_logits, pose_bin) if self.pretrain_pose else None
        self.optimize("d", loss if pose_loss is None else loss + pose_loss)
        return {
            "adversarial": 0.0,
            "pretrain_id": loss.item(),
            "pretrain_pose": 0.0 if pose_loss is None else pose_loss.item(),
            **dict.fromkeys(self.adversarial_losses, 0.0),
        }

    def start_adversarial_phase(self, step: int) -> None:
        """At the first adversarial step, G_enc takes the pretrained identity trunk of D."""
        if step == self.config["pretrain_steps"] and step > 0:
            copy_trunk(self.discriminator.trunk, self.encoder.trunk)

    def set_phase_learning_rate(self, step: int) -> None:
        """D's Adam runs at ``pretrain_lr`` while pretraining, then at the paper's ``lr``
        (a function of ``step``, so a resumed run sets the same rate)."""
        pretraining = step < self.config["pretrain_steps"]
        for group in self.optimizers["d"].param_groups:
            group["lr"] = self.config["pretrain_lr"] if pretraining else self.d_lr

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        images = batch.images[:, 0] * 2 - 1
        self.set_phase_learning_rate(step)
        if step < self.config["pretrain_steps"]:
            return self.pretrain_step(images, batch.identity[:, 0], batch.pose_bin[:, 0])
        self.start_adversarial_phase(step)
        identity, pose_bin = batch.identity[:, 0], batch.pose_bin[:, 0]
        target_bin, noise = self.draw_targets(images.shape[0], images.device)
        with self.autocast():
            representation, _ = self.encoder(images)
            fake = self.decoder(representation, one_hot(target_bin, self.n_pose_bins), noise)
        return self.adversarial_step(images, identity, pose_bin, {"": (fake, identity, target_bin)})

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: the input images of the item, then G_dec(f, c, 0) at yaw -60 ... 60."""
        representation = self.represent_set(batch.images)
        rotated = [
            (self.decode(representation, torch.full_like(batch.identity[:, 0], b), None) + 1) / 2
            for b in self.preview_bins
        ]
        return torch.cat([batch.images, torch.stack(rotated, dim=1)], dim=1)

    # -- capabilities -----------------------------------------------------------------------
    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        """G_dec(f of the sources, c = the driver's pose bin, z = 0)."""
        output = self.decode(self.represent_set(sources), driver.pose_bin, None)
        return ((output + 1) / 2).clamp(0, 1)

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """identity: f(x); pose: D^p's softmax over the N_p bins (D's pose estimate)."""
        representation, _ = self.represent(images)
        _, pose_logits = self.discriminator(images * 2 - 1)
        return {"identity": representation, "pose": pose_logits.softmax(dim=1)}

    def reconstruct(self, images: Tensor) -> Tensor:
        """G_dec(f(x), c = argmax D^p(x), z = 0): the image's own bin as D^p estimates it."""
        representation, _ = self.represent(images)
        _, pose_logits = self.discriminator(images * 2 - 1)
        output = self.decode(representation, pose_logits.argmax(dim=1), None)
        return ((output + 1) / 2).clamp(0, 1)
