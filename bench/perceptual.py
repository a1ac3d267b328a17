"""Perceptual losses with a named, swappable backbone (research/methods.md §8).

CainGAN, pix2pixHD and FSHM train with an L1 loss between a frozen network's features
of the generated and the real image: ``sum_l w_l * L1(phi_l(x), phi_l(y))``. Their papers
use ImageNet VGG19 (and VGGFace), whose weights cannot be downloaded here, so the
backbone is a named component chosen by a method config's ``perceptual`` section::

    perceptual:
      backbone: synth-geometry # or synth-identity, synth-oracle, vgg19, vggface
      weights_path: null       # the DAG fills it for synth-*; vgg19/vggface fall back to torch hub's cache
      layer_weights: null      # null: the backbone's default weights, one per layer

FSHM's L_CNT has a second, face-recognition half (VGGFace in the paper): a method config's
``perceptual_identity`` section, with the same keys (``PERCEPTUAL_SECTIONS``).

- ``vgg19``: torchvision's VGG19 feature layout, layers relu1_1, relu2_1, relu3_1,
  relu4_1, relu5_1 (``features`` slices 0-1, 2-6, 7-11, 12-20, 21-29) with weights
  1/32, 1/16, 1/8, 1/4, 1, fed [0, 1] images without ImageNet normalisation, exactly as
  CainGAN's and pix2pixHD's code. Weights come from ``weights_path`` or torch hub's cache
  (``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``); they are never downloaded.
- ``vggface``: VGG-Face (Parkhi et al. 2015; a VGG-16), layers relu1_1 .. relu5_1 (the
  ports' VGGFace layers 1, 6, 11, 18, 25 of ``features``), weight 1 each (the paper's one
  lambda per layer), fed Caffe input: 0-255, VGG-Face's mean subtracted, BGR (the vincent
  port's fixed loss_generator). Weights: the Caffe model converted to a state_dict in
  torchvision's VGG-16 layout (``features.N.*``; ``classifier.*`` and the unused conv5_2/5_3
  are ignored, every other key is required), from ``weights_path`` or
  ``$TORCH_HOME/hub/checkpoints/vggface-caffe.pth``; never downloaded.
- ``synth-identity``: FSHM's VGGFace stand-in (:mod:`bench.evaluators.synth_identity`): a
  VGG-style face classifier (softmax over its own people, several scenes each) of people no
  dataset holds and synth-geometry does not render either; features after each block (its
  relu{b}_2), weight 1 at the deepest, halving upwards. The DAG trains it
  (``evaluators.synth_identity``) only when a method selects it.
- ``synth-geometry`` (the default): the trunk of a regressor of the 68 landmarks, their
  visibility, the expression strengths and the light (:mod:`bench.evaluators.synth_geometry`),
  features after each of its stride-2 stages. It is trained on renders of people no dataset
  holds (identity seeds ``>= 2**32``) and on no identity or pose objective; it shares with
  the CSIM oracle only the architecture (ConvTrunk) and the renderer. Its perceptual distance
  correlates with the CSIM oracle's ``1 - cos`` at Pearson 0.48 / Spearman 0.65 on 1,000
  pairs of test renders (same person other pose, other person same scene, blurred, shifted;
  ``benchmarks/perceptual_independence.py``), less than an untrained ConvTrunk (0.67 / 0.74)
  or the pixel L1 (0.76 / 0.79). The DAG trains it (``evaluators.synth_geometry``).
- ``synth-oracle``: the trunk of a SynthFaces identity oracle (a CosFace face classifier,
  :mod:`bench.evaluators.synth_oracle`), features after each of its stride-2 stages. The DAG
  trains a separate instance with another seed (``evaluators.synth_oracle.perceptual``), but
  with the CSIM scorer's recipe and data: its distance correlates with CSIM's at 0.90 / 0.93
  on the same pairs, as high as the CSIM oracle's own features, so a method trained with it
  partly optimises CSIM[synth-oracle]. Kept selectable for comparison.

The backbone is frozen and kept out of the owning method's parameters and state_dict
(no optimizer sees it, checkpoints do not carry it); ``.to(device)`` still moves it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.errors import CheckpointError, ConfigError
from bench.runtime import load_weights_only

BACKBONES = ("vgg19", "vggface", "synth-oracle", "synth-geometry", "synth-identity")
SPEC_KEYS = frozenset({"backbone", "weights_path", "layer_weights"})
#: Method-config keys that hold a perceptual spec: ``perceptual`` (every method's L_CNT or
#: L_VGG) and ``perceptual_identity`` (FSHM's second, face-recognition half of L_CNT).
PERCEPTUAL_SECTIONS = ("perceptual", "perceptual_identity")

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_FILE = "vgg19-dcbb9e9d.pth"
#: End (exclusive) of each slice of torchvision's ``vgg19().features``: relu1_1 .. relu5_1.
VGG19_SLICE_ENDS = (2, 7, 12, 21, 30)
VGG19_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
VGGFACE_FILE = "vggface-caffe.pth"
#: VGG-Face is a VGG-16 (torchvision's ``cfgs["D"]`` layout); the ports' VGGFace layers
#: [1, 6, 11, 18, 25] of ``features`` are relu1_1 .. relu5_1: slices 0-1, 2-6, 7-11, 12-18, 19-25.
VGGFACE_SLICE_ENDS = (2, 7, 12, 19, 26)
#: The paper's lambda_VGGFace is one weight for every layer (2.5e-2; the method scales it).
VGGFACE_LAYER_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0)
#: VGG-Face's Caffe training mean, in RGB order (the Caffe model takes BGR 0-255 minus it).
VGGFACE_RGB_MEAN = (129.1863, 104.7624, 93.5940)
#: Layers per stage of the oracle's ConvTrunk: conv-BN-ReLU-conv-BN-ReLU.
ORACLE_LAYERS_PER_STAGE = 6
ORACLE_CHECKPOINT_METHOD = "synth-oracle-identity"
GEOMETRY_CHECKPOINT_METHOD = "synth-geometry"
IDENTITY_CHECKPOINT_METHOD = "synth-identity"


class PerceptualWeightsMissing(ConfigError):
    """The configured perceptual backbone has no weights file on this machine."""


class PerceptualLoss(nn.Module):
    """``forward(x, y) = sum_l w_l * mean|phi_l(x) - phi_l(y)|`` over a frozen backbone.

    ``x`` and ``y`` are float images in [0, 1], ``[B, 3, H, W]``; gradients flow to ``x``
    (and to ``y`` if it requires them). ``name`` says which backbone it is, for logs,
    ``train.json`` and READMEs.
    """

    def __init__(
        self,
        name: str,
        slices: Sequence[nn.Module],
        layer_weights: Sequence[float],
        preprocess: Callable[[Tensor], Tensor],
        source: str,
    ) -> None:
        super().__init__()
        if len(slices) != len(layer_weights):
            raise ConfigError(
                f"perceptual.layer_weights: {len(layer_weights)} weights for the "
                f"{len(slices)} layers of backbone {name!r}"
            )
        for block in slices:
            block.eval()
            for parameter in block.parameters():
                parameter.requires_grad_(False)
        self.name = name
        self.source = source
        self.layer_weights = tuple(float(w) for w in layer_weights)
        self._preprocess = preprocess
        # A tuple, not an nn.ModuleList: the backbone is no submodule, so it is in neither
        # parameters() nor state_dict() of the method owning this loss, and the method's
        # train() never takes it out of eval mode (frozen batch-norm statistics). _apply
        # still moves it with .to(device) and memory-format changes.
        self._slices: tuple[nn.Module, ...] = tuple(slices)

    def _apply(self, fn, recurse: bool = True):  # noqa: ANN001, ANN202 (torch's signature)
        for block in self._slices:
            block._apply(fn)
        return super()._apply(fn, recurse)

    def features(self, images: Tensor) -> list[Tensor]:
        """The backbone's activations at each perceptual layer for ``images`` in [0, 1]."""
        out, h = [], self._preprocess(images)
        for block in self._slices:
            h = block(h)
            out.append(h)
        return out

    def distances(self, x: Tensor, y: Tensor) -> Tensor:
        """Per-pair ``sum_l w_l * mean|phi_l(x_i) - phi_l(y_i)|``, ``[B]`` (forward's terms)."""
        return sum(
            w * (fx - fy).abs().flatten(1).mean(1)
            for w, fx, fy in zip(
                self.layer_weights, self.features(x), self.features(y), strict=True
            )
        )

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        features_y = self.features(y)
        if not y.requires_grad:
            features_y = [f.detach() for f in features_y]
        return sum(
            w * F.l1_loss(fx, fy)
            for w, fx, fy in zip(self.layer_weights, self.features(x), features_y, strict=True)
        )

    def extra_repr(self) -> str:
        return f"name={self.name!r}, layers={len(self._slices)}, source={self.source!r}"


