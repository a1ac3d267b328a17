"""IP-GAN's training step against the reference code it cites (methods/ipgan/README.md):
MUNIT's latent reconstruction of a real identity code, CR-GAN's complete-representation
branch, the CR-GAN settings of the `paper` config and the configurable pair grouping."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from conftest import assert_same_weights, final_weights, make_face_data, train_until_killed

from bench.methods.api import DatasetInfo, Driver, FaceBatch, frozen
from bench.methods.registry import discover
from bench.train import TrainSettings, load_checkpoint, train

SPEC = discover().get("ipgan")
MODEL = sys.modules[SPEC.cls.__module__.rsplit(".", 1)[0] + ".model"]  # methods/ipgan/model.py
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
    path's random pose code, and its output goes through E_id and E_p (E_p's colour map
    off; the next tests cover it)."""
    method = build(complete_representation_share=0.0, pose_colour_mix=False)
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
    assert tiny["gan_loss"] == "lsgan"
    # README "Deviations" 13-15: measured at tiny only; paper keeps CR-GAN's and MUNIT's
    assert (paper["pose_grey"], paper["latent_identity_detach"]) == (False, False)
    assert (tiny["pose_grey"], tiny["latent_identity_detach"]) == (True, True)
    assert tiny["complete_representation_share"] == 0.0
    assert paper["self_reconstruction_weight"] == tiny["self_reconstruction_weight"] == 0
    for scale in ("paper", "tiny", "smoke"):
        build_config = SPEC.resolved_config(scale)
        assert SPEC.cls.sampling_for(build_config).group == "session"


@pytest.mark.parametrize("group", ["session", "clip", "identity"])
def test_pairs_are_drawn_from_the_configured_group(group) -> None:
    sampling = SPEC.cls.sampling_for(SPEC.resolved_config("tiny", {"sampling_group": group}))
    assert (sampling.group, sampling.frames) == (group, 2)


