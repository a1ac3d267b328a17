"""DR-GAN, multi-image (Tran, Yin & Liu, CVPR 2017, Sec. 3.3), on the single-image code.

G_enc predicts, beside f(x_i), a confidence coefficient omega_i (one more Conv53 channel,
average-pooled, sigmoid). The n images x_1..x_n of one person are fused into

    f(x_1, ..., x_n) = sum_i omega_i f(x_i) / sum_i omega_i

and G_dec(f, c, z) synthesises from it. G is trained on the n single-image syntheses and
on the synthesis from the fused representation:

    max_G  sum_{i=1}^{n} [log D^d_{y^d}(G(x_i, c_i, z_i)) + log D^p_{y^t_i}(G(x_i, c_i, z_i))]
           + log D^d_{y^d}(G(x_1..x_n, c, z)) + log D^p_{y^t}(G(x_1..x_n, c, z))

D is the single-image D, shown every synthetic image (single and fused) as "synthetic".
The phases (pretraining, D every ``d_every`` steps) are the single-image model's.
"""

from __future__ import annotations

from torch import Tensor

from bench.methods.api import DatasetInfo, FaceBatch, Sampling

from ..drgan.method import DRGAN, sampling_group
from ..drgan.model import fuse, one_hot


class DRGANMulti(DRGAN):
    """Multi-image DR-GAN: learned omega-weighted fusion of n images of one person."""

    confidence = True
    adversarial_losses = (
        *("d_real_id", "d_real_pose", "d_fake"),
        *("g_id_single", "g_pose_single", "g_id_fused", "g_pose_fused", "omega_mean"),
    )

    @classmethod
    def sampling_for(cls, config: dict) -> Sampling:
        """n = ``images_per_identity`` images of one ``sampling_group`` per item (paper: 6)."""
        n = int(config["images_per_identity"])
        if n < 1:
            raise ValueError(f"drgan_multi: images_per_identity must be >= 1, got {n}")
        return Sampling(group=sampling_group(config), frames=n)

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.images_per_identity = int(config["images_per_identity"])

    def real_images(self, batch: FaceBatch) -> tuple[Tensor, Tensor, Tensor]:
        """All n images of every item, flattened to [B n, 3, H, W], with their labels."""
        n = self.images_per_identity
        real = (batch.images[:, :n] * 2 - 1).flatten(0, 1)
        return real, batch.identity[:, :n].flatten(), batch.pose_bin[:, :n].flatten()

    def synthesize(
        self, batch: FaceBatch, real: Tensor, identity: Tensor
    ) -> dict[str, tuple[Tensor, Tensor, Tensor]]:
        """The n single-image syntheses G(x_i, c_i, z_i) and one from the fused f per item."""
        n = self.images_per_identity
        b = real.shape[0] // n
        single_bin, single_noise = self.draw_targets(b * n, real.device)
        fused_bin, fused_noise = self.draw_targets(b, real.device)
        with self.autocast():
            representation, omega = self.encoder(real)
            single = self.decoder(
                representation, one_hot(single_bin, self.n_pose_bins), single_noise
            )
            fused = fuse(representation.view(b, n, -1), omega.view(b, n))
            fused_fake = self.decoder(fused, one_hot(fused_bin, self.n_pose_bins), fused_noise)
        self._omega_mean = float(omega.detach().mean())
        return {
            "single": (single, identity, single_bin),
            "fused": (fused_fake, identity.view(b, n)[:, 0], fused_bin),
        }

    def synthesis_losses(self) -> dict[str, float]:
        """The mean confidence omega of the last synthesis (pretraining logs it as 0)."""
        return {"omega_mean": self._omega_mean}

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: the item's images used in training, then the fused synthesis at yaw
        -60 ... 60 (z = 0)."""
        return super().preview(
            FaceBatch(images=batch.images[:, : self.images_per_identity], identity=batch.identity)
        )