class MethodPerceptualLoss:
    """The one way a method holds its perceptual loss: ``perceptual = MethodPerceptualLoss()``.

    On a :class:`~bench.methods.api.Method` subclass, ``self.perceptual`` is the loss that
    ``self.config["perceptual"]`` describes (``perceptual_identity = MethodPerceptualLoss()``:
    ``self.config["perceptual_identity"]``), built on first read on the method's device
    (a method that needs it before training reads it in ``configure_optimizers``). It is
    kept outside the module tree: not in ``parameters()``, ``state_dict()`` or ``.to()``.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        if name not in PERCEPTUAL_SECTIONS:
            raise ConfigError(
                f"{owner.__name__}.{name}: a perceptual loss attribute is named after its "
                f"config section, one of {list(PERCEPTUAL_SECTIONS)}"
            )
        self._key = name
        self._slot = f"_{name}_loss"

    def __get__(self, method: Any, owner: type | None = None) -> Any:
        if method is None:
            return self
        loss = method.__dict__.get(self._slot)
        if loss is None:
            loss = build_perceptual(method.config[self._key]).to(method.device)
            method.__dict__[self._slot] = loss  # a plain attribute: no submodule
        return loss


def build_perceptual(spec: dict[str, Any]) -> PerceptualLoss:
    """The perceptual loss a method config's ``perceptual`` section describes."""
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ConfigError(
            f"perceptual: unknown key(s) {sorted(unknown)}; expected {sorted(SPEC_KEYS)}"
        )
    backbone = spec.get("backbone")
    if backbone not in BACKBONES:
        raise ConfigError(f"perceptual.backbone: {backbone!r} is not one of {list(BACKBONES)}")
    weights_path = spec.get("weights_path")
    loaders = {
        "vgg19": _vgg19,
        "vggface": _vggface,
        "synth-geometry": _synth_geometry,
        "synth-identity": _synth_identity,
        "synth-oracle": _synth_oracle,
    }
    slices, defaults, preprocess, source = loaders[backbone](weights_path)
    layer_weights = spec.get("layer_weights")
    return PerceptualLoss(
        backbone, slices, defaults if layer_weights is None else layer_weights, preprocess, source
    )


