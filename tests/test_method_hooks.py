"""Methods share the harness's helpers instead of copying them: one K-shot sampling check,
one way to hold a perceptual loss, no dead ``sampling`` attribute, variants use hooks."""

from __future__ import annotations

import pytest
import torch

from bench.methods.api import Method, Sampling, k_shot_sampling
from bench.methods.registry import method_registry
from bench.perceptual import MethodPerceptualLoss, save_random_weights

K_SHOT = ["caingan", "caingan_mean", "caingan_no_ramp", "caingan_no_target", "fshm"]
K_SHOT += ["pix2pixhd_kshot"]


def test_k_shot_sampling_draws_k_sources_and_a_target_of_one_clip():
    assert k_shot_sampling({"k_train": 4}, "m") == Sampling(group="clip", frames=5)
    with pytest.raises(ValueError, match="m: k_train must be >= 1, got 0"):
        k_shot_sampling({"k_train": 0}, "m")


@pytest.mark.parametrize("name", K_SHOT)
def test_every_k_shot_method_checks_k_train_by_name(name):
    spec = method_registry().get(name)
    config = spec.resolved_config("tiny")
    assert spec.cls.sampling_for(config).frames == config["k_train"] + 1
    with pytest.raises(ValueError, match=f"^{name}: k_train must be >= 1, got 0$"):
        spec.cls.sampling_for({**config, "k_train": 0})


@pytest.mark.parametrize("name", sorted(method_registry()))
def test_no_method_sets_a_sampling_that_its_sampling_for_ignores(name):
    """``Method.sampling`` is read only by the default ``sampling_for``."""
    cls = method_registry().get(name).cls
    overrides_sampling_for = cls.sampling_for.__func__ is not Method.sampling_for.__func__
    sets_sampling = any("sampling" in vars(c) for c in cls.__mro__ if c is not Method)
    assert not (overrides_sampling_for and sets_sampling), f"{name}: dead 'sampling' attribute"


@pytest.mark.parametrize("name", ["caingan", "fshm", "pix2pixhd_kshot"])
def test_perceptual_losses_are_held_one_way(name):
    assert isinstance(
        method_registry().get(name).cls.__dict__.get("perceptual"), MethodPerceptualLoss
    )


class _Owner(Method):
    perceptual = MethodPerceptualLoss()

    def __init__(self, config):
        super().__init__(config, None)
        self.layer = torch.nn.Linear(2, 2)


def test_the_perceptual_loss_is_built_once_and_kept_out_of_the_state_dict(tmp_path):
    path = save_random_weights("synth-geometry", tmp_path / "geometry.pt", 32)
    owner = _Owner({"perceptual": {"backbone": "synth-geometry", "weights_path": str(path)}})
    before = set(owner.state_dict())
    loss = owner.perceptual
    assert owner.perceptual is loss and loss.name == "synth-geometry"
    assert set(owner.state_dict()) == before == {"layer.weight", "layer.bias"}
    assert [p for p in owner.parameters()] == list(owner.layer.parameters())
    images = torch.rand(2, 3, 32, 32)
    assert float(owner.perceptual(images, images)) == 0.0


def test_drgan_multi_uses_drgans_phase_logic():
    multi = method_registry().get("drgan_multi").cls
    assert "training_step" not in vars(multi) and "pretraining" not in vars(multi)
    assert "synthesis_losses" in vars(multi) and "omega_mean" in multi.adversarial_losses
