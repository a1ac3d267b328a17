"""DR-GAN, single-image (Tran, Yin & Liu, "Disentangled Representation Learning GAN for
Pose-Invariant Face Recognition", CVPR 2017).

G = G_dec(G_enc(x), c, z) rotates a face x to the pose code c; D = [D^d, D^p] classifies
identity (N_d real classes + one "synthetic" class) and pose (N_p bins). Training is the
paper's two-player game, all weights 1:

    max_D  E_x[log D^d_{y^d}(x) + log D^p_{y^p}(x)] + E_{x,c,z}[log D^d_{N_d+1}(G(x, c, z))]
    max_G  E_{x,c,z}[log D^d_{y^d}(G(x, c, z)) + log D^p_{y^t}(G(x, c, z))]

written here as cross-entropies to minimise. G_enc has no loss of its own: it is trained
through the identity (and pose) classification of the synthetic image, which is what makes
f(x) the identity representation. As in the authors' code (tranluan/DR-GAN), D's identity
path is first pretrained as an identity classifier and copied into G_enc, D^p and the
real/fake logit have their own branches, and D is updated on every ``d_every``-th
adversarial step, G on every one.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling

from .model import Decoder, Discriminator, Encoder, copy_modules, fuse, init_weights, one_hot

log = logging.getLogger(__name__)

#: Pose bins shown in the training preview: about -60, -30, 0, 30, 60 degrees of yaw.
PREVIEW_YAWS = (-60.0, -30.0, 0.0, 30.0, 60.0)
#: Training items grouped as ``sampling_group`` says (null draws independent images).
SAMPLING_GROUPS = (None, "identity", "clip", "session")
#: The running training accuracy of D^d is an exponential average of the batch accuracies
#: with this weight on the past (about the last 20 batches).
ACCURACY_MOMENTUM = 0.9

DOutputs = tuple[Tensor, Tensor, Tensor | None]
#: D's accuracies on the batch of G's update, logged at every adversarial step (0 while
#: pretraining): D^d and D^p on the real images, the real/fake decision on real and on
#: synthetic images, and how often D^d gives a synthetic image the input's identity and D^p
#: its target bin (G's "fooling" rates: where these are high and the images are no faces,
#: G has found patterns that D's classifiers read and a face oracle does not).
ACCURACY_COLUMNS = (
    "acc_d_real_id",
    "acc_d_real_pose",
    "acc_d_real",
    "acc_d_fake",
    "acc_g_id",
    "acc_g_pose",
)


def discriminator_loss(
    real: DOutputs, identity: Tensor, pose_bin: Tensor, fake: DOutputs
) -> dict[str, Tensor]:
    """-V_D of eq. (3): real images to their identity and pose, synthetic ones to class N_d+1.

    ``real`` and ``fake`` are D's (D^d, D^p, real/fake) outputs; the "synthetic" class is
    the last D^d logit.
    """
    fake_identity_logits = fake[0]
    synthetic = torch.full_like(fake_identity_logits[:, 0], fake_identity_logits.shape[1] - 1)
    return {
        "d_real_id": F.cross_entropy(real[0], identity),
        "d_real_pose": F.cross_entropy(real[1], pose_bin),
        "d_fake": F.cross_entropy(fake_identity_logits, synthetic.long()),
    }


def discriminator_loss_bce(
    real: DOutputs, identity: Tensor, pose_bin: Tensor, fake: DOutputs
) -> dict[str, Tensor]:
    """The reference codes' split of D^d (``real_fake: bce``): an N_d-way identity
    cross-entropy on real images and a real/fake BCE (real 1, synthetic 0) on the logit of
    D's real/fake branch."""
    real_logit, fake_logit = real[2], fake[2]
    return {
        "d_real_id": F.cross_entropy(real[0], identity),
        "d_real_pose": F.cross_entropy(real[1], pose_bin),
        "d_real": F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit)),
        "d_fake": F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)),
    }


