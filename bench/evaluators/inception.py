"""Inception-v3 pool3 features for FID and KID, exactly as pytorch-fid computes them, offline.

The network is pytorch-fid's ``InceptionV3`` (the TF-ported FID Inception, 2048-d pool3
output) with its own bilinear resize to 299x299 and (0, 1) -> (-1, 1) scaling. The weights
are never downloaded: they come from an explicit path or from the torch hub cache file that
pytorch-fid itself would have downloaded, and the file's sha256 is recorded with every score.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import EvaluatorUnavailable

log = logging.getLogger(__name__)

NAME = "inception-v3-pool3"
#: The file pytorch-fid 0.3.0 downloads (``FID_WEIGHTS_URL``) into ``torch.hub.get_dir()/checkpoints``.
WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
#: pytorch-fid's ``FID_WEIGHTS_URL`` (a test checks they agree), here so that reporting missing
#: weights does not import pytorch-fid and torchvision (about 3 s in every scoring job).
FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILENAME
)
FEATURE_DIM = 2048

_PATCH_LOCK = threading.Lock()


def hub_weights_path() -> Path:
    """Where pytorch-fid caches the FID Inception weights: ``torch.hub.get_dir()/checkpoints/...``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILENAME


def find_inception_weights(weights_path: str | Path | None = None) -> Path:
    """The weights file to use: ``weights_path`` if given, else the torch hub cache file."""
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise EvaluatorUnavailable(
                f"{NAME}: weights file {path} (from the configuration) does not exist; put "
                f"pytorch-fid's {WEIGHTS_FILENAME} ({FID_WEIGHTS_URL}) there."
            )
        return path
    path = hub_weights_path()
    if not path.is_file():
        raise EvaluatorUnavailable(
            f"{NAME}: no weights at {path} and no weights_path configured; download "
            f"{FID_WEIGHTS_URL} to that path (or set weights_path)."
        )
    return path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class InceptionFeatures:
    """pytorch-fid's FID Inception-v3 as a feature extractor: uint8 images [N,H,W,3] -> [N, 2048]."""

    name = NAME

    def __init__(self, weights_path: str | Path | None = None, device: str = "cpu") -> None:
        self.weights_path = find_inception_weights(weights_path)
        self.weights_sha256 = file_sha256(self.weights_path)
        self.device = torch.device(device)
        self.model = _build_fid_inception(self.weights_path).to(self.device).eval()
        log.info(
            "%s: weights %s (sha256 %s) on %s",
            NAME,
            self.weights_path,
            self.weights_sha256[:12],
            self.device,
        )

    def features(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        """Pool3 features [N, 2048] (float64) of uint8 RGB images [N, H, W, 3].

        Same preprocessing as ``python -m pytorch_fid`` on PNG folders: uint8 / 255 (as
        ``ToTensor``), then the model's bilinear resize to 299x299 and scaling to (-1, 1).
        uint8 input only (torch-fidelity's rule), so no float range or quantisation is guessed.
        """
        images = _check_uint8_images(images)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.model.eval()
        out = np.empty((images.shape[0], FEATURE_DIM), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, images.shape[0], batch_size):
                chunk = torch.from_numpy(images[start : start + batch_size]).to(self.device)
                batch = chunk.permute(0, 3, 1, 2).to(torch.float32) / 255.0
                pool3 = self.model(batch)[0]
                out[start : start + batch.shape[0]] = (
                    pool3.reshape(batch.shape[0], -1).cpu().double().numpy()
                )
        return out


def _check_uint8_images(images: Any) -> np.ndarray:
    """Images as a contiguous uint8 array [N, H, W, 3], or a ValueError saying how to convert."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(
            f"{NAME} needs uint8 images [N,H,W,3], got dtype {images.dtype}; convert floats in "
            "[0, 1] with (x * 255).round().astype(np.uint8), as saving a PNG would."
        )
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"{NAME} needs RGB images [N,H,W,3], got shape {images.shape}; convert grey or "
            "RGBA images to RGB first."
        )
    return np.ascontiguousarray(images)


def _build_fid_inception(weights_path: Path) -> Any:
    """pytorch-fid's ``InceptionV3`` (pool3 block) with weights from a local file, never a download."""
    from pytorch_fid import inception as pytorch_fid_inception

    try:
        state_dict = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable or non-tensor file is the same user error
        raise EvaluatorUnavailable(
            f"{NAME}: cannot read weights {weights_path} ({type(error).__name__}: {error}); "
            f"replace it with pytorch-fid's {WEIGHTS_FILENAME}."
        ) from error
    block = pytorch_fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]
    with _local_state_dict(state_dict):
        try:
            model = pytorch_fid_inception.InceptionV3(
                [block], resize_input=True, normalize_input=True, use_fid_inception=True
            )
        except RuntimeError as error:
            detail = " ".join(str(error).split())[:200]
            raise EvaluatorUnavailable(
                f"{NAME}: {weights_path} is not an FID Inception state dict ({detail}...); "
                f"replace it with pytorch-fid's {WEIGHTS_FILENAME}."
            ) from error
    return model


@contextlib.contextmanager
def _local_state_dict(state_dict: dict[str, torch.Tensor]) -> Iterator[None]:
    """Make pytorch-fid's ``fid_inception_v3`` load ``state_dict`` instead of downloading.

    ``fid_inception_v3`` builds the patched architecture and then calls
    ``load_state_dict_from_url(FID_WEIGHTS_URL)``; swapping that one module-level name keeps
    pytorch-fid's own architecture code and its strict ``load_state_dict``.
    """
    from pytorch_fid import inception as pytorch_fid_inception

    def load_local(url: str, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        if url != pytorch_fid_inception.FID_WEIGHTS_URL:
            raise EvaluatorUnavailable(f"{NAME}: unexpected weights request for {url}.")
        return state_dict

    with _PATCH_LOCK:
        original = pytorch_fid_inception.load_state_dict_from_url
        pytorch_fid_inception.load_state_dict_from_url = load_local
        try:
            yield
        finally:
            pytorch_fid_inception.load_state_dict_from_url = original


def calibrated_random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """A seeded FID-Inception state dict whose BatchNorm running stats match its activations.

    For tests and benchmarks that need a weights file in pytorch-fid's layout without the
    real weights (which cannot be downloaded here): same architecture, same cost, and
    non-degenerate features (plain random BatchNorm statistics collapse them). Scores
    computed with it are not FID.
    """
    from pytorch_fid import inception as pytorch_fid_inception

    torch.manual_seed(seed)
    network = pytorch_fid_inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    network.Mixed_5b = pytorch_fid_inception.FIDInceptionA(192, pool_features=32)
    network.Mixed_5c = pytorch_fid_inception.FIDInceptionA(256, pool_features=64)
    network.Mixed_5d = pytorch_fid_inception.FIDInceptionA(288, pool_features=64)
    network.Mixed_6b = pytorch_fid_inception.FIDInceptionC(768, channels_7x7=128)
    network.Mixed_6c = pytorch_fid_inception.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6d = pytorch_fid_inception.FIDInceptionC(768, channels_7x7=160)
    network.Mixed_6e = pytorch_fid_inception.FIDInceptionC(768, channels_7x7=192)
    network.Mixed_7b = pytorch_fid_inception.FIDInceptionE_1(1280)
    network.Mixed_7c = pytorch_fid_inception.FIDInceptionE_2(2048)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: running stats = the calibration batch's
    network.train()
    with torch.no_grad():
        network(torch.rand(6, 3, 299, 299, generator=torch.Generator().manual_seed(seed)) * 2 - 1)
    return network.state_dict()
