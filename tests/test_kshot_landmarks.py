"""The K-shot methods' source sketches at test time (issue 19).

CainGAN, FSHM and pix2pixHD feed the sources' landmark images L(x_k) to their networks; the
harness gives none at test time, so each method draws them from a landmark estimator it
trains on the harness's labels. An image-to-sketch estimator trained with L1 on 1-pixel
lines converges to black (the L1 optimum for a sparse target): these tests train each method
briefly on SynthFaces renders and require the sketch of a held-out frame to be recovered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench.data.dataset import FaceData
from bench.data.index import PoseBins
from bench.data.synthfaces import Identity, Renderer, landmark_image, sample_clip
from bench.methods.registry import discover
from bench.perceptual import PERCEPTUAL_SECTIONS, save_random_weights

RESOLUTION = 32
IDENTITIES, FRAMES = 16, 8  # one head-turn clip per identity; its last frame is held out
STEPS = 200
#: Share of the held-out sketches' pixels the drawn sketches must hit exactly (measured
#: 0.62 with the regressor alone after 200 steps; the L1 sketch estimator recovered 0).
MIN_RECOVERED = 0.3

#: method -> its method that returns L(x) for images [..., 3, H, W]
#: (caingan's regressor, which the other two now share, is exercised by its own training.)
SKETCHERS = {
    "fshm": "estimate_landmarks",
    "pix2pixhd_kshot": "estimate_landmarks",
}


@pytest.fixture(scope="module")
def renders() -> dict[str, np.ndarray]:
    renderer, rng = Renderer(RESOLUTION), np.random.default_rng(0)
    images, points, visible, identity = [], [], [], []
    for person in range(IDENTITIES):
        for scene in sample_clip(rng, FRAMES, key_every=4, turn=(20.0, 60.0)):
            render = renderer.render(Identity.from_seed(person), scene)
            images.append(render.image)
            points.append(render.landmarks)
            visible.append(render.visible)
            identity.append(person)
    return {
        "images": np.stack(images),
        "points": np.stack(points).astype(np.float32),
        "visible": np.stack(visible),
        "identity": np.array(identity),
    }


def training_data(renders: dict[str, np.ndarray]) -> FaceData:
    """Every frame but the last of each clip; one clip per identity."""
    keep = np.arange(len(renders["images"])) % FRAMES != FRAMES - 1
    n = int(keep.sum())
    index = pd.DataFrame(
        {
            "path": [
                f"images/id{i:05d}/id{i:05d}_{j + 1:04d}.png"
                for j, i in enumerate(renders["identity"][keep])
            ],
            "identity": renders["identity"][keep],
            "clip": 0,
            "session": -1,
            "split": "train",
            "yaw": 0.0,
            "pitch": 0.0,
            "roll": 0.0,
            "pose_source": "gt",
            "expression": 0,
            "light": 0.0,
        }
    )
    assert len(index) == n
    return FaceData(
        name="renders",
        root=Path("/nonexistent/renders"),
        index=index,
        images=renders["images"][keep],
        landmarks=renders["points"][keep],
        visible=renders["visible"][keep],
        pose_bins=PoseBins(15.0),
        resolution=RESOLUTION,
    )


def recovered_share(drawn: torch.Tensor, truth: np.ndarray) -> float:
    """Share of the true sketch's pixels (any channel lit) that the drawn sketch lights too."""
    lit = torch.from_numpy(truth).amax(-1) > 0
    return float((drawn.amax(-3) > 0.05)[lit].float().mean())


@pytest.mark.parametrize("name", sorted(SKETCHERS))
def test_trained_estimator_recovers_the_sketch_of_a_held_out_frame(name, renders, tmp_path):
    spec = discover().get(name)
    config = spec.resolved_config("smoke")
    width_key = "landmark_width" if "landmark_width" in config else "estimator_width"
    config = {**config, width_key: 8, "k_train": 1, "batch_size": 8, "steps": STEPS}
    for key in PERCEPTUAL_SECTIONS:  # perceptual, and fshm's perceptual_identity
        if config.get(key):
            weights = tmp_path / f"{key}.pt"
            save_random_weights(config[key]["backbone"], weights, RESOLUTION)
            config[key] = {**config[key], "weights_path": str(weights)}
    data = training_data(renders)
    torch.manual_seed(0)
    method = spec.cls(config, data.info())
    method.optimizers = method.configure_optimizers()
    method.train()
    sampling = spec.cls.sampling_for(config)
    for step in range(STEPS):
        method.training_step(data.sample_batch(sampling, 8, spec.cls.needs, 0, step), step)
    method.eval()
    held_out = np.arange(FRAMES - 1, len(renders["images"]), FRAMES)
    images = torch.from_numpy(renders["images"][held_out]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        drawn = getattr(method, SKETCHERS[name])(images)
    truth = np.stack(
        [
            landmark_image(p, RESOLUTION, v)
            for p, v in zip(renders["points"][held_out], renders["visible"][held_out], strict=True)
        ]
    )
    assert drawn.shape == images.shape
    share = recovered_share(drawn, truth)
    print(f"{name}: recovered {share:.3f} of the held-out sketches' pixels")
    assert share >= MIN_RECOVERED, f"{name}: the drawn sketches hit {share:.1%} of the true ones"
    # and they are sketches, not a lit image: about as sparse as the true ones
    assert float((drawn.amax(-3) > 0.05).float().mean()) < 3 * float((truth.max(-1) > 0).mean())


def test_recovered_share_is_zero_for_a_black_estimate(renders):
    truth = landmark_image(renders["points"][0], RESOLUTION, renders["visible"][0])[None]
    black = torch.zeros(1, 3, RESOLUTION, RESOLUTION)
    assert recovered_share(black, truth) == 0.0
    exact = torch.from_numpy(truth).permute(0, 3, 1, 2).float() / 255
    assert recovered_share(exact, truth) == 1.0
