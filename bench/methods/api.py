"""The Method contract: what every folder under ``methods/`` implements.

A method declares the supervision it ``needs`` and the capabilities it
``provides``; the harness hands it only the labels it declared and calls only
what it provides. Images cross this boundary as float tensors in [0, 1],
shape ``[..., 3, H, W]``; a method converts to its own range internally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from bench.data.batch import DatasetInfo, FaceBatch, Sampling

#: Supervision a method may ask for. ``target`` (the exact ground-truth output) is reserved
#: for the ``ground_truth`` reference row; learned methods never see it.
SUPERVISION = frozenset(
    {"identity", "pose_angles", "pose_bins", "landmarks", "clip", "expression", "target"}
)
#: What a method can do; the protocols call only these.
CAPABILITIES = frozenset({"transfer", "identity_code", "pose_code", "reconstruct", "sample"})


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Parameters of ``modules`` take no gradient inside the block (their inputs still do).

    For a GAN step that updates one network through another (G through a frozen D)."""
    params = [p for m in modules for p in m.parameters()]
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before, strict=True):
            p.requires_grad_(flag)


def k_shot_sampling(config: dict[str, Any], method: str) -> Sampling:
    """K = ``k_train`` source frames plus one target frame of one clip per item: what every
    K-shot method (caingan and its ablations, fshm, pix2pixhd_kshot) trains on."""
    k = int(config["k_train"])
    if k < 1:
        raise ValueError(f"{method}: k_train must be >= 1, got {k}")
    return Sampling(group="clip", frames=k + 1)


@dataclass
class Driver:
    """What drives a transfer: the driver image and whatever labels the method declared."""

    image: Tensor  # [B, 3, H, W] float in [0, 1]
    pose: Tensor | None = None  # [B, 3] degrees
    pose_bin: Tensor | None = None  # [B] long
    landmarks: Tensor | None = None  # [B, 68, 2] pixels
    landmark_image: Tensor | None = None  # [B, 3, H, W]
    expression: Tensor | None = None  # [B] long
    target: Tensor | None = None  # [B, 3, H, W], only for methods that need "target"

    def to(self, device: torch.device | str) -> Driver:
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }
        return replace(self, **moved)


class Method(nn.Module):
    """Base class of every method. Subclasses live in ``methods/<name>/method.py``.

    Subclasses set the class attributes, build their networks in ``__init__``, create
    their optimizers in ``configure_optimizers`` and implement the capabilities they
    list in ``provides``. ``training_step`` owns the optimisation (GANs alternate
    several optimizers) and returns scalar losses for logging.
    """

    name: ClassVar[str] = ""  # set by the registry from the folder name
    needs: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    sampling: ClassVar[Sampling] = Sampling()
    trainable: ClassVar[bool] = True
    #: K values at which the method is by definition another row (an ablation that only
    #: differs for K > 1): K -> the reason. Protocol 1 synthesizes nothing at those K and
    #: the tables show the reason in place of scores.
    not_applicable_k: ClassVar[dict[int, str]] = {}

    @classmethod
    def sampling_for(cls, config: dict[str, Any]) -> Sampling:
        """How the harness draws training items under ``config`` (default: ``sampling``).

        Override when the number of frames is a config key (K source frames plus a
        target, n images of one person), so that a `tiny` and a `paper` config draw what
        each needs.
        """
        return cls.sampling

    def __init__(self, config: dict[str, Any], info: DatasetInfo) -> None:
        super().__init__()
        self.config = config
        self.info = info
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.amp = False
        self._scaler: torch.amp.GradScaler | None = None

    # -- training -------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Create the optimizers (called once, after the module is on its device)."""
        return {}

    def training_step(self, batch: FaceBatch, step: int) -> dict[str, float]:
        """One optimisation step on ``batch``; returns the losses to log."""
        raise NotImplementedError(f"{type(self).__name__} is trainable but has no training_step")

    def preview(self, batch: FaceBatch) -> Tensor:
        """Images ``[rows, cols, 3, H, W]`` for the sample grid written at every checkpoint.

        The default shows the batch's frames; methods add their outputs as columns.
        """
        return batch.images

    def preview_headers(self, columns: int) -> list[str]:
        """A header per column of :meth:`preview` (the training sample grid is labelled);
        a method that adds columns overrides it."""
        return [f"frame {i + 1}" for i in range(columns)]

    # -- capabilities ---------------------------------------------------------------------
    def transfer(self, sources: Tensor, driver: Driver) -> Tensor:
        """Identity from ``sources [B, K, 3, H, W]``, pose from ``driver``: ``[B, 3, H, W]``."""
        raise NotImplementedError(f"{self.name} does not provide transfer")

    def transfer_k(
        self, sources: Tensor, driver: Driver, k_values: Sequence[int]
    ) -> dict[int, Tensor]:
        """``{k: transfer(sources[:, :k], driver)}`` for each k (``sources`` holds max(k)
        frames). Protocol 1 calls this; a method whose per-source work does not depend on
        K (an embedding per source, then a fusion) overrides it to do that work once."""
        return {k: self.transfer(sources[:, :k], driver) for k in k_values}

    def encode(self, images: Tensor) -> dict[str, Tensor]:
        """Codes of ``images [B, 3, H, W]``: ``{"identity": [B, d], "pose": [B, d'], ...}``."""
        raise NotImplementedError(f"{self.name} does not provide codes")

    def reconstruct(self, images: Tensor) -> Tensor:
        raise NotImplementedError(f"{self.name} does not provide reconstruct")

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        raise NotImplementedError(f"{self.name} does not provide sample")

    # -- helpers for subclasses -----------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision around forward passes when the ``amp`` switch is on (CUDA only)."""
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def optimize(self, optimizer_name: str, loss: Tensor) -> None:
        """zero_grad, backward (loss-scaled under AMP) and step one named optimizer."""
        optimizer = self.optimizers[optimizer_name]
        optimizer.zero_grad(set_to_none=True)
        if self.amp and self.device.type == "cuda":
            if self._scaler is None:
                self._scaler = torch.amp.GradScaler("cuda")
            self._scaler.scale(loss).backward()
            self._scaler.step(optimizer)
            self._scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def iter_optimizers(self) -> Iterator[tuple[str, torch.optim.Optimizer]]:
        return iter(sorted(self.optimizers.items()))
