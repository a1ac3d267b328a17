"""FVD: I3D weights read from generated files (TorchScript and a pytorch-i3d state dict),
the n/a path, the preprocessing against an independent numpy resize, and the Fréchet part
against pytorch-fid's ``calculate_frechet_distance``.

The real I3D weights cannot be downloaded here, so the TorchScript tests save a small
scripted network with the same ``forward(x, rescale, resize, return_features)`` signature
and [N, 400] output, and the state-dict tests a seeded random :class:`InceptionI3d`.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from bench.errors import EvaluatorUnavailable
from bench.evaluators.i3d import (
    CONFIG_KEY,
    FEATURE_DIM,
    MIN_FRAMES,
    STATE_DICT_FILENAME,
    TORCHSCRIPT_FILENAME,
    I3DFeatures,
    InceptionI3d,
    load_i3d,
    preprocess_videos,
    weights_format,
)
from bench.metrics.fvd import fvd, fvd_from_features
from bench.score import validate_row

ROW = {"protocol": "sequence", "kind": "self", "k": 1}


class TinyVideoNet(nn.Module):
    """A scripted stand-in for StyleGAN-V's i3d_torchscript.pt: same call, [N, 400] out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 16, kernel_size=(3, 16, 16), stride=(2, 16, 16))
        self.head = nn.Linear(16, FEATURE_DIM)

    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
        return_features: bool = False,
    ) -> torch.Tensor:  # fmt: skip
        if rescale or resize or not return_features:
            raise RuntimeError("the harness must call rescale=False, resize=False, features")
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))


class NotI3D(nn.Module):
    """The same call signature, but 10 outputs instead of 400 logits."""

    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
        return_features: bool = False,
    ) -> torch.Tensor:  # fmt: skip
        return x.mean(dim=(2, 3, 4)).repeat(1, 4)[:, :10]


class PlainCall(nn.Module):
    """A network without the I3D TorchScript's keyword arguments."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :400]


def _script(module: nn.Module, path: Path) -> Path:
    torch.manual_seed(0)
    torch.jit.save(torch.jit.script(module.eval()), str(path))
    return path


@pytest.fixture(scope="module")
def torchscript_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    network = TinyVideoNet()
    return _script(network, tmp_path_factory.mktemp("i3d") / TORCHSCRIPT_FILENAME)


def _videos(n: int, frames: int = 16, side: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth moving colour blobs (uint8 [n, frames, side, side, 3]), varied per clip."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, side)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    clips = np.empty((n, frames, side, side, 3), dtype=np.uint8)
    for i in range(n):
        centre, speed, colour = (
            rng.uniform(-0.5, 0.5, 2),
            rng.uniform(-0.05, 0.05, 2),
            rng.uniform(0, 255, 3),
        )
        for t in range(frames):
            cy, cx = centre + speed * t
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.1)[..., None]
            clips[i, t] = np.clip(blob * colour + (1 - blob) * 40, 0, 255).astype(np.uint8)
    return clips


def _numpy_bilinear_axis(
    length_in: int, length_out: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-pixel-centre linear sampling of one axis: lower index, upper index, weight."""
    source = (np.arange(length_out) + 0.5) * length_in / length_out - 0.5
    source = np.maximum(source, 0.0)
    lower = np.floor(source).astype(int)
    upper = np.minimum(lower + 1, length_in - 1)
    return lower, upper, source - lower


def _numpy_preprocess(videos: np.ndarray, frames: int, side: int = 224) -> np.ndarray:
    """The reference's preprocessing in numpy: bilinear resize of [0, 255] frames, 2x/255-1,
    laid out [N, 3, T, side, side]."""
    clips = videos[:, :frames].astype(np.float64)
    y0, y1, wy = _numpy_bilinear_axis(clips.shape[2], side)
    x0, x1, wx = _numpy_bilinear_axis(clips.shape[3], side)
    rows = clips[:, :, y0] * (1 - wy)[:, None, None] + clips[:, :, y1] * wy[:, None, None]
    out = rows[:, :, :, x0] * (1 - wx)[:, None] + rows[:, :, :, x1] * wx[:, None]
    return (2 * out / 255 - 1).transpose(0, 4, 1, 2, 3)


def test_preprocessing_equals_a_numpy_bilinear_resize_and_range() -> None:
    videos = np.random.default_rng(1).integers(0, 256, (2, 11, 40, 56, 3), dtype=np.uint8)
    ours = preprocess_videos(videos, num_frames=MIN_FRAMES).numpy()
    assert ours.shape == (2, 3, MIN_FRAMES, 224, 224)
    np.testing.assert_allclose(ours, _numpy_preprocess(videos, MIN_FRAMES), atol=2e-5)
    # and equal to a trilinear resize of the clip that keeps T (a 3-D resize of [N,3,T,H,W])
    clip = torch.from_numpy(videos[:, :MIN_FRAMES]).permute(0, 4, 1, 2, 3).float()
    trilinear = F.interpolate(clip, size=(MIN_FRAMES, 224, 224), mode="trilinear") / 127.5 - 1
    np.testing.assert_allclose(ours, trilinear.numpy(), atol=2e-5)


