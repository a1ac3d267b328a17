"""The perceptual-loss component: named backbones, frozen, never downloaded."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.errors import CheckpointError, ConfigError
from bench.perceptual import (
    VGG19_URL,
    PerceptualWeightsMissing,
    build_perceptual,
    save_random_weights,
)


@pytest.fixture(scope="module")
def vgg19_weights(tmp_path_factory):
    return save_random_weights("vgg19", tmp_path_factory.mktemp("vgg") / "vgg19.pth", 32)


@pytest.fixture(scope="module")
def oracle_weights(tmp_path_factory):
    return save_random_weights("synth-oracle", tmp_path_factory.mktemp("oracle") / "o.pt", 32)


def _images(seed: int, n: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def geometry_weights(tmp_path_factory):
    return save_random_weights("synth-geometry", tmp_path_factory.mktemp("geometry") / "g.pt", 32)


@pytest.fixture(params=["vgg19", "synth-oracle", "synth-geometry"])
def loss(request, vgg19_weights, oracle_weights, geometry_weights):
    path = {"vgg19": vgg19_weights, "synth-oracle": oracle_weights}.get(
        request.param, geometry_weights
    )
    return build_perceptual(
        {"backbone": request.param, "weights_path": str(path), "layer_weights": None}
    )


def test_loss_is_zero_for_identical_images_and_positive_otherwise(loss):
    x, y = _images(0), _images(1)
    assert loss(x, x).item() == 0.0
    assert loss(x, y).item() > 0.0


def test_gradient_reaches_the_generated_image_but_not_the_backbone(loss):
    x = _images(0).requires_grad_(True)
    loss(x, _images(1)).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for block in loss._slices for p in block.parameters())


def test_backbone_stays_out_of_the_owners_parameters_state_dict_and_train_mode(loss):
    owner = nn.Module()
    owner.net = nn.Linear(2, 2)
    owner.perceptual = loss
    assert {name for name, _ in owner.named_parameters()} == {"net.weight", "net.bias"}
    assert set(owner.state_dict()) == {"net.weight", "net.bias"}
    owner.train()
    assert all(not block.training for block in loss._slices)
    owner.to(torch.float64)  # .to() still moves the backbone
    assert loss(_images(0).double(), _images(1).double()).dtype == torch.float64


def test_layers_and_weights(vgg19_weights, oracle_weights):
    vgg = build_perceptual({"backbone": "vgg19", "weights_path": str(vgg19_weights)})
    assert vgg.name == "vgg19"
    assert vgg.layer_weights == (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)
    channels = [f.shape[1] for f in vgg.features(_images(0))]
    assert channels == [64, 128, 256, 512, 512]  # relu1_1 .. relu5_1
    oracle = build_perceptual({"backbone": "synth-oracle", "weights_path": str(oracle_weights)})
    assert oracle.name == "synth-oracle"
    assert oracle.layer_weights == (0.25, 0.5, 1.0)  # 32x32: three stride-2 stages
    assert [f.shape[-1] for f in oracle.features(_images(0))] == [16, 8, 4]


def test_layer_weights_are_configurable_and_checked(vgg19_weights):
    spec = {"backbone": "vgg19", "weights_path": str(vgg19_weights)}
    assert build_perceptual({**spec, "layer_weights": [1, 1, 1, 1, 1]}).layer_weights == (1.0,) * 5
    with pytest.raises(ConfigError, match="5 layers"):
        build_perceptual({**spec, "layer_weights": [1, 1]})


def test_vgg19_weights_come_from_torch_hub_cache(vgg19_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(vgg19_weights.read_bytes())
    assert build_perceptual({"backbone": "vgg19", "weights_path": None}).source == str(cached)


def test_missing_vgg19_weights_name_path_key_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(PerceptualWeightsMissing) as error:
        build_perceptual({"backbone": "vgg19", "weights_path": None})
    message = str(error.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "perceptual.weights_path" in message and VGG19_URL in message
    with pytest.raises(PerceptualWeightsMissing, match="nowhere.pth"):
        build_perceptual({"backbone": "vgg19", "weights_path": str(tmp_path / "nowhere.pth")})


def test_missing_oracle_weights_name_the_config_key():
    with pytest.raises(PerceptualWeightsMissing, match="evaluators.synth_oracle.perceptual"):
        build_perceptual({"backbone": "synth-oracle", "weights_path": None})


def test_missing_geometry_weights_name_the_path_and_config_key(tmp_path):
    with pytest.raises(PerceptualWeightsMissing, match="evaluators.synth_geometry"):
        build_perceptual({"backbone": "synth-geometry", "weights_path": None})
    with pytest.raises(PerceptualWeightsMissing, match="nowhere.pt"):
        build_perceptual(
            {"backbone": "synth-geometry", "weights_path": str(tmp_path / "nowhere.pt")}
        )


def test_per_pair_distances_average_to_the_loss(loss):
    x, y = _images(0, n=4), _images(1, n=4)
    distances = loss.distances(x, y)
    assert distances.shape == (4,) and bool((distances > 0).all())
    assert torch.allclose(distances.mean(), loss(x, y), rtol=1e-5)


def test_bad_specs_and_foreign_files_are_errors(tmp_path, oracle_weights, vgg19_weights):
    with pytest.raises(ConfigError, match="not one of"):
        build_perceptual({"backbone": "alexnet"})
    with pytest.raises(ConfigError, match="unknown key"):
        build_perceptual({"backbone": "vgg19", "weight": 10})
    with pytest.raises(CheckpointError, match="VGG19"):
        build_perceptual({"backbone": "vgg19", "weights_path": str(oracle_weights)})
    with pytest.raises(CheckpointError, match="synth-oracle-identity"):
        build_perceptual({"backbone": "synth-oracle", "weights_path": str(vgg19_weights)})
    with pytest.raises(CheckpointError, match="not a synth-geometry checkpoint"):
        build_perceptual({"backbone": "synth-geometry", "weights_path": str(oracle_weights)})
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        build_perceptual({"backbone": "synth-oracle", "weights_path": str(corrupt)})


def test_random_weights_do_not_touch_the_global_seed(tmp_path):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    save_random_weights("synth-oracle", tmp_path / "o.pt", 32)
    assert torch.equal(torch.rand(3), expected)
