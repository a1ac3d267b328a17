"""synth-identity (FSHM's VGGFace stand-in), the ``vggface`` backbone and FSHM's two-half L_CNT."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench.data.prepare import identity_seed
from bench.errors import CheckpointError, ConfigError
from bench.evaluators import synth_geometry, synth_identity
from bench.evaluators.synth_identity import (
    VGGStack,
    identity_seeds,
    load_identity_net,
    train_identity_backbone,
)
from bench.methods.registry import discover
from bench.perceptual import (
    VGGFACE_RGB_MEAN,
    PerceptualWeightsMissing,
    _vggface_features,
    build_perceptual,
    save_random_weights,
)
from bench.runtime import atomic_torch_save

RENDER = {"resolution": 32, "supersample": 1, "shape_gain": 1.0}
FEW = {
    "steps": 3,
    "batch_size": 8,
    "width": 4,
    "embedding_dim": 8,
    "identities": 4,
    "scenes_per_identity": 2,
    "validation_identities": 3,
}


def test_its_people_are_no_dataset_identity_and_not_synth_geometry_people():
    ours = identity_seeds(0, 2000)
    assert min(ours) >= 2**32 and len(set(ours)) == len(ours)
    datasets = {identity_seed(dataset_seed, i) for dataset_seed in range(4) for i in range(500)}
    assert max(datasets) < 2**32 and not datasets & set(ours)
    geometry = set(synth_geometry.identity_seeds(0, 2000)) | set(
        synth_geometry.identity_seeds(1, 2000)
    )
    assert not geometry & set(ours)
    assert synth_identity.IDENTITY_KEY != synth_geometry.GEOMETRY_KEY


def test_same_seed_gives_byte_identical_weights(tmp_path):
    paths = [tmp_path / name / "net.pt" for name in ("a", "b", "c")]  # torch.save stores the stem
    for path in paths:
        path.parent.mkdir()
    train_identity_backbone(paths[0], {**FEW, "seed": 0}, RENDER)
    train_identity_backbone(paths[1], {**FEW, "seed": 0}, RENDER)
    train_identity_backbone(paths[2], {**FEW, "seed": 1}, RENDER)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_trained_features_separate_held_out_people_better_than_random_init(tmp_path):
    settings = {
        **FEW,
        "steps": 150,
        "batch_size": 32,
        "width": 8,
        "embedding_dim": 32,
        "identities": 60,
        "scenes_per_identity": 5,
        "validation_identities": 30,
        "lr": 0.002,
    }
    quality = train_identity_backbone(tmp_path / "net.pt", settings, RENDER)
    trained = quality["verification"]["accuracy"]
    assert trained > quality["untrained_verification_accuracy"] + 0.1, quality
    assert quality["unseen_scene_accuracy"] > 2 / settings["identities"], quality


def test_vgg_stack_is_not_the_oracle_convtrunk():
    net = VGGStack(64, 16, 128)
    kinds = {type(m).__name__ for m in net.modules()}
    assert "BatchNorm2d" not in kinds and "MaxPool2d" in kinds
    assert [block[-2].out_channels for block in net.blocks] == [16, 32, 64, 128]
    assert all(
        m.stride == (1, 1) for m in net.modules() if isinstance(m, torch.nn.Conv2d)
    )  # VGG: stride-1 convolutions, pooling halves


def test_a_bad_weights_file_names_the_file(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_identity_net(garbage)
    with pytest.raises(CheckpointError, match="garbage.pt"):
        build_perceptual({"backbone": "synth-identity", "weights_path": str(garbage)})
    geometry = save_random_weights("synth-geometry", tmp_path / "geometry.pt", 32)
    with pytest.raises(CheckpointError, match="geometry.pt.*not a synth-identity"):
        load_identity_net(geometry)
    with pytest.raises(CheckpointError, match="geometry.pt.*not a synth-identity"):
        build_perceptual({"backbone": "synth-identity", "weights_path": str(geometry)})
    with pytest.raises(PerceptualWeightsMissing, match="evaluators.synth_identity"):
        build_perceptual({"backbone": "synth-identity", "weights_path": None})


def test_synth_identity_backbone_reads_every_block_of_the_trained_net(tmp_path):
    path = tmp_path / "net.pt"
    train_identity_backbone(path, FEW, RENDER)
    loss = build_perceptual({"backbone": "synth-identity", "weights_path": str(path)})
    assert loss.layer_weights == (0.25, 0.5, 1.0)  # three blocks at 32 px, deepest 1
    net, _ = load_identity_net(path)
    images = torch.rand(2, 3, 32, 32)
    assert torch.equal(loss.features(images)[-1], net.blocks(images * 2 - 1))


# --- vggface -------------------------------------------------------------------------------


def full_vgg16_state(tmp_path, seed: int = 0):
    """A random VGG-Face file as a conversion writes it: every VGG-16 conv and classifier key."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(seed)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    state["classifier.6.weight"] = torch.zeros(3, 4)  # fc8 (2,622 classes in the real file)
    path = tmp_path / "vggface.pt"
    torch.save(state, path)
    return path, state


