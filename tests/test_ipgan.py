"""IP-GAN's training step against the reference code it cites (methods/ipgan/README.md):
MUNIT's latent reconstruction of a real identity code, CR-GAN's complete-representation
branch, the CR-GAN settings of the `paper` config and the configurable pair grouping."""

from __future__ import annotations

import pytest
import torch

from bench.methods.api import DatasetInfo, FaceBatch
from bench.methods.registry import discover

SPEC = discover().get("ipgan")
INFO = DatasetInfo("toy", 32, 6, 13, tuple(range(14)), 3)


def build(**overrides):
    config = SPEC.resolved_config("smoke", overrides)
    torch.manual_seed(0)
    method = SPEC.cls(config, INFO)
    method.optimizers = method.configure_optimizers()
    return method


def snapshot(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def changed(module: torch.nn.Module, before: list[torch.Tensor]) -> bool:
    return any(not torch.equal(p, q) for p, q in zip(module.parameters(), before, strict=True))


def test_latent_reconstruction_decodes_the_real_identity_code_with_a_random_pose() -> None:
    """MUNIT decodes a real content code with a random style code and re-encodes the result:
    some G call of a transformation step takes (E_id(x_a), z_p), z_p being the generation
    path's random pose code, and its output goes through E_id and E_p."""
    method = build(complete_representation_share=0.0)
    images = torch.rand(4, 2, 3, 32, 32)
    with torch.no_grad():
        real_identity = method.identity_encoder(images[:, 0] * 2 - 1)
    calls, encoded = [], []
    method.generator.register_forward_hook(
        lambda _m, inputs, output: calls.append((inputs[0].detach(), inputs[1].detach(), output))
    )
    method.identity_encoder.register_forward_hook(lambda _m, inputs, _o: encoded.append(inputs[0]))
    method.pose_encoder.register_forward_hook(lambda _m, inputs, _o: encoded.append(inputs[0]))
    logs = method.training_step(FaceBatch(images=images), step=0)

    assert logs["complete_representation"] == 0.0 and logs["latent_identity"] > 0
    z_p = calls[0][1]  # the generation path's G(z_id, z_p)
    latent = [
        out
        for identity, pose, out in calls
        if torch.allclose(identity, real_identity, atol=1e-6) and torch.equal(pose, z_p)
    ]
    assert len(latent) == 1, "no G(E_id(x_a), z_p) call: the latent term decodes other codes"
    assert sum(x is latent[0] for x in encoded) == 2, "G(E_id(x_a), z_p) is not re-encoded"


def test_latent_identity_term_reaches_the_identity_encoder_through_the_real_image() -> None:
    """The identity target is E_id(x_a) of a real image: its gradient reaches x_a."""
    method = build()
    x_a = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    latent_identity, _ = method.latent_reconstruction(
        method.identity_encoder(x_a), torch.randn(2, method.pose_dim)
    )
    (grad,) = torch.autograd.grad(latent_identity, x_a)
    assert grad.abs().sum() > 0


def test_complete_representation_branch_updates_the_identity_encoder_only() -> None:
    """CR-GAN's reconstruct_fake branch steps G_xvz_solver alone: E_id moves (and the
    critic, on its own update), G and E_p stay as they were."""
    method = build()
    generated = torch.rand(4, 3, 32, 32) * 2 - 1
    before = {
        name: snapshot(getattr(method, name))
        for name in ("generator", "pose_encoder", "identity_encoder", "critic")
    }
    logs = method._complete_representation_step(
        torch.rand(4, 3, 32, 32) * 2 - 1, generated, torch.randn(4, method.pose_dim)
    )
    assert logs["complete_reconstruction"] > 0
    assert not changed(method.generator, before["generator"])
    assert not changed(method.pose_encoder, before["pose_encoder"])
    assert changed(method.identity_encoder, before["identity_encoder"])
    assert changed(method.critic, before["critic"])
    assert all(p.requires_grad for p in method.generator.parameters()), "G left frozen"


def test_every_step_takes_the_complete_representation_branch_at_share_one() -> None:
    """At share 1 path 2 is always the complete-representation branch: E_p never moves and
    the transformation terms are not computed (logged as 0)."""
    method = build(complete_representation_share=1.0)
    pose_before = snapshot(method.pose_encoder)
    for step in range(2):
        logs = method.training_step(FaceBatch(images=torch.rand(4, 2, 3, 32, 32)), step)
        assert logs["complete_representation"] == 1.0 and logs["reconstruction"] == 0.0
    assert not changed(method.pose_encoder, pose_before)


def test_paper_config_holds_cr_gan_settings_and_tiny_the_measured_ones() -> None:
    paper, tiny = SPEC.resolved_config("paper"), SPEC.resolved_config("tiny")
    assert paper["gan_loss"] == "wgan-gp" and paper["gradient_penalty_weight"] == 10
    assert paper["lr"] == 1e-4 and list(paper["betas"]) == [0.0, 0.9]
    assert paper["complete_representation_share"] == 0.5 and paper["reconstruction_weight"] == 4
    assert tiny["gan_loss"] == "lsgan" and "self_reconstruction_weight" not in tiny
    for scale in ("paper", "tiny", "smoke"):
        build_config = SPEC.resolved_config(scale)
        assert SPEC.cls.sampling_for(build_config).group == "session"


@pytest.mark.parametrize("group", ["session", "clip", "identity"])
def test_pairs_are_drawn_from_the_configured_group(group) -> None:
    sampling = SPEC.cls.sampling_for(SPEC.resolved_config("tiny", {"sampling_group": group}))
    assert (sampling.group, sampling.frames) == (group, 2)