def fit_colour_map(before: torch.Tensor, after: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The 3x3 matrix M with after = M before (least squares over pixels) and the fit's
    worst absolute residual; images [3, H, W]."""
    x, y = before.flatten(1).T, after.flatten(1).T
    mix = torch.linalg.lstsq(x, y).solution.T
    return mix, float((x @ mix.T - y).abs().max())


@pytest.mark.parametrize("mix", [True, False])
def test_pose_encoder_sees_x_b_in_random_colours_during_training(mix) -> None:
    """README "Deviations" 11: session pairs share their scene, so E_p trained on x_b as it is
    carried the scene (97.5% of its code variance between sessions, 0.8% between yaws) and
    transfer painted the driver's background. In training E_p sees its inputs (x_b, and
    the latent term's G(E_id(x_a), z_p)) through ``colour_mix``; with ``pose_colour_mix``
    off it sees them as they are."""
    images = torch.rand(4, 2, 3, 32, 32)
    x_b = images[:, 1] * 2 - 1
    method = build(
        complete_representation_share=0.0, pose_colour_mix=mix, self_reconstruction_weight=4.0
    )
    x_a = images[:, 0] * 2 - 1
    seen, made = [], []
    method.pose_encoder.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    method.generator.register_forward_hook(lambda _m, _i, output: made.append(output))
    method.training_step(FaceBatch(images=images), step=0)
    # E_p(x_b), E_p of the latent term's G(E_id(x_a), z_p), E_p(x_a) of the a = b term
    assert len(seen) == 3
    assert torch.equal(seen[0], x_b) is not mix and torch.equal(seen[2], x_a) is not mix
    assert any(seen[1] is out for out in made) is not mix
    if mix:  # each of E_p's real images is x_b's (x_a's) through a colour map of unit row norm
        for plain, shown in ((x_b, seen[0]), (x_a, seen[2])):
            for i in range(len(plain)):
                colour_map, residual = fit_colour_map(plain[i], shown[i])
                assert residual < 1e-4
                assert torch.allclose(colour_map.abs().sum(dim=1), torch.ones(3), atol=1e-4)


def test_colour_mix_draws_a_random_linear_colour_map_per_image() -> None:
    colour_mix = sys.modules[SPEC.cls.__module__].colour_mix
    torch.manual_seed(0)
    x = torch.rand(64, 3, 8, 8) * 2 - 1
    out = colour_mix(x)
    assert out.shape == x.shape and out.abs().max() <= 1
    maps = []
    for i in range(len(x)):
        colour_map, residual = fit_colour_map(x[i], out[i])
        assert residual < 1e-4
        assert torch.allclose(colour_map.abs().sum(dim=1), torch.ones(3), atol=1e-4)
        maps.append(colour_map)
    maps = torch.stack(maps)
    assert maps.std(dim=0).min() > 0.2  # every entry varies between images
    assert (maps < 0).float().mean() > 0.3 and (maps > 0).float().mean() > 0.3


def test_transfer_reads_the_driver_image_without_colour_mix() -> None:
    """The colour map is a training input only: transfer and encode see the driver as it is."""
    method = build(pose_colour_mix=True).eval()
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        first = method.encode(images)["pose"]
        again = method.encode(images)["pose"]
        direct = method.pose_encoder(images * 2 - 1)
    assert torch.equal(first, again) and torch.equal(first, direct)


def test_a_config_from_before_the_colour_mix_key_builds_without_it() -> None:
    """Checkpoints written before ``pose_colour_mix`` existed were trained without it."""
    config = SPEC.resolved_config("smoke")
    del config["pose_colour_mix"]
    assert SPEC.cls(config, INFO).pose_colour_mix is False
    assert SPEC.resolved_config("tiny")["pose_colour_mix"] is False
    assert SPEC.resolved_config("paper")["pose_colour_mix"] is False


@pytest.mark.parametrize("weight", [4.0, 0.0])
def test_self_reconstruction_rebuilds_x_a_from_its_own_codes(weight) -> None:
    """README "Deviations" 5: the a = b term |G(E_id(x_a), E_p(x_a)) - x_a|_1 (MUNIT's
    within-domain recon_x) at ``self_reconstruction_weight``; at 0 it is not computed."""
    method = build(
        complete_representation_share=0.0, pose_colour_mix=False, self_reconstruction_weight=weight
    )
    images = torch.rand(4, 2, 3, 32, 32)
    x_a = images[:, 0] * 2 - 1
    calls = {"generator": [], "identity_encoder": [], "pose_encoder": []}
    for name, record in calls.items():
        getattr(method, name).register_forward_hook(
            lambda _m, inputs, output, record=record: record.append((inputs, output.detach()))
        )
    logs = method.training_step(FaceBatch(images=images), step=0)
    pose_a = [out for (x,), out in calls["pose_encoder"] if torch.equal(x, x_a)]
    identity_a = [out for (x,), out in calls["identity_encoder"] if torch.equal(x, x_a)]
    rebuilt = [
        out
        for (identity, pose), out in calls["generator"]
        if pose_a and torch.equal(pose, pose_a[0]) and torch.allclose(identity, identity_a[0])
    ]
    assert len(pose_a) == len(rebuilt) == (1 if weight else 0)
    if weight:
        reference = (rebuilt[0] - x_a).abs().sum(dim=1).mean().item()
        assert logs["self_reconstruction"] == pytest.approx(reference, rel=1e-4)
    else:
        assert logs["self_reconstruction"] == 0.0


def scene_method(weight: float = 0.1, **overrides):
    return build(pose_scene_adversary_weight=weight, **overrides)


def test_scene_discriminator_labels_a_pair_one_and_the_rolled_batch_zero() -> None:
    """DrNet's C loss: (E_p(x_a_i), E_p(x_b_i)) are one session (target 1), (E_p(x_a_i),
    E_p(x_b_j)), j != i, two sessions (target 0); BCE over both halves, written out here
    on C's sigmoid outputs for every pair."""
    method = scene_method()
    torch.manual_seed(1)
    pose_a, pose_b = torch.randn(5, method.pose_dim), torch.randn(5, method.pose_dim)
    loss, accuracy = method.scene_discriminator_loss(pose_a, pose_b)
    terms, correct = [], 0
    with torch.no_grad():
        for i in range(5):
            for j in range(5):
                if j not in (i, (i - 1) % 5):
                    continue
                p = torch.sigmoid(method.scene_discriminator(pose_a[i : i + 1], pose_b[j : j + 1]))
                same = j == i
                terms.append(-torch.log(p if same else 1 - p))
                correct += int((p.item() > 0.5) == same)
    assert len(terms) == 10
    assert loss.item() == pytest.approx(torch.cat(terms).mean().item(), rel=1e-5)
    assert accuracy.item() == pytest.approx(correct / 10)


