"""pose_ae: the harness's own baseline. Identity code from the source encoder, pose from the
driver's angles, trained with L1 reconstruction of another image of the same group
(``sampling_group``: a multi-view session by default)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from bench.methods.api import DatasetInfo, Driver, FaceBatch, Method, Sampling

from .model import Decoder, Encoder


class PoseAutoencoder(Method):
    """x_b ~ D(E(x_a), pose_b) for two images a, b of one group; L1 loss in [-1, 1] space.

    Pairs come from one multi-view session (``sampling_group: session``) so that
    background and light, which the decoder cannot know from pose alone, are shared by
    source and target while the pose changes across the whole yaw range (README).
    """

    # The clip labels are not read (pairs come from ``sampling_group``); ``clip`` stays
    # declared as before 2be0f52, which tests/test_methods_registry.py lists.
    needs = frozenset({"clip", "pose_angles"})
    provides = frozenset({"transfer", "identity_code"})

    @classmethod
    def sampling_for(cls, config: dict[str, Any]) -> Sampling:
        """Two images of one ``config["sampling_group"]`` (session, clip or identity)."""
        return Sampling(group=config["sampling_group"], frames=2)

    def __init__(self, config: dict, info: DatasetInfo) -> None:
        super().__init__(config, info)
        self.encoder = Encoder(info.resolution, config["width"], config["code_dim"])
        self.decoder = Decoder(info.resolution, config["width"], config["code_dim"])

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        betas = tuple(self.config["betas"])
        return {
            "autoencoder": torch.optim.Adam(self.parameters(), lr=self.config["lr"], betas=betas)
        }

    def _generate(self, sources: Tensor, pose: Tensor) -> Tensor:
        """Sources [B, K, 3, H, W] in [0, 1] -> image in [0, 1]; K codes are averaged."""
        b, k = sources.shape[:2]
        codes = self.encoder(sources.flatten(0, 1) * 2 - 1).view(b, k, -1).mean(dim=1)
        return (self.decoder(codes, pose) + 1) / 2

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        images, pose = batch.images, batch.pose
        # Both directions of each pair: a -> b and b -> a.
        sources = torch.cat([images[:, 0], images[:, 1]])[:, None]
        targets = torch.cat([images[:, 1], images[:, 0]])
        target_pose = torch.cat([pose[:, 1], pose[:, 0]])
        with self.autocast():
            output = self._generate(sources, target_pose)
            loss = F.l1_loss(output * 2 - 1, targets * 2 - 1)
        self.optimize("autoencoder", loss)
        return {"l1": loss.item()}

    def preview_headers(self, columns: int) -> list[str]:
        return ["source", "target", "output"]

    def preview(self, batch: FaceBatch) -> Tensor:
        """Columns: source, target (another image of the person), transfer to the target's pose."""
        output = self._generate(batch.images[:, :1], batch.pose[:, 1])
        return torch.stack([batch.images[:, 0], batch.images[:, 1], output], dim=1)

    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        return self._generate(sources, driver.pose)

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        return {"identity": self.encoder(images * 2 - 1)}