def vgg19_cache_path() -> Path:
    """Where torchvision caches the ImageNet VGG19 weights (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def _vgg_features(config: str, end: int | None = None) -> nn.Sequential:
    """torchvision's VGG ``cfgs[config]`` convolutional part (no batch norm), up to ``end``."""
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs[config], batch_norm=False)[:end]
    for module in features:
        if isinstance(module, nn.ReLU):
            module.inplace = False  # the features are returned and compared, keep them intact
    return features


def _vgg19_features() -> nn.Sequential:
    return _vgg_features("E")  # torchvision's vgg19().features


def _cut_after(features: nn.Sequential, ends: tuple[int, ...]) -> list[nn.Module]:
    """``features`` cut after each layer index in ``ends``."""
    starts = (0, *ends[:-1])
    return [features[a:b] for a, b in zip(starts, ends, strict=True)]


def _vgg19(weights_path: str | None) -> tuple[list[nn.Module], tuple, Callable, str]:
    path = Path(weights_path) if weights_path else vgg19_cache_path()
    if not path.is_file():
        raise PerceptualWeightsMissing(
            f"perceptual backbone 'vgg19': no weights at {path}. Set the method config's "
            f"perceptual.weights_path to a torchvision VGG19 state_dict, or place "
            f"{VGG19_URL} at {vgg19_cache_path()} (weights are never downloaded); "
            f"or use perceptual.backbone: synth-geometry"
        )
    state = _load_weights(path)
    features = _vgg19_features()
    prefix = "features."
    wanted = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    try:
        features.load_state_dict(wanted)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: not a torchvision VGG19 state_dict: {error}") from error
    return _cut_after(features, VGG19_SLICE_ENDS), VGG19_LAYER_WEIGHTS, _identity, str(path)


def vggface_cache_path() -> Path:
    """Where the ``vggface`` backbone looks without a ``weights_path`` (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGGFACE_FILE


def _vggface_features() -> nn.Sequential:
    """VGG-16's convolutional part up to relu5_1 (torchvision ``cfgs["D"]``, no batch norm)."""
    return _vgg_features("D", VGGFACE_SLICE_ENDS[-1])