def test_pose_encoder_term_is_the_cross_entropy_of_c_to_one_half() -> None:
    """E_p's term: -(log p + log(1 - p)) / 2 for p = C(E_p(x_a_i), E_p(x_b_i)); its gradient
    reaches the second code only (DrNet's dhp2_rec) and none of C's parameters."""
    method = scene_method()
    torch.manual_seed(2)
    pose_a = torch.randn(4, method.pose_dim, requires_grad=True)
    pose_b = torch.randn(4, method.pose_dim, requires_grad=True)
    with frozen(method.scene_discriminator):
        term = method.scene_adversarial(pose_a, pose_b)
    with torch.no_grad():
        p = torch.sigmoid(method.scene_discriminator(pose_a, pose_b))
    reference = (-(torch.log(p) + torch.log(1 - p)) / 2).mean()
    assert term.item() == pytest.approx(reference.item(), rel=1e-5)
    term.backward()
    assert pose_a.grad is None and pose_b.grad.abs().sum() > 0
    assert all(q.grad is None for q in method.scene_discriminator.parameters())


def test_pose_encoder_term_pulls_c_logits_to_one_half(monkeypatch) -> None:
    """The term's gradient on C's logit l is (sigmoid(l) - 1/2) / B: zero where C says 1/2
    (its minimum, log 2), and with a target of 1 or 0 it would be sigmoid(l) - 1 or sigmoid(l)."""
    method = scene_method()
    logits = torch.tensor([-2.0, 0.0, 0.5, 3.0], requires_grad=True)
    monkeypatch.setattr(method.scene_discriminator, "forward", lambda _a, _b: logits)
    term = method.scene_adversarial(torch.zeros(4, 8), torch.zeros(4, 8))
    (grad,) = torch.autograd.grad(term, logits)
    expected = (torch.sigmoid(logits.detach()) - 0.5) / 4
    torch.testing.assert_close(grad, expected)
    assert grad[1] == 0
    flat = method.scene_adversarial(torch.zeros(1, 8), torch.zeros(1, 8))
    assert flat.item() > math.log(2)  # the other logits are not at the minimum
    monkeypatch.setattr(method.scene_discriminator, "forward", lambda _a, _b: torch.zeros(3))
    at_half = method.scene_adversarial(torch.zeros(3, 8), torch.zeros(3, 8))
    assert at_half.item() == pytest.approx(math.log(2))


def test_scene_discriminator_has_its_own_optimizer_and_is_off_by_default() -> None:
    method = scene_method()
    scene = {id(p) for p in method.scene_discriminator.parameters()}
    in_optimizer = {
        name: {id(p) for group in opt.param_groups for p in group["params"]}
        for name, opt in method.optimizers.items()
    }
    assert in_optimizer["scene"] == scene
    assert method.optimizers["scene"].param_groups[0]["lr"] == method.config["lr"]  # null
    faster = scene_method(scene_discriminator_lr=2e-3)
    assert faster.optimizers["scene"].param_groups[0]["lr"] == 2e-3
    assert faster.optimizers["generator"].param_groups[0]["lr"] == faster.config["lr"] != 2e-3
    assert not scene & (in_optimizer["generator"] | in_optimizer["critic"])
    off = build()
    assert off.scene_discriminator is None and "scene" not in off.optimizers
    assert not any("scene" in key for key in off.state_dict())
    assert SPEC.resolved_config("paper")["pose_scene_adversary_weight"] == 0
    with pytest.raises(ValueError, match="pose_scene_adversary_weight"):
        scene_method(weight=-1.0)