def test_preprocessing_of_224_frames_is_only_the_range_map() -> None:
    videos = np.random.default_rng(2).integers(0, 256, (1, 9, 224, 224, 3), dtype=np.uint8)
    ours = preprocess_videos(videos, num_frames=9).numpy()
    expected = (videos.astype(np.float64) * 2 / 255 - 1).transpose(0, 4, 1, 2, 3)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert ours.min() == pytest.approx(-1, abs=0.01) and ours.max() == pytest.approx(1, abs=0.01)


def test_short_clips_and_too_few_frames_are_errors_naming_the_length() -> None:
    with pytest.raises(ValueError, match="these clips have 8 frames"):
        preprocess_videos(np.zeros((2, 8, 32, 32, 3), np.uint8), num_frames=16)
    with pytest.raises(ValueError, match=f"at least {MIN_FRAMES} frames, asked for 8"):
        preprocess_videos(np.zeros((2, 20, 32, 32, 3), np.uint8), num_frames=8)
    with pytest.raises(ValueError, match="uint8"):
        preprocess_videos(np.zeros((2, 16, 32, 32, 3), np.float32))


def test_fvd_of_clips_shorter_than_the_frames_asked_is_na_naming_the_lengths(
    torchscript_file: Path,
) -> None:
    row = fvd(_videos(4, frames=16), _videos(4, frames=12), torchscript_file, **ROW)
    assert math.isnan(row.value)
    assert row.na_reason == (
        "fvd scores the first 16 frames of each clip; the real clips have 16 frames, "
        "the generated 12"
    )
    validate_row(row.to_row())
    twelve = fvd(
        _videos(4, 12, seed=1), _videos(4, 12, seed=2), torchscript_file, num_frames=12, **ROW
    )
    assert twelve.value > 0 and twelve.metric.endswith("/12f-224px]")
    with pytest.raises(ValueError, match="at least 9 frames"):
        fvd(_videos(4, 12), _videos(4, 12), torchscript_file, num_frames=8, **ROW)