def _vggface(weights_path: str | None) -> tuple[list[nn.Module], tuple, Callable, str]:
    path = Path(weights_path) if weights_path else vggface_cache_path()
    if not path.is_file():
        raise PerceptualWeightsMissing(
            f"perceptual backbone 'vggface': no weights at {path}. Set the method config's "
            f"perceptual_identity.weights_path (or place the file at {vggface_cache_path()}) to "
            f"the VGG-Face (Parkhi et al. 2015) Caffe model converted to a PyTorch state_dict "
            f"in torchvision's VGG-16 layout (features.N.weight / .bias; BGR input); weights "
            f"are never downloaded. Or use perceptual_identity.backbone: synth-identity"
        )
    state = _load_weights(path)
    features = _vggface_features()
    wanted = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    prefix = "features."
    if any(not k.startswith(prefix) for k in wanted):
        raise CheckpointError(
            f"{path}: not a VGG-Face state_dict in torchvision's VGG-16 layout: keys "
            f"{sorted(k for k in wanted if not k.startswith(prefix))[:5]} are neither "
            f"features.* nor classifier.*"
        )
    wanted = {k[len(prefix) :]: v for k, v in wanted.items()}
    # Layers after relu5_1 (conv5_2, conv5_3) are not read by the loss; strict on the rest.
    wanted = {k: v for k, v in wanted.items() if int(k.split(".")[0]) < VGGFACE_SLICE_ENDS[-1]}
    try:
        features.load_state_dict(wanted)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: not a VGG-Face (VGG-16) state_dict: {error}") from error
    slices = _cut_after(features, VGGFACE_SLICE_ENDS)
    return slices, VGGFACE_LAYER_WEIGHTS, _caffe_vggface, str(path)


def _trunk_checkpoint(
    backbone: str, weights_path: str | None, checkpoint_method: str, how_to_get: str
) -> tuple[Path, dict]:
    """The state of a SynthFaces trunk checkpoint, checked to be ``checkpoint_method``'s."""
    if not weights_path or not Path(weights_path).is_file():
        raise PerceptualWeightsMissing(
            f"perceptual backbone {backbone!r}: no weights at {weights_path!r}. {how_to_get}"
        )
    path = Path(weights_path)
    state = _load_weights(path)
    if state.get("method") != checkpoint_method:
        raise CheckpointError(
            f"{path}: not a {checkpoint_method} checkpoint (found {state.get('method')!r})"
        )
    return path, state


def _synth_oracle(weights_path: str | None) -> tuple[list[nn.Module], tuple, Callable, str]:
    path, state = _trunk_checkpoint(
        "synth-oracle",
        weights_path,
        ORACLE_CHECKPOINT_METHOD,
        "Set the method config's perceptual.weights_path to an identity-oracle checkpoint; "
        "the DAG trains results/evaluators/<dataset>/synth-oracle-perceptual.pt and sets it "
        "(config key evaluators.synth_oracle.perceptual)",
    )
    return _trunk_backbone(path, state, state["settings"]["embedding_dim"])


def _synth_geometry(weights_path: str | None) -> tuple[list[nn.Module], tuple, Callable, str]:
    from bench.evaluators.synth_geometry import OUTPUT_DIM

    path, state = _trunk_checkpoint(
        "synth-geometry",
        weights_path,
        GEOMETRY_CHECKPOINT_METHOD,
        "Set the method config's perceptual.weights_path to a synth-geometry checkpoint; the "
        "DAG trains results/evaluators/<dataset>/synth-geometry.pt and sets it (config key "
        "evaluators.synth_geometry; python -m bench.evaluators.synth_geometry)",
    )
    return _trunk_backbone(path, state, OUTPUT_DIM)


def _synth_identity(weights_path: str | None) -> tuple[list[nn.Module], tuple, Callable, str]:
    from bench.evaluators.synth_identity import VGGStack

    path, state = _trunk_checkpoint(
        "synth-identity",
        weights_path,
        IDENTITY_CHECKPOINT_METHOD,
        "Set the method config's perceptual_identity.weights_path to a synth-identity "
        "checkpoint; the DAG trains results/evaluators/<dataset>/synth-identity.pt and sets it "
        "(config key evaluators.synth_identity; python -m bench.evaluators.synth_identity)",
    )
    settings = state["settings"]
    net = VGGStack(state["resolution"], settings["width"], settings["embedding_dim"])
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: not a synth-identity network: {error}") from error
    slices = list(net.blocks)
    # Deepest block weight 1, halving towards the input, as the other SynthFaces backbones.
    defaults = tuple(2.0 ** (i - len(slices) + 1) for i in range(len(slices)))
    return slices, defaults, _to_signed, str(path)


def _trunk_backbone(
    path: Path, state: dict, output_dim: int
) -> tuple[list[nn.Module], tuple, Callable, str]:
    """A SynthFaces ConvTrunk checkpoint's state as a perceptual backbone: its stages, their
    default weights, the input transform ([0,1] -> [-1,1]) and the weights' path."""
    from bench.evaluators.synth_oracle import ConvTrunk

    trunk = ConvTrunk(state["resolution"], state["settings"]["width"], output_dim)
    trunk.load_state_dict(state["net"])
    return *_trunk_stages(trunk), _to_signed, str(path)