def generator_loss(fake: DOutputs, identity: Tensor, target_bin: Tensor) -> dict[str, Tensor]:
    """-V_G of eq. (4): the synthetic image is classified as the input's identity y^d (one
    of the N_d real classes, so also "not synthetic") and as the target pose y^t of c."""
    return {
        "g_id": F.cross_entropy(fake[0], identity),
        "g_pose": F.cross_entropy(fake[1], target_bin),
    }


def generator_loss_bce(fake: DOutputs, identity: Tensor, target_bin: Tensor) -> dict[str, Tensor]:
    """G's side of the split: CE(identity over the N_d classes) + BCE(real) + CE(pose)."""
    fake_logit = fake[2]
    return {
        "g_id": F.cross_entropy(fake[0], identity),
        "g_real": F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit)),
        "g_pose": F.cross_entropy(fake[1], target_bin),
    }


@torch.no_grad()
def d_accuracies(
    real: DOutputs,
    identity: Tensor,
    pose_bin: Tensor,
    fake: DOutputs,
    fake_identity: Tensor,
    target_bin: Tensor,
    n_identities: int,
) -> dict[str, float]:
    """The ``ACCURACY_COLUMNS`` of D's outputs on real images (with their labels) and on
    synthetic ones (with the identity they must show and their target bin). The real/fake
    decision is the logit's sign (``bce``) or whether the (N_d+1)-way argmax is the
    "synthetic" class (``softmax``, ``real[2]`` None)."""

    def mean(hits: Tensor) -> float:
        return float(hits.float().mean())

    if real[2] is not None:
        real_ok, fake_ok = real[2] > 0, fake[2] < 0
    else:
        real_ok = real[0].argmax(dim=1) != n_identities
        fake_ok = fake[0].argmax(dim=1) == n_identities
    return {
        "acc_d_real_id": mean(real[0][:, :n_identities].argmax(dim=1) == identity),
        "acc_d_real_pose": mean(real[1].argmax(dim=1) == pose_bin),
        "acc_d_real": mean(real_ok),
        "acc_d_fake": mean(fake_ok),
        "acc_g_id": mean(fake[0].argmax(dim=1) == fake_identity),
        "acc_g_pose": mean(fake[1].argmax(dim=1) == target_bin),
    }


def _with_bce_columns(names: tuple[str, ...]) -> tuple[str, ...]:
    """The loss columns under the real/fake split: ``d_real`` after ``d_real_pose``,
    ``g_real`` after every ``g_id*``."""
    out: list[str] = []
    for name in names:
        out.append(name)
        if name == "d_real_pose":
            out.append("d_real")
        if name.startswith("g_id"):
            out.append("g_real" + name[len("g_id") :])
    return tuple(out)


def _split(outputs: DOutputs, sizes: list[int]) -> list[DOutputs]:
    """D's outputs of a concatenated batch, split into consecutive parts of ``sizes``."""
    parts = [[None] * len(sizes) if out is None else out.split(sizes) for out in outputs]
    return [tuple(part) for part in zip(*parts, strict=True)]


def sampling_group(config: dict) -> str | None:
    """The config's ``sampling_group``, checked: null, identity, clip or session."""
    group = config["sampling_group"]
    if group not in SAMPLING_GROUPS:
        raise ValueError(
            f"drgan: sampling_group must be one of {SAMPLING_GROUPS} (null: independent "
            f"images), got {group!r}"
        )
    return group