def test_torchscript_file_loads_and_gives_the_network_output_on_the_preprocessed_clips(
    torchscript_file: Path,
) -> None:
    extractor = I3DFeatures(torchscript_file)
    assert weights_format(torchscript_file) == "torchscript" and extractor.variant == "torchscript"
    assert extractor.evaluator() == "i3d-k400-tfhub-torchscript/logits400/16f-224px"
    videos = _videos(3, frames=18)
    features = extractor.features(videos, batch_size=2)
    assert features.shape == (3, FEATURE_DIM) and features.dtype == np.float64
    network = torch.jit.load(str(torchscript_file))
    reference_input = torch.from_numpy(_numpy_preprocess(videos, 16)).float()
    kwargs = {"rescale": False, "resize": False, "return_features": True}
    expected = network(reference_input, **kwargs).double().detach().numpy()
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_features_do_not_depend_on_the_batch_size(torchscript_file: Path) -> None:
    extractor = I3DFeatures(torchscript_file)
    videos = _videos(5, seed=9)
    one_by_one = extractor.features(videos, batch_size=1)
    np.testing.assert_allclose(extractor.features(videos, batch_size=3), one_by_one, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        extractor.features(videos, batch_size=0)


def test_state_dict_file_loads_strictly_into_inception_i3d(tmp_path: Path) -> None:
    torch.manual_seed(3)
    network = InceptionI3d().eval()
    state = network.state_dict()
    # pytorch-i3d's names and shapes (pytorch_i3d.py: Unit3D conv3d/bn, b0..b3b, logits)
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert state["Mixed_4f.b2b.conv3d.weight"].shape == (128, 32, 3, 3, 3)
    assert state["Mixed_5c.b1b.bn.running_var"].shape == (384,)
    assert state["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1)
    assert "logits.conv3d.bias" in state and "Conv3d_1a_7x7.conv3d.bias" not in state
    path = tmp_path / STATE_DICT_FILENAME
    torch.save(state, path)
    extractor = I3DFeatures(path)
    assert weights_format(path) == "state_dict"
    assert extractor.evaluator(9) == "i3d-k400-imagenet-pytorch-i3d/logits400/9f-224px"
    for key, value in extractor.model.state_dict().items():
        assert torch.equal(value, state[key]), key
    clip = _videos(1, frames=MIN_FRAMES)
    features = extractor.features(clip, num_frames=MIN_FRAMES)
    assert features.shape == (1, FEATURE_DIM) and np.isfinite(features).all()
    with torch.inference_mode():
        direct = network(preprocess_videos(clip, MIN_FRAMES)).double().numpy()
    np.testing.assert_allclose(features, direct, rtol=1e-5, atol=1e-6)


def test_a_legacy_state_dict_without_batchnorm_counters_loads(tmp_path: Path) -> None:
    """pytorch-i3d's rgb_imagenet.pt predates torch.save's zip format and BatchNorm's
    num_batches_tracked; such a file loads (weights_only, strict) to the same weights."""
    state = {
        key: value
        for key, value in InceptionI3d().state_dict().items()
        if not key.endswith("num_batches_tracked")
    }
    path = tmp_path / STATE_DICT_FILENAME
    torch.save(state, path, _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(path) and weights_format(path) == "state_dict"
    loaded = I3DFeatures(path).model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in state.items())


def test_missing_weights_give_an_na_row_naming_the_file_and_the_key(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / TORCHSCRIPT_FILENAME
    videos = _videos(4)
    row = fvd(videos, videos, missing, **ROW)
    assert math.isnan(row.value) and str(missing) in row.na_reason and CONFIG_KEY in row.na_reason
    assert row.metric == "fvd[i3d-k400-tfhub-torchscript/logits400/16f-224px]"
    validate_row(row.to_row())


def test_no_configured_path_and_an_empty_hub_cache_names_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    error = load_i3d(None)
    assert isinstance(error, EvaluatorUnavailable)
    checkpoints = tmp_path / "hub" / "checkpoints"
    for name in (TORCHSCRIPT_FILENAME, STATE_DICT_FILENAME):
        assert str(checkpoints / name) in str(error)
    assert CONFIG_KEY in str(error)


def test_hub_cache_file_is_found_without_a_configured_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torchscript_file: Path
) -> None:
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / TORCHSCRIPT_FILENAME).write_bytes(torchscript_file.read_bytes())
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert load_i3d(None).weights_path == checkpoints / TORCHSCRIPT_FILENAME


@pytest.mark.parametrize("case", ["ten_outputs", "plain_call", "other_state_dict", "garbage"])
def test_a_checkpoint_that_is_not_i3d_is_an_error_naming_the_file(
    tmp_path: Path, case: str
) -> None:
    path = tmp_path / f"{case}.pt"
    if case == "ten_outputs":
        _script(NotI3D(), path)
    elif case == "plain_call":
        _script(PlainCall(), path)
    elif case == "other_state_dict":
        torch.save(nn.Linear(4, 2).state_dict(), path)
    else:
        path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(EvaluatorUnavailable, match=str(path).replace(".", r"\.")):
        I3DFeatures(path)


def test_fvd_of_a_set_with_itself_is_zero_and_grows_with_a_perturbation(
    torchscript_file: Path,
) -> None:
    extractor = I3DFeatures(torchscript_file)
    real = _videos(24, seed=4)
    spread = np.trace(np.cov(extractor.features(real), rowvar=False))
    scores = []
    for brightness in (0, 5, 20, 60):
        fake = np.clip(real.astype(np.int16) + brightness, 0, 255).astype(np.uint8)
        scores.append(fvd(real, fake, extractor=extractor, **ROW))
    values = [score.value for score in scores]
    assert abs(values[0]) < 1e-5 * spread
    assert 0 < values[1] < values[2] < values[3]
    noisy = np.clip(real + np.random.default_rng(5).normal(0, 40, real.shape), 0, 255)
    assert fvd(real, noisy.astype(np.uint8), extractor=extractor, **ROW).value > 1e-3 * spread
    row = scores[3].to_row()
    validate_row(row)
    assert row["higher_is_better"] is False and row["evaluator"] == "i3d-k400-tfhub-torchscript"
    assert row["weights_sha256"] == extractor.weights_sha256 and row["num_frames"] == 16
    assert row["n"] == 24 and row["n_reference"] == 24 and row["sample_label"] == "small-sample"


def test_fvd_is_the_frechet_distance_of_the_extractor_features(torchscript_file: Path) -> None:
    extractor = I3DFeatures(torchscript_file)
    real, fake = _videos(20, seed=6), _videos(20, seed=7)
    score = fvd(real, fake, torchscript_file, **ROW)
    expected = fvd_from_features(extractor.features(real), extractor.features(fake))
    assert score.value == pytest.approx(expected, rel=1e-9)


def test_frechet_part_equals_pytorch_fid_on_the_same_features() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(8)
    mixing = rng.normal(size=(FEATURE_DIM, FEATURE_DIM)) / 20
    real = rng.normal(size=(600, FEATURE_DIM)) @ mixing
    fake = rng.normal(0.1, 1.2, size=(600, FEATURE_DIM)) @ mixing
    reference = calculate_frechet_distance(
        fake.mean(0), np.cov(fake, rowvar=False), real.mean(0), np.cov(real, rowvar=False)
    )
    assert fvd_from_features(real, fake) == pytest.approx(reference, rel=1e-6)
