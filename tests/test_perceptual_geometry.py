"""synth-geometry: the perceptual backbone trained on no evaluator's objective and no dataset's people."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.data import synthfaces
from bench.data.prepare import identity_seed
from bench.errors import CheckpointError
from bench.evaluators import synth_geometry
from bench.evaluators.synth_geometry import (
    N_LANDMARKS,
    OUTPUT_DIM,
    SEED_OFFSET,
    geometry_loss,
    identity_seeds,
    load_geometry_trunk,
    render_settings,
    train_geometry_backbone,
)
from bench.perceptual import build_perceptual

TINY = {"steps": 3, "batch_size": 4, "identities": 3, "scenes_per_identity": 2}
TINY_RENDER = {"resolution": 32, "supersample": 1, "shape_gain": 1.0}


def _train(path, **overrides):
    settings = {**TINY, "validation_identities": 2, **overrides}
    return train_geometry_backbone(path, settings, TINY_RENDER)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("geometry") / "synth-geometry.pt"
    return path, _train(path)


def test_backbone_trains_a_few_steps_and_loads_as_a_frozen_perceptual_loss(trained):
    path, quality = trained
    assert {"landmark_error_pixels", "expression_mae", "light_direction_error_degrees"} <= set(
        quality
    )
    loss = build_perceptual({"backbone": "synth-geometry", "weights_path": str(path)})
    assert loss.name == "synth-geometry" and loss.source == str(path)
    assert loss.layer_weights == (0.25, 0.5, 1.0)  # 32 px: three stride-2 stages
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert [f.shape[-1] for f in loss.features(x)] == [16, 8, 4]
    owner = torch.nn.Module()
    owner.perceptual = loss
    assert not list(owner.parameters()) and not owner.state_dict()
    assert all(not p.requires_grad for block in loss._slices for p in block.parameters())


def test_trained_features_are_the_checkpoints_weights(trained):
    path, _ = trained
    net, state = load_geometry_trunk(path)
    loss = build_perceptual({"backbone": "synth-geometry", "weights_path": str(path)})
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.equal(loss.features(x)[-1], net.features(x * 2 - 1))
    assert state["render"] == TINY_RENDER and state["settings"]["steps"] == TINY["steps"]


def test_same_seed_writes_byte_identical_weights_and_another_seed_does_not(trained, tmp_path):
    path, _ = trained
    again = tmp_path / "synth-geometry.pt"  # same file name: torch.save names its archive after it
    _train(again)
    assert again.read_bytes() == path.read_bytes()
    other = tmp_path / "other" / "synth-geometry.pt"
    _train(other, seed=1)
    first = load_geometry_trunk(path)[1]["net"]
    second = load_geometry_trunk(other)[1]["net"]
    assert any(not torch.equal(first[k], second[k]) for k in first)


def test_checkpoint_is_read_with_weights_only(trained, monkeypatch):
    path, _ = trained
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    build_perceptual({"backbone": "synth-geometry", "weights_path": str(path)})
    load_geometry_trunk(path)
    assert calls == [True, True]


def test_foreign_checkpoint_is_refused(tmp_path):
    from bench.perceptual import save_random_weights

    oracle = save_random_weights("synth-oracle", tmp_path / "oracle.pt", 32)
    with pytest.raises(CheckpointError, match="not a synth-geometry checkpoint"):
        load_geometry_trunk(oracle)


def test_training_identity_seeds_are_disjoint_from_every_dataset_identity_seed(monkeypatch):
    # identity_seed is the first 32-bit word of a SeedSequence: always < 2**32.
    dataset_seeds = {identity_seed(s, i) for s in (0, 1, 2, 7, 12345) for i in range(1000)}
    assert max(dataset_seeds) < SEED_OFFSET
    ours = identity_seeds(0, 5000) + identity_seeds(1, 1000)
    assert min(ours) >= SEED_OFFSET
    assert not dataset_seeds & set(ours)
    # ...and the people actually rendered for training are those seeds.
    rendered = []
    real = synthfaces.Identity.from_seed.__func__

    def spy(cls, seed, shape_gain=1.0):
        rendered.append(seed)
        return real(cls, seed, shape_gain)

    monkeypatch.setattr(synthfaces.Identity, "from_seed", classmethod(spy))
    synth_geometry.render_set(identity_seeds(0, 3), 1, np.random.default_rng(0), TINY_RENDER)
    assert rendered == identity_seeds(0, 3)


def test_identity_seeds_are_a_function_of_the_seed():
    assert identity_seeds(0, 10) == identity_seeds(0, 20)[:10]
    assert identity_seeds(0, 10) != identity_seeds(1, 10)


def test_render_set_targets_are_the_renderers_landmarks_and_scene():
    images, targets, visible = synth_geometry.render_set(
        identity_seeds(3, 1), 1, np.random.default_rng(4), TINY_RENDER
    )
    scene = synthfaces.Scene.sample(np.random.default_rng(4))
    person = synthfaces.Identity.from_seed(identity_seeds(3, 1)[0])
    out = synthfaces.Renderer(32, supersample=1).render(person, scene)
    assert torch.equal(images[0], torch.from_numpy(out.image).permute(2, 0, 1))
    expected = out.landmarks.reshape(-1) / 32 * 2 - 1
    assert np.allclose(targets[0, : 2 * N_LANDMARKS].numpy(), expected, atol=1e-6)
    assert targets[0, 2 * N_LANDMARKS].item() == pytest.approx(scene.mouth_open)
    assert torch.equal(visible[0], torch.from_numpy(out.visible))


def test_invisible_landmarks_get_no_coordinate_gradient():
    output = torch.zeros(2, OUTPUT_DIM, requires_grad=True)
    targets = torch.rand(2, OUTPUT_DIM - N_LANDMARKS)
    visible = torch.ones(2, N_LANDMARKS, dtype=torch.bool)
    visible[:, :10] = False
    geometry_loss(output, targets, visible).backward()
    coordinates = output.grad[:, : 2 * N_LANDMARKS].view(2, N_LANDMARKS, 2)
    assert coordinates[:, :10].abs().sum() == 0
    assert coordinates[:, 10:].abs().sum() > 0


def test_render_settings_follow_the_prepared_dataset():
    meta = {"resolution": 48, "settings": {"supersample": 3, "shape_gain": 0.5, "seed": 9}}
    assert render_settings(meta) == {"resolution": 48, "supersample": 3, "shape_gain": 0.5}
    assert render_settings({"resolution": 64}) == {
        "resolution": 64,
        "supersample": 2,
        "shape_gain": 1.0,
    }


def test_command_line_trains_at_the_datasets_resolution(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.json").write_text(json.dumps({"resolution": 32, "settings": {"supersample": 1}}))
    out, quality = tmp_path / "g.pt", tmp_path / "g.json"
    settings = json.dumps({**TINY, "validation_identities": 1})
    code = synth_geometry.main(
        ["--data", str(data), "--params", settings, "--out", str(out), "--quality", str(quality)]
    )
    assert code == 0 and load_geometry_trunk(out)[1]["resolution"] == 32
    assert json.loads(quality.read_text())["train_seconds"] >= 0
    assert (
        synth_geometry.main(
            ["--data", str(tmp_path), "--params", "{}", "--out", "x", "--quality", "y"]
        )
        == 2
    )
