"""synth-geometry: a perceptual-loss backbone that shares no identity and no objective with the evaluators.

A :class:`~bench.evaluators.synth_oracle.ConvTrunk` (the oracles' architecture) trained to
regress, from one SynthFaces render, the scene's geometry and light: the 68 iBUG landmarks
(coordinates normalised to [-1, 1], loss on the visible points only) and their visibility,
the four expression strengths (mouth_open, smile, brow_raise, eye_close), the light
direction (unit vector, camera space) and the ambient level. No identity label, no pose
label (the pose oracle's objective) and no dataset image is used.

Its people are rendered on the fly by :mod:`bench.data.synthfaces` at the dataset's
resolution, supersampling and shape gain, from identity seeds that no dataset can hold:
:func:`bench.data.prepare.identity_seed` returns ``SeedSequence([dataset_seed, i])``'s
first 32-bit word, always below ``2**32``; :func:`identity_seeds` returns ``2**32`` plus
the words of ``SeedSequence([GEOMETRY_KEY, seed])``, always at or above ``2**32``. So no
train or test identity of any SynthFaces dataset is ever rendered for it, and the CSIM
and pose oracles never see its people.

Training is a pure function of the settings and the rendering settings: the same seed
gives byte-identical weights on CPU. It takes about 80 s on one thread at 64 px (default
settings), so it does not checkpoint mid-way; a killed job simply starts over.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from bench.errors import BenchError, CheckpointError
from bench.evaluators.synth_oracle import ConvTrunk, one_cycle_adamw, optimizer_step
from bench.runtime import CHECKPOINT_FORMAT, atomic_torch_save, load_checkpoint, seed_everything

log = logging.getLogger(__name__)

NAME = "synth-geometry"
#: Entropy word that keys this backbone's identity seeds (``"geom"`` in ASCII); the
#: dataset's identity seeds are keyed by the dataset seed alone.
GEOMETRY_KEY = 0x67656F6D
#: Every identity seed of this backbone is at least this; every dataset identity seed is below.
SEED_OFFSET = 2**32
N_LANDMARKS = 68
#: Output layout: landmark x, y (136), visibility logits (68), expressions (4), light (3), ambient (1).
OUTPUT_DIM = 2 * N_LANDMARKS + N_LANDMARKS + 4 + 3 + 1
AMBIENT_CENTRE, AMBIENT_SCALE = 0.35, 0.15  # Scene.sample draws ambient from U(0.2, 0.5)
VISIBILITY_WEIGHT = 0.1
#: Defaults of ``evaluators.synth_geometry`` (the schema holds the same values).
DEFAULTS: dict[str, Any] = {
    "steps": 1200,
    "batch_size": 64,
    "width": 16,
    "lr": 0.002,
    "seed": 0,
    "identities": 1000,
    "scenes_per_identity": 3,
    "validation_identities": 100,
}
RENDER_DEFAULTS: dict[str, Any] = {"resolution": 64, "supersample": 2, "shape_gain": 1.0}


def keyed_seeds(key: int, seed: int, count: int) -> list[int]:
    """``count`` renderer seeds, all ``>= 2**32`` (no dataset's), of the loss backbone whose
    entropy word is ``key`` (each backbone its own, so their people differ too)."""
    words = np.random.SeedSequence([key, int(seed)]).generate_state(count, np.uint32)
    return [SEED_OFFSET + int(w) for w in words]


def identity_seeds(seed: int, count: int) -> list[int]:
    """``count`` renderer seeds of this backbone's people, all ``>= 2**32`` (no dataset's)."""
    return keyed_seeds(GEOMETRY_KEY, seed, count)


def render_settings(meta: dict[str, Any]) -> dict[str, Any]:
    """Resolution, supersampling and shape gain of a prepared dataset (its ``meta.json``)."""
    settings = meta.get("settings") or {}
    return {
        "resolution": int(meta["resolution"]),
        "supersample": int(settings.get("supersample", RENDER_DEFAULTS["supersample"])),
        "shape_gain": float(settings.get("shape_gain", RENDER_DEFAULTS["shape_gain"])),
    }


def render_set(
    seeds: list[int], scenes_per_identity: int, rng: np.random.Generator, render: dict[str, Any]
) -> tuple[Tensor, Tensor, Tensor]:
    """Render every seed's person under ``scenes_per_identity`` random scenes.

    Returns uint8 images ``[N, 3, H, W]``, targets ``[N, OUTPUT_DIM - 68]`` (landmarks,
    expressions, light, ambient) and landmark visibility ``[N, 68]`` (bool).
    """
    from bench.data.synthfaces import EXPRESSIONS, Identity, Renderer, Scene, light_direction

    renderer = Renderer(resolution=render["resolution"], supersample=render["supersample"])
    size = float(render["resolution"])
    images, targets, visible = [], [], []
    for seed in seeds:
        person = Identity.from_seed(seed, shape_gain=render["shape_gain"])
        for _ in range(scenes_per_identity):
            scene = Scene.sample(rng)
            out = renderer.render(person, scene)
            images.append(out.image)
            light = light_direction(scene.light_azimuth, scene.light_elevation)
            targets.append(
                np.concatenate(
                    [
                        (out.landmarks.reshape(-1) / size) * 2.0 - 1.0,
                        [getattr(scene, name) for name in EXPRESSIONS],
                        light,
                        [(scene.ambient - AMBIENT_CENTRE) / AMBIENT_SCALE],
                    ]
                )
            )
            visible.append(out.visible)
    return (
        torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(np.stack(targets).astype(np.float32)),
        torch.from_numpy(np.stack(visible)),
    )


def _split(output: Tensor) -> dict[str, Tensor]:
    n = 2 * N_LANDMARKS
    return {
        "landmarks": output[:, :n],
        "visibility": output[:, n : n + N_LANDMARKS],
        "expressions": output[:, n + N_LANDMARKS : n + N_LANDMARKS + 4],
        "light": output[:, n + N_LANDMARKS + 4 : n + N_LANDMARKS + 7],
        "ambient": output[:, n + N_LANDMARKS + 7 :],
    }


def _split_targets(targets: Tensor) -> dict[str, Tensor]:
    n = 2 * N_LANDMARKS
    return {
        "landmarks": targets[:, :n],
        "expressions": targets[:, n : n + 4],
        "light": targets[:, n + 4 : n + 7],
        "ambient": targets[:, n + 7 :],
    }


def geometry_loss(output: Tensor, targets: Tensor, visible: Tensor) -> Tensor:
    """Visibility-masked landmark loss + visibility BCE + expression, light and ambient losses."""
    out, want = _split(output), _split_targets(targets)
    mask = visible.float().repeat_interleave(2, dim=1)  # x and y of each landmark
    landmark = (
        F.smooth_l1_loss(out["landmarks"], want["landmarks"], beta=0.02, reduction="none") * mask
    ).sum() / mask.sum().clamp(min=1.0)
    return (
        landmark
        + VISIBILITY_WEIGHT * F.binary_cross_entropy_with_logits(out["visibility"], visible.float())
        + F.smooth_l1_loss(out["expressions"], want["expressions"], beta=0.05)
        + F.smooth_l1_loss(out["light"], want["light"], beta=0.05)
        + F.smooth_l1_loss(out["ambient"], want["ambient"], beta=0.05)
    )


@torch.inference_mode()
def geometry_quality(
    net: ConvTrunk, images: Tensor, targets: Tensor, visible: Tensor, resolution: int
) -> dict[str, float]:
    """Errors on held-out people: landmark pixels (visible), visibility, expressions, light."""
    net.eval()
    output = torch.cat(
        [net(images[i : i + 256].float() / 255.0) for i in range(0, len(images), 256)]
    )
    out, want = _split(output), _split_targets(targets)
    pixels = (out["landmarks"] - want["landmarks"]).view(-1, N_LANDMARKS, 2) * (resolution / 2.0)
    distance = pixels.norm(dim=2)
    light = F.normalize(out["light"], dim=1)
    cosine = (light * want["light"]).sum(1).clamp(-1.0, 1.0)
    return {
        "landmark_error_pixels": round(float(distance[visible].mean()), 4),
        "visibility_accuracy": round(float(((out["visibility"] > 0) == visible).float().mean()), 4),
        "expression_mae": round(float((out["expressions"] - want["expressions"]).abs().mean()), 4),
        "light_direction_error_degrees": round(float(torch.rad2deg(torch.acos(cosine)).mean()), 3),
        "ambient_mae": round(
            float((out["ambient"] - want["ambient"]).abs().mean() * AMBIENT_SCALE), 4
        ),
    }


def fit_backbone(
    parameters: Any,
    batch_loss: Callable[[Tensor, np.random.Generator], Tensor],
    n_images: int,
    settings: dict[str, Any],
    key: int,
    name: str,
) -> None:
    """The loop every loss backbone trains with: AdamW with a one-cycle schedule, each step
    ``batch_loss(rows, rng)`` of ``batch_size`` random rows (rng keyed by ``key`` and the
    seed). A non-finite loss stops it, naming the step and the setting to lower."""
    optimizer, schedule = one_cycle_adamw(parameters, settings)
    rng = np.random.default_rng([key, settings["seed"], 2])
    section = f"evaluators.{name.replace('-', '_')}"
    bar = tqdm(range(settings["steps"]), desc=f"train {name}", unit="step", mininterval=2.0)
    for step in bar:
        rows = torch.from_numpy(rng.integers(0, n_images, settings["batch_size"]))
        loss = batch_loss(rows, rng)
        if not math.isfinite(loss.item()):
            raise BenchError(f"{name}: non-finite loss at step {step}; lower {section}.lr")
        optimizer_step(loss, optimizer, schedule, bar)


def _fit(
    net: ConvTrunk,
    images: torch.Tensor,
    targets: torch.Tensor,
    visible: torch.Tensor,
    settings: dict[str, Any],
) -> None:
    """:func:`fit_backbone` on the geometry loss; ``net`` ends in eval mode."""
    net.train()
    fit_backbone(
        net.parameters(),
        lambda rows, _rng: geometry_loss(
            net(images[rows].float() / 255.0), targets[rows], visible[rows]
        ),
        len(images),
        settings,
        GEOMETRY_KEY,
        NAME,
    )
    net.eval()


def train_geometry_backbone(
    out_path: Path, settings: dict[str, Any], render: dict[str, Any]
) -> dict[str, Any]:
    """Render this backbone's people, train the regressor, save it; returns its quality."""
    settings = {**DEFAULTS, **settings}
    render = {**RENDER_DEFAULTS, **render}
    began = time.perf_counter()
    seeds = identity_seeds(
        settings["seed"], settings["identities"] + settings["validation_identities"]
    )
    train_seeds, validation_seeds = (
        seeds[: settings["identities"]],
        seeds[settings["identities"] :],
    )
    scene_rng = np.random.default_rng([GEOMETRY_KEY, settings["seed"], 1])
    images, targets, visible = render_set(
        train_seeds, settings["scenes_per_identity"], scene_rng, render
    )
    held = render_set(validation_seeds, 2, scene_rng, render)
    render_seconds = time.perf_counter() - began
    log.info(
        "%s: rendered %d training and %d held-out images in %.1f s",
        NAME,
        len(images),
        len(held[0]),
        render_seconds,
    )

    seed_everything(settings["seed"])  # before any weight is initialised
    net = ConvTrunk(render["resolution"], settings["width"], OUTPUT_DIM)
    net = net.to(memory_format=torch.channels_last)
    _fit(net, images, targets, visible, settings)
    train_seconds = time.perf_counter() - began - render_seconds
    quality = geometry_quality(net, *held, render["resolution"])
    quality.update(
        trained_on=(
            f"{len(images)} renders of {len(train_seeds)} people with identity seeds >= 2**32 "
            f"(no dataset identity); {len(held[0])} held-out renders of {len(validation_seeds)} others"
        ),
    )
    save_backbone(out_path, NAME, settings, render, net, quality)
    log.info(
        "%s: landmarks %.2f px, expressions MAE %.3f, light %.1f deg on held-out people "
        "(render %.1f s, train %.1f s)",
        NAME,
        quality["landmark_error_pixels"],
        quality["expression_mae"],
        quality["light_direction_error_degrees"],
        render_seconds,
        train_seconds,
    )
    return {
        **quality,
        "render_seconds": round(render_seconds, 1),
        "train_seconds": round(train_seconds, 1),
    }