def test_only_the_scene_term_moves_the_pose_encoder_and_c_learns_on_transformation_steps() -> None:
    """Every other generator-side weight at 0: a transformation step moves E_p through the
    scene term alone (and neither E_id nor G); without the term E_p stays. C takes its own
    update on transformation steps and none on complete-representation steps."""
    zero = {
        "adversarial_weight": 0.0,
        "reconstruction_weight": 0.0,
        "latent_identity_weight": 0.0,
        "latent_pose_weight": 0.0,
    }
    batch = FaceBatch(images=torch.rand(4, 2, 3, 32, 32))
    for weight in (1.0, 0.0):
        method = build(
            complete_representation_share=0.0, pose_scene_adversary_weight=weight, **zero
        )
        before = {
            n: snapshot(getattr(method, n))
            for n in ("pose_encoder", "identity_encoder", "generator")
        }
        scene_before = snapshot(method.scene_discriminator) if weight else None
        logs = method.training_step(batch, step=0)
        assert changed(method.pose_encoder, before["pose_encoder"]) is bool(weight)
        assert not changed(method.identity_encoder, before["identity_encoder"])
        assert not changed(method.generator, before["generator"])
        if weight:
            assert changed(method.scene_discriminator, scene_before)
            assert logs["scene_adversarial"] > 0 and logs["scene_discriminator"] > 0
    method = scene_method(complete_representation_share=1.0)
    scene_before = snapshot(method.scene_discriminator)
    logs = method.training_step(batch, step=0)
    assert not changed(method.scene_discriminator, scene_before)
    assert logs["scene_discriminator"] == logs["scene_adversarial"] == 0.0


def test_a_killed_run_with_the_scene_discriminator_resumes_to_the_same_weights(tmp_path) -> None:
    """C and its optimizer are in the checkpoint: a run killed after step 3 and resumed
    ends with the uninterrupted run's weights, C's included."""
    toy_data = make_face_data(n_identities=6, per_identity=8, resolution=32)
    config = SPEC.resolved_config(
        "smoke", {"steps": 6, "batch_size": 4, "pose_scene_adversary_weight": 0.5}
    )
    settings = TrainSettings(device="cpu", checkpoint_every=2)
    train(SPEC, config, toy_data, tmp_path / "straight", seed=0, settings=settings)
    run = tmp_path / "killed"
    train_until_killed(SPEC, config, toy_data, run, kill_at=3, seed=0, settings=settings)
    assert "scene" in load_checkpoint(run / "checkpoints/last.pt")["optimizers"]
    train(SPEC, config, toy_data, run, seed=0, settings=settings)
    straight = final_weights(tmp_path / "straight")
    assert any(key.startswith("scene_discriminator.") for key in straight)
    assert_same_weights(straight, final_weights(run))


def test_standardised_grey_matches_a_numpy_reference_and_drops_colour() -> None:
    """README "Deviations" 13: E_p's grey input is the channel mean, standardised per image
    (numpy's mean and ddof-1 std on the same pixels); any per-image gain and offset shared
    by the channels, and any channel permutation, leave it unchanged."""
    grey_of = MODEL.standardised_grey
    torch.manual_seed(0)
    x = torch.rand(5, 3, 16, 16, dtype=torch.float64) * 2 - 1
    out = grey_of(x)
    reference = []
    for image in x.numpy():
        g = image.mean(axis=0)
        reference.append((g - g.mean()) / g.std(ddof=1))
    assert out.shape == (5, 1, 16, 16)
    assert torch.allclose(out[:, 0], torch.tensor(np.stack(reference)), atol=1e-10)
    gain = torch.rand(5, 1, 1, 1, dtype=torch.float64) + 0.2
    offset = torch.rand(5, 1, 1, 1, dtype=torch.float64) - 0.5
    assert torch.allclose(grey_of(x * gain + offset), out, atol=1e-9)
    assert torch.allclose(grey_of(x[:, [2, 0, 1]]), out, atol=1e-12)
    flat = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    assert torch.isfinite(grey_of(flat)).all() and grey_of(flat).abs().max() == 0