def test_vggface_loads_a_converted_state_dict_and_uses_caffe_input(tmp_path):
    path, state = full_vgg16_state(tmp_path)
    loss = build_perceptual({"backbone": "vggface", "weights_path": str(path)})
    assert loss.layer_weights == (1.0,) * 5 and loss.name == "vggface"
    images = torch.rand(2, 3, 24, 24)
    # Independent reference: Caffe BGR 0-255 minus the mean, through conv1_1 and ReLU.
    mean = torch.tensor(VGGFACE_RGB_MEAN).view(1, 3, 1, 1)
    caffe = (images * 255 - mean).flip(1)
    reference = F.relu(
        F.conv2d(caffe, state["features.0.weight"], state["features.0.bias"], padding=1)
    )
    torch.testing.assert_close(loss.features(images)[0], reference, rtol=1e-5, atol=1e-3)
    assert [f.shape[1] for f in loss.features(images)] == [64, 128, 256, 512, 512]


def test_vggface_missing_or_wrong_file_errors_clearly(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(PerceptualWeightsMissing, match="nowhere.pth.*perceptual_identity"):
        build_perceptual({"backbone": "vggface", "weights_path": str(missing)})
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(PerceptualWeightsMissing, match="vggface-caffe.pth"):
        build_perceptual({"backbone": "vggface", "weights_path": None})
    vgg19 = save_random_weights("vgg19", tmp_path / "vgg19.pth", 32)  # VGG-19: other shapes
    with pytest.raises(CheckpointError, match="vgg19.pth.*VGG-Face"):
        build_perceptual({"backbone": "vggface", "weights_path": str(vgg19)})
    torch.save({"conv1_1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="other.pth.*conv1_1.weight"):
        build_perceptual({"backbone": "vggface", "weights_path": str(tmp_path / "other.pth")})
    path, state = full_vgg16_state(tmp_path)
    del state["features.17.bias"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"(?s)vggface.pt.*17.bias"):
        build_perceptual({"backbone": "vggface", "weights_path": str(path)})


def test_vggface_random_file_for_tests_has_the_features_layout(tmp_path):
    path = save_random_weights("vggface", tmp_path / "vggface.pth", 32)
    state = torch.load(path, weights_only=True)
    assert set(state) == {f"features.{k}" for k in _vggface_features().state_dict()}


# --- fshm ----------------------------------------------------------------------------------


def test_fshm_configs_select_both_halves_of_l_cnt():
    spec = discover().get("fshm")
    tiny, paper = spec.resolved_config("tiny"), spec.resolved_config("paper")
    assert tiny["perceptual"]["backbone"] == "synth-geometry"
    assert tiny["perceptual_identity"]["backbone"] == "synth-identity"
    assert paper["perceptual"]["backbone"] == "vgg19"
    assert paper["perceptual_identity"]["backbone"] == "vggface"
    # The paper's lambda_VGGFace / lambda_VGG19 = 2.5e-2 / 1.5e-1 on one input scale (tiny).
    ratio = tiny["identity_content_weight"] / tiny["content_weight"]
    assert ratio == pytest.approx(2.5e-2 / 1.5e-1, rel=1e-3)
    assert paper["identity_content_weight"] == 2.5e-2
    assert paper["content_weight"] == pytest.approx(1.5e-1 * 255)


def test_fshm_content_loss_has_two_weighted_perceptual_terms(tmp_path):
    from bench.data.index import PoseBins
    from bench.methods.api import DatasetInfo

    spec = discover().get("fshm")
    config = spec.resolved_config("smoke")
    for key in ("perceptual", "perceptual_identity"):
        path = save_random_weights(config[key]["backbone"], tmp_path / f"{key}.pt", 32)
        config[key] = {**config[key], "weights_path": str(path)}
    config = {**config, "content_weight": 3.0, "identity_content_weight": 0.5}
    bins = PoseBins(15.0)
    info = DatasetInfo(
        name="toy",
        resolution=32,
        n_identities=4,
        n_pose_bins=len(bins),
        pose_bin_edges=bins.edges,
        n_expressions=3,
    )
    method = spec.cls(config, info)
    assert method.perceptual.name == "synth-geometry"
    assert method.perceptual_identity.name == "synth-identity"
    fake, target = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    geometry, identity = method.content_loss(fake, target)
    x, y = (fake + 1) / 2, (target + 1) / 2
    torch.testing.assert_close(geometry, 3.0 * method.perceptual(x, y))
    torch.testing.assert_close(identity, 0.5 * method.perceptual_identity(x, y))
    assert float(identity) > 0
    assert not any(k.startswith("_perceptual") for k in method.state_dict())


def test_a_perceptual_attribute_must_name_its_config_section():
    from bench.perceptual import MethodPerceptualLoss

    with pytest.raises((ConfigError, RuntimeError)) as caught:  # 3.11 wraps it in RuntimeError

        class Owner:
            vggface = MethodPerceptualLoss()

    error = caught.value if isinstance(caught.value, ConfigError) else caught.value.__cause__
    assert isinstance(error, ConfigError) and "perceptual_identity" in str(error)


def test_weights_are_saved_and_loaded_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    atomic_torch_save({"format": 1, "method": "synth-identity", "x": object()}, path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_identity_net(path)


def test_the_dag_trains_synth_identity_only_for_a_method_that_selects_it(tmp_path):
    """fshm's train job waits for rule train_synth_identity and gets its weights as
    perceptual_identity.weights_path; a run without fshm never trains it (dry runs)."""
    import json
    import re
    import subprocess
    import sys

    from bench import REPO_ROOT

    def dry_run(methods: str) -> str:
        result = subprocess.run(
            [
                *(sys.executable, "-m", "snakemake", "-n", "-p"),
                *("--snakefile", str(REPO_ROOT / "workflow" / "Snakefile")),
                *("--configfiles", str(REPO_ROOT / "config/config.yaml")),
                *(str(REPO_ROOT / "config/smoke.yaml"), "--directory", str(tmp_path)),
                *("--config", f"methods=[{methods}]"),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    with_fshm = dry_run("copy_source,fshm")
    assert "rule train_synth_identity:" in with_fshm
    params = re.search(r"bench train --method fshm --seed 0 .*--params '(\{.*?\})'", with_fshm)
    method = json.loads(params.group(1))["method"]
    assert method["perceptual_identity"]["weights_path"].endswith("synth-identity.pt")
    assert method["perceptual"]["weights_path"].endswith("synth-geometry.pt")
    assert "rule train_synth_identity:" not in dry_run("copy_source,pose_ae")