def save_backbone(
    out_path: Path,
    name: str,
    settings: dict[str, Any],
    render: dict[str, Any],
    net: nn.Module,
    quality: dict[str, Any],
) -> None:
    """A loss backbone's checkpoint, written atomically. Timings stay out of it, so that the
    same seed writes the same bytes."""
    atomic_torch_save(
        {
            "format": CHECKPOINT_FORMAT,
            "method": name,
            "settings": settings,
            "render": render,
            "resolution": render["resolution"],
            "net": net.state_dict(),
            "quality": json.dumps(quality, sort_keys=True),
        },
        Path(out_path),
    )


def load_geometry_trunk(path: Path) -> tuple[ConvTrunk, dict[str, Any]]:
    """The trained network (eval mode) and its checkpoint fields, read with ``weights_only=True``."""
    state = load_checkpoint(Path(path))
    if state.get("method") != NAME:
        raise CheckpointError(f"{path}: not a {NAME} checkpoint (found {state.get('method')!r})")
    net = ConvTrunk(state["resolution"], state["settings"]["width"], OUTPUT_DIM)
    net.load_state_dict(state["net"])
    return net.eval(), state


def backbone_main(
    argv: list[str] | None,
    name: str,
    train: Callable[[Path, dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> int:
    """``python -m bench.evaluators.<module> --data DIR --params JSON --out PT --quality
    JSON`` of the loss backbone ``name``: ``train(out, params, render settings)``."""
    from bench.runtime import set_threads, setup_logging

    module = name.replace("-", "_")
    parser = argparse.ArgumentParser(
        prog=f"python -m bench.evaluators.{module}", description=f"train the {name} backbone"
    )
    parser.add_argument(
        "--data", required=True, help="prepared dataset (its meta.json gives the resolution)"
    )
    parser.add_argument("--params", required=True, help=f"JSON of evaluators.{module}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--quality", required=True)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--log")
    args = parser.parse_args(argv)
    setup_logging(args.log)
    set_threads(args.threads)
    try:
        meta_path = Path(args.data) / "meta.json"
        if not meta_path.is_file():
            raise BenchError(f"{meta_path}: missing; prepare the dataset first")
        render = render_settings(json.loads(meta_path.read_text()))
        quality = train(Path(args.out), json.loads(args.params), render)
    except BenchError as error:
        log.error("%s", error)
        return 2
    Path(args.quality).write_text(json.dumps(quality, indent=2, sort_keys=True) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.evaluators.synth_geometry --data DIR --params JSON --out PT --quality JSON``."""
    return backbone_main(argv, NAME, train_geometry_backbone)


if __name__ == "__main__":
    raise SystemExit(main())
