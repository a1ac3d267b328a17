"""faceaae / faceaae_joint against Browatzki & Wallraven (ICCVW 2019): E's BatchNorm
statistics come from real images only, and the joint stage is as long as Phi's."""

from __future__ import annotations

import inspect

import pytest
import torch

from bench.methods.api import DatasetInfo
from bench.methods.registry import discover

INFO = DatasetInfo("toy", 32, 6, 13, tuple(range(14)), 3)


def build(name: str):
    spec = discover().get(name)
    torch.manual_seed(0)
    method = spec.cls(spec.resolved_config("smoke"), INFO)
    method.optimizers = method.configure_optimizers()
    return method


def running_stats(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {
        k: v.clone()
        for k, v in module.state_dict().items()
        if k.endswith(("running_mean", "running_var"))
    }


def labels(method, n: int):
    """Labels of n images, two per person, built by faceaae's own AttributeLabels."""
    AttributeLabels = inspect.getmodule(method._disentangle_losses).AttributeLabels  # noqa: N806
    identity = torch.arange(n) // 2
    return AttributeLabels(torch.randn(n, 3) * 0.3, identity, identity % 3, identity)


@pytest.fixture(scope="module")
def joint():
    return build("faceaae_joint")


def test_synthetic_cycle_leaves_the_encoder_running_statistics_alone(joint) -> None:
    """The cycle of Eq. (8)-(10) sends syntheses G(Phi^-1(f*)) through a train-mode E in
    the joint stage; E's running statistics must not move, while E still gets gradients."""
    joint.train()
    z = torch.randn(8, joint.config["z_dim"])
    before = running_stats(joint.encoder)
    assert before, "the encoder has no BatchNorm statistics to check"
    loss, _ = joint._disentangle_losses(z, labels(joint, 8), step=1)
    for key, value in running_stats(joint.encoder).items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, msg=key)
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in joint.encoder.parameters())
    assert all(
        m.momentum == 0.1
        for m in joint.encoder.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ), "the momentum was not restored"


def test_real_images_still_update_the_encoder_running_statistics(joint) -> None:
    """The autoencoder pass on real images keeps updating them (the check above can fail)."""
    joint.train()
    before = running_stats(joint.encoder)
    joint._autoencoder_losses(torch.rand(8, 3, 32, 32) * 2 - 1)
    after = running_stats(joint.encoder)
    assert any(not torch.equal(after[k], before[k]) for k in before)


@pytest.mark.parametrize("scale", ["tiny", "paper"])
def test_joint_stage_is_as_long_as_the_phi_stage(scale) -> None:
    """Sec. 5.3: 11k Phi and 11k joint iterations; faceaae_joint's first two stages end on
    the same absolute steps as faceaae's, so the row is faceaae plus joint fine-tuning."""
    joint_config = discover().get("faceaae_joint").resolved_config(scale)
    sequential = discover().get("faceaae").resolved_config(scale)
    steps = joint_config["steps"]
    ae_end = round(joint_config["ae_until"] * steps)
    phi_end = round(joint_config["phi_until"] * steps)
    assert phi_end - ae_end == steps - phi_end
    assert ae_end == round(sequential["ae_until"] * sequential["steps"])
    assert phi_end == sequential["steps"] and sequential["phi_until"] == 1.0
