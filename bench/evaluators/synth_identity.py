"""synth-identity: a face-recognition perceptual backbone (the VGGFace half of FSHM's L_CNT).

FSHM's content loss (Zakharov et al. 2019) is a VGG19 perceptual L1 plus a VGGFace one:
VGG-Face (Parkhi et al. 2015) is a VGG-16 trained with a softmax classifier over 2,622
celebrities, people disjoint from the test sets. No VGG-Face weights exist here, so this
module trains the stand-in on SynthFaces people that no dataset holds:

- **Network** (:class:`VGGStack`): VGG-style blocks of two 3x3 convolutions with ReLU,
  2x2 max-pooling between blocks, no normalisation (VGG-16's layout, shallower and
  narrower): widths ``width * 2**b`` capped at ``8 * width`` (16, 32, 64, 128 at 64 px,
  four blocks, 64 -> 8 px; a last pooling to 4x4), then one linear layer to the
  ``embedding_dim`` embedding and a linear softmax classifier over the training people.
  It is not the CSIM oracle's :class:`~bench.evaluators.synth_oracle.ConvTrunk` (strided
  convolutions with batch norm, a CosFace head), has other people and another seed.
- **Objective**: softmax cross-entropy over its own identities (as VGG-Face), several random
  scenes per person (``Scene.sample``: pose, expression, light, background), random flips
  and shifts, so the features must be invariant to pose, light and background.
- **People**: rendered on the fly by :mod:`bench.data.synthfaces` at the dataset's
  resolution, supersampling and shape gain, from identity seeds ``2**32 +`` the words of
  ``SeedSequence([IDENTITY_KEY, seed])``: never below ``2**32`` (every dataset identity
  seed, :func:`bench.data.prepare.identity_seed`, is a 32-bit word), and keyed by another
  entropy word than synth-geometry's (``GEOMETRY_KEY``).
- **Quality** (on people it never saw): 10-fold verification of cosine distances on pairs of
  held-out people's renders, and the classification accuracy on an unseen scene of each
  training person.

Training is a pure function of the settings and rendering settings: the same seed gives
byte-identical weights on CPU.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bench.errors import BenchError, CheckpointError
from bench.evaluators.synth_geometry import (
    RENDER_DEFAULTS,
    backbone_main,
    fit_backbone,
    keyed_seeds,
    render_set,
    save_backbone,
)
from bench.evaluators.synth_oracle import augment
from bench.metrics.verification import evaluate_verification, pair_distances
from bench.runtime import load_checkpoint, seed_everything

log = logging.getLogger(__name__)

NAME = "synth-identity"
#: Entropy word that keys this backbone's identity seeds (``"iden"`` in ASCII); synth-geometry's
#: is ``"geom"``, the datasets' identity seeds are keyed by the dataset seed alone.
IDENTITY_KEY = 0x6964656E
#: Defaults of ``evaluators.synth_identity`` (the schema holds the same values).
DEFAULTS: dict[str, Any] = {
    "steps": 500,
    "batch_size": 64,
    "width": 16,
    "embedding_dim": 128,
    "lr": 0.001,
    "seed": 0,
    "identities": 400,
    "scenes_per_identity": 8,
    "validation_identities": 100,
}
VALIDATION_SCENES = 4
VERIFICATION_FOLDS = 10


def identity_seeds(seed: int, count: int) -> list[int]:
    """``count`` renderer seeds of this backbone's people, all ``>= 2**32`` (no dataset's)."""
    return keyed_seeds(IDENTITY_KEY, seed, count)


class VGGStack(nn.Module):
    """VGG-style conv stack: per block [max-pool 2x2 (not the first)], two conv 3x3 + ReLU.

    ``blocks[b]`` ends at the block's last ReLU, the layers the perceptual loss reads
    (VGG-Face's relu{b}_2); ``head`` pools to 4x4 and maps to the embedding.
    """

    def __init__(self, resolution: int, width: int, embedding_dim: int) -> None:
        super().__init__()
        n_blocks = int(math.log2(resolution // 4))
        if n_blocks < 1 or 4 * 2**n_blocks != resolution:
            raise BenchError(f"{NAME}: resolution {resolution} is not 4 * 2**k (k >= 1)")
        blocks, channels = [], 3
        for b in range(n_blocks):
            out = min(width * 2**b, width * 8)
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if b else []
            layers += [
                nn.Conv2d(channels, out, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(out, out, 3, padding=1),
                nn.ReLU(),
            ]
            blocks.append(nn.Sequential(*layers))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(channels * 16, embedding_dim)
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # torchvision's VGG initialisation
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, images: Tensor) -> Tensor:
        """The identity embedding (not normalised) of float images in [0, 1]."""
        return self.head(self.blocks(images * 2 - 1))


@torch.inference_mode()
def embed(net: VGGStack, images: Tensor) -> np.ndarray:
    """L2-normalised embeddings of uint8 images ``[N, 3, H, W]`` (float64)."""
    net.eval()
    chunks = [
        F.normalize(net(images[i : i + 256].float() / 255.0), dim=1)
        for i in range(0, len(images), 256)
    ]
    return torch.cat(chunks).numpy().astype(np.float64)


def verification_pairs(
    n_people: int, scenes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of every same-person pair of held-out renders, as many other-person pairs, and
    same/different labels. Row ``p * scenes + s`` is person ``p``'s scene ``s``."""
    same = [
        (p * scenes + a, p * scenes + b)
        for p in range(n_people)
        for a in range(scenes)
        for b in range(a + 1, scenes)
    ]
    first = rng.integers(0, n_people, len(same))
    second = (first + rng.integers(1, n_people, len(same))) % n_people  # another person
    other = [
        (int(p) * scenes + int(rng.integers(scenes)), int(q) * scenes + int(rng.integers(scenes)))
        for p, q in zip(first, second, strict=True)
    ]
    rows = np.array(same + other)
    labels = np.array([True] * len(same) + [False] * len(other))
    return rows[:, 0], rows[:, 1], labels


def identity_quality(
    net: VGGStack, held_out: Tensor, unseen_scenes: Tensor, classifier: nn.Linear, seed: int
) -> dict[str, Any]:
    """Verification on held-out people (``held_out``: ``VALIDATION_SCENES`` renders each, in
    person order) and classification accuracy on one unseen scene per training person."""
    n_people = len(held_out) // VALIDATION_SCENES
    rows1, rows2, same = verification_pairs(
        n_people, VALIDATION_SCENES, np.random.default_rng([IDENTITY_KEY, seed, 3])
    )
    embeddings = embed(net, held_out)
    distances = pair_distances(embeddings[rows1], embeddings[rows2], "cosine")
    folds = np.arange(len(same)) % VERIFICATION_FOLDS
    verification = evaluate_verification(distances, same, folds).as_dict()
    with torch.inference_mode():
        logits = torch.cat(
            [
                classifier(net(unseen_scenes[i : i + 256].float() / 255.0))
                for i in range(0, len(unseen_scenes), 256)
            ]
        )
    accuracy = float((logits.argmax(1) == torch.arange(len(unseen_scenes))).float().mean())
    return {
        "verification": verification,
        "verification_pairs": int(len(same)),
        "unseen_scene_accuracy": round(accuracy, 4),
    }


def _fit(
    net: VGGStack, classifier: nn.Linear, images: Tensor, labels: Tensor, settings: dict[str, Any]
) -> None:
    """Softmax cross-entropy over the training people on random flipped, shifted batches
    (:func:`~bench.evaluators.synth_geometry.fit_backbone`); ``net`` ends in eval mode."""

    def batch_loss(rows: Tensor, rng: np.random.Generator) -> Tensor:
        batch, _ = augment(images[rows].float() / 255.0, rng)
        return F.cross_entropy(classifier(net(batch)), labels[rows])

    net.train()
    parameters = [*net.parameters(), *classifier.parameters()]
    fit_backbone(parameters, batch_loss, len(images), settings, IDENTITY_KEY, NAME)
    net.eval()


def render_people(
    settings: dict[str, Any], render: dict[str, Any]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Training renders and their person labels, one unseen scene per training person, and
    ``VALIDATION_SCENES`` renders of each held-out person (uint8 ``[N, 3, H, W]``)."""
    n_train, scenes = settings["identities"], settings["scenes_per_identity"]
    seeds = identity_seeds(settings["seed"], n_train + settings["validation_identities"])
    scene_rng = np.random.default_rng([IDENTITY_KEY, settings["seed"], 1])
    train = render_set(seeds[:n_train], scenes + 1, scene_rng, render)[0]
    train = train.view(n_train, scenes + 1, *train.shape[1:])
    held_out = render_set(seeds[n_train:], VALIDATION_SCENES, scene_rng, render)[0]
    labels = torch.arange(n_train).repeat_interleave(scenes)
    images = train[:, :scenes].reshape(-1, *train.shape[2:]).contiguous()
    return images, labels, train[:, scenes].contiguous(), held_out


def train_identity_backbone(
    out_path: Path, settings: dict[str, Any], render: dict[str, Any]
) -> dict[str, Any]:
    """Render this backbone's people, train the classifier, save the network; its quality."""
    settings = {**DEFAULTS, **settings}
    render = {**RENDER_DEFAULTS, **render}
    began = time.perf_counter()
    images, labels, unseen, held_out = render_people(settings, render)
    render_seconds = time.perf_counter() - began
    seed_everything(settings["seed"])  # before any weight is initialised
    net = VGGStack(render["resolution"], settings["width"], settings["embedding_dim"])
    classifier = nn.Linear(settings["embedding_dim"], settings["identities"])
    untrained = identity_quality(net, held_out, unseen, classifier, settings["seed"])
    _fit(net, classifier, images, labels, settings)
    train_seconds = time.perf_counter() - began - render_seconds
    quality = identity_quality(net, held_out, unseen, classifier, settings["seed"])
    quality.update(
        untrained_verification_accuracy=untrained["verification"]["accuracy"],
        trained_on=(
            f"{len(images)} renders of {settings['identities']} people with identity seeds "
            f">= 2**32 (no dataset identity); verified on {len(held_out)} renders of "
            f"{settings['validation_identities']} others"
        ),
    )
    save_backbone(out_path, NAME, settings, render, net, quality)
    log.info(
        "%s: held-out verification %.4f (untrained %.4f), unseen-scene accuracy %.4f "
        "(render %.1f s, train %.1f s)",
        NAME,
        quality["verification"]["accuracy"],
        untrained["verification"]["accuracy"],
        quality["unseen_scene_accuracy"],
        render_seconds,
        train_seconds,
    )
    return {
        **quality,
        "render_seconds": round(render_seconds, 1),
        "train_seconds": round(train_seconds, 1),
    }


def load_identity_net(path: Path) -> tuple[VGGStack, dict[str, Any]]:
    """The trained network (eval mode) and its checkpoint fields, read with ``weights_only=True``."""
    state = load_checkpoint(Path(path))
    if state.get("method") != NAME:
        raise CheckpointError(f"{path}: not a {NAME} checkpoint (found {state.get('method')!r})")
    settings = state["settings"]
    net = VGGStack(state["resolution"], settings["width"], settings["embedding_dim"])
    try:
        net.load_state_dict(state["net"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: not a {NAME} network: {error}") from error
    return net.eval(), state


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.evaluators.synth_identity --data DIR --params JSON --out PT --quality JSON``."""
    return backbone_main(argv, NAME, train_identity_backbone)


if __name__ == "__main__":
    raise SystemExit(main())