@pytest.mark.parametrize("grey", [True, False])
def test_grey_pose_encoder_reads_layout_not_colour_in_training_and_transfer(grey) -> None:
    """With ``pose_grey`` E_p's code (encode, transfer, and the training step's E_p(x_b))
    is the same for a recoloured image (channels permuted, gain and offset); without it,
    it is not. The first layer then has one input channel."""
    method = build(pose_grey=grey, pose_colour_mix=False).eval()
    assert method.pose_encoder.trunk.stem.in_channels == (1 if grey else 3)
    images = torch.rand(3, 3, 32, 32) * 0.5 + 0.25
    recoloured = images[:, [1, 2, 0]] * 0.8 + 0.1
    with torch.no_grad():
        codes = method.encode(images)["pose"], method.encode(recoloured)["pose"]
        sources = torch.rand(3, 1, 3, 32, 32)
        driven = [method.transfer(sources, Driver(image=d)) for d in (images, recoloured)]
    assert torch.allclose(*codes, atol=1e-5) is grey
    assert torch.allclose(*driven, atol=1e-5) is grey
    method.train()
    seen = []
    method.pose_encoder.trunk.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    method.config["complete_representation_share"] = 0.0
    batch = torch.stack([torch.rand(3, 3, 32, 32), images], dim=1)
    method.training_step(FaceBatch(images=batch), step=0)
    if grey:  # E_p(x_b): the trunk's input is x_b's standardised grey image
        assert torch.allclose(seen[0], MODEL.standardised_grey(images * 2 - 1), atol=1e-6)


@pytest.mark.parametrize("detach", [False, True])
def test_latent_identity_target_is_detached_only_when_configured(detach) -> None:
    """README "Deviations" 14: MUNIT's target E_id(x_a) takes the term's gradient (shrinking
    every identity code lowers it); ``latent_identity_detach`` stops it there. The gradient
    on the identity code differs between the two by exactly the target's share,
    -sign(E_id(G(c, z_p)) - c) / numel."""
    method = build(latent_identity_detach=detach)
    identity = torch.randn(2, method.identity_dim, requires_grad=True)
    z_p = torch.randn(2, method.pose_dim)
    latent_identity, _ = method.latent_reconstruction(identity, z_p)
    (grad,) = torch.autograd.grad(latent_identity, identity)
    with torch.no_grad():
        encoded = method.identity_encoder(method.generator(identity, z_p))
    through_target = -torch.sign(encoded - identity) / identity.numel()
    # the path through G alone: the same term with the target a constant
    method.config["latent_identity_detach"] = True
    constant, _ = method.latent_reconstruction(identity, z_p)
    (through_g,) = torch.autograd.grad(constant, identity)
    expected = through_g if detach else through_g + through_target
    assert torch.allclose(grad, expected, atol=1e-7)
    assert not torch.allclose(through_target, torch.zeros_like(through_target))


def test_a_config_from_before_the_grey_and_detach_keys_builds_without_them() -> None:
    """Checkpoints from before ``pose_grey`` and ``latent_identity_detach`` used neither."""
    config = SPEC.resolved_config("smoke")
    del config["pose_grey"], config["latent_identity_detach"]
    method = SPEC.cls(config, INFO)
    assert method.pose_encoder.grey is False and method.pose_encoder.trunk.stem.in_channels == 3
    paper = SPEC.resolved_config("paper")
    assert paper["pose_grey"] is False and paper["latent_identity_detach"] is False