class DRGAN(Method):
    """Single-image DR-GAN: one image in, f(x) = G_enc(x), G_dec(f, c, z) out.

    Each training item is one image with its identity and pose bin, drawn from the groups
    ``sampling_group`` names (Multi-PIE-shaped sessions by default); its target pose c is
    drawn uniformly over the N_p bins and z ~ U(-1, 1)^{N_z}. The first steps pretrain D's
    identity path until D^d's running training accuracy reaches ``pretrain_until_accuracy``
    (at most ``pretrain_steps`` steps); then every step updates G, and every ``d_every``-th
    step first updates D on the same synthetic images.
    """

    needs = frozenset({"identity", "pose_bins"})
    provides = frozenset({"transfer", "identity_code", "pose_code", "reconstruct"})
    #: G_enc predicts a confidence omega per image (multi-image DR-GAN only).
    confidence = False
    #: Losses logged in the adversarial phase; pretraining steps log them as 0 (every
    #: step logs the same columns), and the column ``adversarial`` says which phase it was.
    adversarial_losses: tuple[str, ...] = ("d_real_id", "d_real_pose", "d_fake", "g_id", "g_pose")

    @classmethod
    def sampling_for(cls, config: dict) -> Sampling:
        """One image per item, drawn from one group of ``sampling_group``."""
        return Sampling(group=sampling_group(config), frames=1)

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        real_fake = config["real_fake"]  # in every config.yaml, like pretrain_pose
        if real_fake not in ("softmax", "bce"):
            raise ValueError(f"drgan: real_fake must be softmax or bce, got {real_fake!r}")
        self.bce = real_fake == "bce"
        self.pretrain_pose = bool(config["pretrain_pose"])
        self.d_every = int(config["d_every"])
        if self.d_every < 1:
            raise ValueError(f"drgan: d_every must be >= 1, got {self.d_every}")
        until = config["pretrain_until_accuracy"]
        if until is not None and not 0 < float(until) <= 1:
            raise ValueError(f"drgan: pretrain_until_accuracy must be in (0, 1], got {until}")
        self.pretrain_until = None if until is None else float(until)
        if self.bce:  # the real/fake split logs a real/fake BCE for D and G
            self.adversarial_losses = _with_bce_columns(self.adversarial_losses)
        width, res = config["width"], info.resolution
        self.n_pose_bins = info.n_pose_bins
        self.noise_dim = config["noise_dim"]
        self.encoder = Encoder(res, width, confidence=self.confidence)
        self.decoder = Decoder(res, width, info.n_pose_bins, self.noise_dim)
        self.discriminator = Discriminator(
            res,
            width,
            info.n_identities + (0 if self.bce else 1),
            info.n_pose_bins,
            real_fake_branch=self.bce,
        )
        for network in (self.encoder, self.decoder, self.discriminator):
            init_weights(network, config["init_std"])
        # The phase travels in the checkpoint: the step at which the adversarial phase
        # starts (-1 while pretraining) and D^d's running training accuracy.
        self.register_buffer("pretrain_end", torch.tensor(-1, dtype=torch.long))
        self.register_buffer("pretrain_accuracy", torch.tensor(0.0))
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
        """D's adversarial-phase Adam rate."""
        return float(self.config["d_lr"])

    @property
    def g_lr(self) -> float:
        """G's Adam rate."""
        return float(self.config["g_lr"])

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
    def real_images(self, batch: FaceBatch) -> tuple[Tensor, Tensor, Tensor]:
        """The batch's real images [N, 3, H, W] in [-1, 1], identities and pose bins [N]."""
        return batch.images[:, 0] * 2 - 1, batch.identity[:, 0], batch.pose_bin[:, 0]

    def synthesize(
        self, batch: FaceBatch, real: Tensor, identity: Tensor
    ) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
        """The syntheses G trains on: a name -> (images in [-1, 1], the identity they must
        show, their target bin). Single-image: G(x, c, z) of every real image."""
        target_bin, noise = self.draw_targets(real.shape[0], real.device)
        with self.autocast():
            representation, _ = self.encoder(real)
            fake = self.decoder(representation, one_hot(target_bin, self.n_pose_bins), noise)
        return {"": (fake, identity, target_bin)}

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        real, identity, pose_bin = self.real_images(batch)
        if self.pretraining(step):
            return self.pretrain_step(real, identity, pose_bin, step)
        fakes = self.synthesize(batch, real, identity)
        return self.adversarial_step(step, real, identity, pose_bin, fakes)

    def pretraining(self, step: int) -> bool:
        """Whether ``step`` pretrains; at the first adversarial step, G_enc takes D's
        pretrained identity path (Conv11 ... Conv53) and D's Adam its adversarial rate.

        Pretraining ends after the step at which D^d's running training accuracy reaches
        ``pretrain_until_accuracy`` (null: never early), or after ``pretrain_steps`` steps.
        """
        if int(self.pretrain_end) < 0:
            if step < int(self.config["pretrain_steps"]):
                return True
            self.end_pretraining(step)
        if step == int(self.pretrain_end) and step > 0:
            copy_modules(self.discriminator.identity_path(), list(self.encoder.trunk))
        for group in self.optimizers["d"].param_groups:
            group["lr"] = self.d_lr
        return False

    def end_pretraining(self, step: int) -> None:
        """Mark ``step`` as the first adversarial step and log the accuracy reached; a
        warning says when the cap ended it below ``pretrain_until_accuracy``."""
        self.pretrain_end.fill_(step)
        if step == 0:
            return
        accuracy, cap = float(self.pretrain_accuracy), int(self.config["pretrain_steps"])
        log.info(
            "%s: identity pretraining ended after %d steps at D^d training accuracy %.3f "
            "(running average; target %s, cap %d)",
            type(self).__name__,
            step,
            accuracy,
            self.pretrain_until,
            cap,
        )
        if self.pretrain_until is not None and accuracy < self.pretrain_until:
            log.warning(
                "%s: identity pretraining stopped at its cap of %d steps (pretrain_steps) "
                "below its target: D^d training accuracy %.3f < pretrain_until_accuracy %s",
                type(self).__name__,
                cap,
                accuracy,
                self.pretrain_until,
            )

    def pretrain_step(
        self, images: Tensor, identity: Tensor, pose_bin: Tensor, step: int
    ) -> dict[str, float]:
        """Identity-classification pretraining of D's trunk and D^d's branch (N_d real
        classes), plus D^p's cross-entropy on the real pose bins when ``pretrain_pose``.

        The authors' code (tranluan/DR-GAN: main_pretrain.py, then the restore in
        model_DR_GAN_multi.py) trains a softmax identity classifier first and restores it
        into D, without the pose and real/fake branches, and into G_enc. D^p's and the
        real/fake branch are not run here unless ``pretrain_pose`` (then D^p's branch is).
        """
        for group in self.optimizers["d"].param_groups:
            group["lr"] = self.config["pretrain_lr"]
        n_real = self.info.n_identities
        with self.autocast():
            if self.pretrain_pose:
                identity_logits, pose_logits = self.discriminator.identity_and_pose_logits(images)
                pose_loss = F.cross_entropy(pose_logits, pose_bin)
            else:
                identity_logits, pose_loss = self.discriminator.identity_logits(images), None
            loss = F.cross_entropy(identity_logits[:, :n_real], identity)
        accuracy = (identity_logits[:, :n_real].argmax(dim=1) == identity).float().mean()
        self.optimize("d", loss if pose_loss is None else loss + pose_loss)
        running = ACCURACY_MOMENTUM * self.pretrain_accuracy + (1 - ACCURACY_MOMENTUM) * accuracy
        self.pretrain_accuracy.copy_(running.detach())
        if self.pretrain_until is not None and float(running) >= self.pretrain_until:
            self.end_pretraining(step + 1)
        return {
            "adversarial": 0.0,
            "d_updated": 1.0,
            "pretrain_id": loss.item(),
            "pretrain_pose": 0.0 if pose_loss is None else pose_loss.item(),
            "pretrain_accuracy": float(running),
            **dict.fromkeys(self.adversarial_losses, 0.0),
            **dict.fromkeys(ACCURACY_COLUMNS, 0.0),
        }

    def adversarial_step(
        self,
        step: int,
        real: Tensor,
        identity: Tensor,
        pose_bin: Tensor,
        fakes: dict[str, tuple[Tensor, Tensor, Tensor]],
    ) -> dict[str, float]:
        """One G update, preceded by one D update on every ``d_every``-th adversarial step
        (tranluan: D then G on even iterations, G alone on odd ones).

        ``real`` [N, 3, H, W] in [-1, 1] with its labels; ``fakes`` maps a name to
        (synthetic images in [-1, 1], the identity they must show, their target bin). The G
        loss sums eq. (4) over the groups (multi-image DR-GAN has two: "single", "fused");
        a group's losses are logged as ``g_id_<name>``, ``g_pose_<name>``. D's losses are
        logged at every step (on G-only steps as D scores the batch, without an update).
        """
        synthetic = torch.cat([fake for fake, _, _ in fakes.values()])
        n_real = real.shape[0]
        d_loss_of = discriminator_loss_bce if self.bce else discriminator_loss
        update_d = (step - int(self.pretrain_end)) % self.d_every == 0
        if update_d:
            with self.autocast():
                real_out, fake_out = _split(
                    self.discriminator.forward_pair(real, synthetic.detach()),
                    [n_real, synthetic.shape[0]],
                )
                d_losses = d_loss_of(real_out, identity, pose_bin, fake_out)
            self.optimize("d", sum(d_losses.values()))

        self.discriminator.requires_grad_(False)
        g_losses: dict[str, Tensor] = {}
        with self.autocast():
            real_out, fake_out = _split(
                self.discriminator.forward_pair(real, synthetic), [n_real, synthetic.shape[0]]
            )
            if not update_d:  # D's losses as it scores this batch, for the log
                d_losses = d_loss_of(real_out, identity, pose_bin, fake_out)
            sizes = [fake.shape[0] for fake, _, _ in fakes.values()]
            for group, (_, fake_identity, target_bin), group_out in zip(
                fakes, fakes.values(), _split(fake_out, sizes), strict=True
            ):
                for name, loss in (generator_loss_bce if self.bce else generator_loss)(
                    group_out, fake_identity, target_bin
                ).items():
                    g_losses[f"{name}_{group}" if group else name] = loss
        self.optimize("g", sum(g_losses.values()))
        self.discriminator.requires_grad_(True)
        losses = {name: loss.item() for name, loss in {**d_losses, **g_losses}.items()}
        accuracies = d_accuracies(
            real_out,
            identity,
            pose_bin,
            fake_out,
            torch.cat([fake_identity for _, fake_identity, _ in fakes.values()]),
            torch.cat([target_bin for _, _, target_bin in fakes.values()]),
            self.info.n_identities,
        )
        return {
            "adversarial": 1.0,
            "d_updated": float(update_d),
            "pretrain_id": 0.0,
            "pretrain_pose": 0.0,
            "pretrain_accuracy": float(self.pretrain_accuracy),
            **losses,
            **self.synthesis_losses(),
            **accuracies,
        }

    def synthesis_losses(self) -> dict[str, float]:
        """Values of the last ``synthesize`` that an adversarial step logs after its losses
        (names listed in ``adversarial_losses``, so pretraining logs them as 0); none here."""
        return {}

    def preview_headers(self, columns: int) -> list[str]:
        inputs = columns - len(PREVIEW_YAWS)
        return [f"input {i + 1}" for i in range(inputs)] + [
            f"G yaw {y:+.0f}°" for y in PREVIEW_YAWS
        ]

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
        _, pose_logits, _ = self.discriminator(images * 2 - 1)
        return {"identity": representation, "pose": pose_logits.softmax(dim=1)}

    def reconstruct(self, images: Tensor) -> Tensor:
        """G_dec(f(x), c = argmax D^p(x), z = 0): the image's own bin as D^p estimates it."""
        representation, _ = self.represent(images)
        _, pose_logits, _ = self.discriminator(images * 2 - 1)
        output = self.decode(representation, pose_logits.argmax(dim=1), None)
        return ((output + 1) / 2).clamp(0, 1)
