"""K-shot methods' training details against their references (issue 19): pix2pixHD's
feature matching from one D, and CainGAN's ablations starting from the full model's weights."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import make_face_data

from bench.methods.registry import discover
from bench.perceptual import save_random_weights

RESOLUTION = 32
CAINGAN_FAMILY = ("caingan", "caingan_no_ramp", "caingan_mean", "caingan_no_target")


def with_weights(config: dict, tmp_path) -> dict:
    path = tmp_path / "perceptual.pt"
    save_random_weights(config["perceptual"]["backbone"], path, RESOLUTION)
    return {**config, "perceptual": {**config["perceptual"], "weights_path": str(path)}}


def test_pix2pixhd_feature_matching_and_gan_loss_use_one_discriminator(tmp_path):
    """pix2pixHD (train.py, Pix2PixHDModel.forward): D's real and fake features of G's loss
    come from one D. The logged G losses must equal a recomputation of both from the D
    (and G) the step started with."""
    spec = discover().get("pix2pixhd_kshot")
    module = sys.modules[spec.cls.__module__]
    feature_matching, lsgan = module.feature_matching, module.lsgan
    data = make_face_data(n_identities=4, per_identity=4, resolution=RESOLUTION)
    config = with_weights({**spec.resolved_config("smoke"), "steps": 10}, tmp_path)
    torch.manual_seed(0)
    method = spec.cls(config, data.info())
    method.optimizers = method.configure_optimizers()
    sampling = spec.cls.sampling_for(config)
    batch = data.sample_batch(sampling, 2, spec.cls.needs, 0, 0)
    for step in range(3):  # a few steps first, so that D's update is not ~0
        method.training_step(data.sample_batch(sampling, 2, spec.cls.needs, 0, step + 1), step)
    start = {k: v.clone() for k, v in method.state_dict().items()}
    logged = method.training_step(batch, 3)
    d_keys = [k for k in start if k.startswith("discriminator.")]
    assert any(not torch.equal(start[k], method.state_dict()[k]) for k in d_keys)
    method.load_state_dict(start)
    with torch.no_grad():
        images, sketches = batch.images, batch.landmark_images
        condition = method.condition(images[:, 1:], sketches[:, 1:], sketches[:, 0])
        fake = method.generator(condition)
        real_scores = method.discriminator(torch.cat([condition, images[:, 0] * 2 - 1], 1))
        fake_scores = method.discriminator(torch.cat([condition, fake], 1))
        fm = config["lambda_feat"] * feature_matching(
            real_scores, fake_scores, config["n_layers_d"]
        )
    np.testing.assert_allclose(logged["g_feat"], float(fm), rtol=1e-5)
    np.testing.assert_allclose(logged["g_gan"], float(lsgan(fake_scores, True)), rtol=1e-5)


@pytest.mark.parametrize("scale", ["smoke", "tiny"])
def test_caingan_ablations_start_from_the_full_models_weights(scale):
    """Every sub-network whose shapes agree starts equal across caingan and its ablations;
    only w/o T's first embedder block (6 input channels instead of 9) may differ."""
    first_block = "embedder.trunk.0."
    info = make_face_data(n_identities=4, per_identity=2, resolution=64).info()
    states = {}
    for name in CAINGAN_FAMILY:
        spec = discover().get(name)
        torch.manual_seed(0)  # what bench.train does before building a method
        states[name] = spec.cls(spec.resolved_config(scale), info).state_dict()
    full = states["caingan"]
    for name in CAINGAN_FAMILY[1:]:
        state = states[name]
        assert state.keys() == full.keys()
        own = first_block if name == "caingan_no_target" else None
        differing = [k for k in full if full[k].shape != state[k].shape]
        assert all(own and k.startswith(own) for k in differing), differing
        for key in full:
            if not (own and key.startswith(own)):
                assert torch.equal(full[key], state[key]), f"{name}: {key} starts elsewhere"
    # the first block itself is still seeded by its name: equal across runs of w/o T
    torch.manual_seed(0)
    spec = discover().get("caingan_no_target")
    again = spec.cls(spec.resolved_config(scale), info).state_dict()
    assert all(torch.equal(again[k], states["caingan_no_target"][k]) for k in again)