def _trunk_stages(trunk: nn.Module) -> tuple[list[nn.Module], tuple[float, ...]]:
    """A ConvTrunk's stride-2 stages as slices, with weight 1 at the deepest, halving upwards."""
    layers = list(trunk.features)
    for module in layers:
        if isinstance(module, nn.ReLU):
            module.inplace = False
    step = ORACLE_LAYERS_PER_STAGE
    slices = [nn.Sequential(*layers[i : i + step]) for i in range(0, len(layers), step)]
    # Deepest stage weight 1, halving towards the input, as VGG19's 1/32 .. 1.
    defaults = tuple(2.0 ** (i - len(slices) + 1) for i in range(len(slices)))
    return slices, defaults


def _load_weights(path: Path) -> dict[str, Any]:
    state = load_weights_only(path, "weights")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state_dict, found {type(state).__name__}")
    return state


def _identity(images: Tensor) -> Tensor:
    return images


def _to_signed(images: Tensor) -> Tensor:
    return images * 2 - 1  # the oracle's own input convention (ConvTrunk.forward)


def _caffe_vggface(images: Tensor) -> Tensor:
    """Caffe VGG-Face input: 0-255, the training mean subtracted, BGR channel order (the
    vincent port's loss_generator: ``x * 255 - mean`` in RGB, then ``[:, [2, 1, 0]]``)."""
    mean = torch.tensor(VGGFACE_RGB_MEAN, dtype=images.dtype, device=images.device)
    return (images * 255 - mean.view(1, 3, 1, 1))[:, [2, 1, 0]]


def save_random_weights(backbone: str, path: Path, resolution: int, seed: int = 0) -> Path:
    """Write a randomly initialised weights file of ``backbone`` (for tests; never for scores).

    ``vgg19``: torchvision's state_dict layout (``features.*`` keys). ``synth-oracle``: an
    identity-oracle checkpoint for ``resolution`` with the oracle's default width.
    ``synth-geometry``: a geometry-regressor checkpoint with its default width.
    """
    from bench.evaluators.synth_oracle import ConvTrunk
    from bench.train import CHECKPOINT_FORMAT, atomic_torch_save

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        if backbone == "vgg19":
            state: dict[str, Any] = {
                f"features.{k}": v for k, v in _vgg19_features().state_dict().items()
            }
        elif backbone == "synth-oracle":
            settings = {"width": 16, "embedding_dim": 128, "seed": seed}
            trunk = ConvTrunk(resolution, settings["width"], settings["embedding_dim"])
            state = {
                "format": CHECKPOINT_FORMAT,
                "method": ORACLE_CHECKPOINT_METHOD,
                "settings": settings,
                "resolution": resolution,
                "net": trunk.state_dict(),
                "quality": "{}",
            }
        elif backbone == "vggface":
            state = {f"features.{k}": v for k, v in _vggface_features().state_dict().items()}
        elif backbone == "synth-identity":
            from bench.evaluators.synth_identity import DEFAULTS as IDENTITY_DEFAULTS
            from bench.evaluators.synth_identity import VGGStack

            settings = {**IDENTITY_DEFAULTS, "seed": seed}
            net = VGGStack(resolution, settings["width"], settings["embedding_dim"])
            state = {
                "format": CHECKPOINT_FORMAT,
                "method": IDENTITY_CHECKPOINT_METHOD,
                "settings": settings,
                "render": {"resolution": resolution},
                "resolution": resolution,
                "net": net.state_dict(),
                "quality": "{}",
            }
        elif backbone == "synth-geometry":
            from bench.evaluators.synth_geometry import DEFAULTS, OUTPUT_DIM

            settings = {**DEFAULTS, "seed": seed}
            trunk = ConvTrunk(resolution, settings["width"], OUTPUT_DIM)
            state = {
                "format": CHECKPOINT_FORMAT,
                "method": GEOMETRY_CHECKPOINT_METHOD,
                "settings": settings,
                "render": {"resolution": resolution},
                "resolution": resolution,
                "net": trunk.state_dict(),
                "quality": "{}",
            }
        else:
            raise ConfigError(f"perceptual.backbone: {backbone!r} is not one of {list(BACKBONES)}")
    finally:
        torch.random.set_rng_state(generator_state)
    atomic_torch_save(state, Path(path))
    return Path(path)


__all__ = [
    "BACKBONES",
    "PerceptualLoss",
    "PERCEPTUAL_SECTIONS",
    "PerceptualWeightsMissing",
    "build_perceptual",
    "save_random_weights",
    "vgg19_cache_path",
    "vggface_cache_path",
]
