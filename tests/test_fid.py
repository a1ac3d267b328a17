"""FID and KID: the metric functions, the offline Inception extractor and the reference cache.

The real FID Inception weights cannot be downloaded here, so the extractor tests build a
seeded random network of the same architecture whose BatchNorm statistics are calibrated on
its own activations (a plainly random one collapses every image to nearly the same feature,
which would make any comparison pass), save it where pytorch-fid looks for its weights, and
check that ``python -m pytorch_fid`` and this harness agree on the same file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from bench.errors import EvaluatorUnavailable
from bench.evaluators.inception import (
    WEIGHTS_FILENAME,
    InceptionFeatures,
    calibrated_random_state_dict,
    hub_weights_path,
)
from bench.evaluators.reference_stats import (
    content_sha256,
    reference_features,
    reference_statistics,
)
from bench.metrics.fid import (
    SMALL_SAMPLE,
    feature_statistics,
    fid_label,
    frechet_distance,
    kid,
)

IMAGES_PER_FOLDER = 16
IMAGE_SIZE = 32


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A TORCH_HOME whose hub cache holds calibrated random FID-Inception weights (96 MB, removed after)."""
    home = tmp_path_factory.mktemp("torch_home")
    weights = home / "hub" / "checkpoints" / WEIGHTS_FILENAME
    weights.parent.mkdir(parents=True)
    torch.save(calibrated_random_state_dict(), weights)
    yield home
    weights.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def extractor(torch_home: Path) -> InceptionFeatures:
    """The harness extractor, finding the weights through the hub cache (TORCH_HOME)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(torch_home))
        assert hub_weights_path() == torch_home / "hub" / "checkpoints" / WEIGHTS_FILENAME
        return InceptionFeatures()


@pytest.fixture(scope="module")
def image_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two folders of 32x32 PNGs with different content: uniform noise and smooth colour ramps."""
    root = tmp_path_factory.mktemp("fid_images")
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (IMAGES_PER_FOLDER, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    ramp_y, ramp_x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / (IMAGE_SIZE - 1)
    slopes = rng.uniform(0.2, 1.0, (IMAGES_PER_FOLDER, 1, 1, 3, 2))
    ramps = (
        slopes[..., 0] * ramp_x[None, :, :, None] + slopes[..., 1] * ramp_y[None, :, :, None]
    ) / 2
    ramps = (ramps * 255).round().astype(np.uint8)
    folders = (root / "noise", root / "ramps")
    for folder, images in zip(folders, (noise, ramps), strict=True):
        folder.mkdir()
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"img_{i:03d}.png")
    return folders


def _read_folder(folder: Path) -> np.ndarray:
    """The folder's PNGs as uint8 [N, H, W, 3], sorted by name as pytorch-fid reads them."""
    return np.stack(
        [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]
    )


@pytest.fixture(scope="module")
def folder_features(
    extractor: InceptionFeatures, image_folders: tuple[Path, Path]
) -> tuple[np.ndarray, np.ndarray]:
    """Harness features of both folders (batch size 16)."""
    return tuple(extractor.features(_read_folder(f), batch_size=16) for f in image_folders)


def _pytorch_fid(torch_home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytorch_fid", *args]
        + ["--device", "cpu", "--num-workers", "0", "--batch-size", "10"],
        env={**os.environ, "TORCH_HOME": str(torch_home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_fid_matches_pytorch_fid_cli_on_the_same_weights(
    torch_home: Path,
    image_folders: tuple[Path, Path],
    folder_features: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
) -> None:
    """The CLI's own statistics equal ours; its FID equals ours whenever its sqrtm is stable.

    With 16 images and 2048-d features the covariances are rank 15, and pytorch-fid's
    ``scipy.linalg.sqrtm`` then sometimes returns an imaginary part above its 1e-3
    tolerance and raises (it depends on BLAS rounding, i.e. on threads and load). The
    harness computes the trace term from eigenvalues and is not affected. So the
    statistics are compared always, and the FID value whenever the CLI produces one.
    """
    features_a, features_b = folder_features
    ours = frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))
    assert ours > 1e-3, "different folders must give a clearly positive FID, or nothing is compared"
    for folder, features in zip(image_folders, folder_features, strict=True):
        stats = tmp_path / f"{folder.name}.npz"
        result = _pytorch_fid(torch_home, "--save-stats", str(folder), str(stats))
        assert result.returncode == 0, result.stderr[-2000:]
        mu, sigma = feature_statistics(features)
        reference = np.load(stats)
        np.testing.assert_allclose(mu, reference["mu"], rtol=1e-4, atol=1e-5)
        # float32 activations differ by batch composition (the CLI batches 10, we 16):
        # compare the covariance as a whole, relative Frobenius norm.
        difference = np.linalg.norm(sigma - reference["sigma"]) / np.linalg.norm(reference["sigma"])
        assert difference < 1e-3, difference
    result = _pytorch_fid(torch_home, *map(str, image_folders))
    if result.returncode != 0 and "Imaginary component" in result.stderr:
        pytest.skip(
            "pytorch-fid's scipy.linalg.sqrtm raised on these rank-15 covariances (an imaginary "
            "part above its 1e-3 tolerance), so the reference FID could not be computed; the "
            "statistics above were compared"
        )
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r"FID:\s+(\S+)", result.stdout)
    assert match, result.stdout
    assert ours == pytest.approx(float(match.group(1)), rel=1e-3)


def test_features_of_different_folders_are_not_collapsed(
    folder_features: tuple[np.ndarray, np.ndarray],
) -> None:
    features_a, features_b = folder_features
    assert features_a.shape == (IMAGES_PER_FOLDER, 2048) and features_a.dtype == np.float64
    assert features_a.std(axis=0).mean() > 1e-3
    assert np.abs(features_a.mean(axis=0) - features_b.mean(axis=0)).mean() > 1e-3


def test_features_do_not_depend_on_batch_size(
    extractor: InceptionFeatures,
    image_folders: tuple[Path, Path],
    folder_features: tuple[np.ndarray, np.ndarray],
) -> None:
    first_eleven = _read_folder(image_folders[0])[:11]  # batches of 5, 5 and 1 against one of 16
    in_fives = extractor.features(first_eleven, batch_size=5)
    np.testing.assert_allclose(in_fives, folder_features[0][:11], rtol=1e-5, atol=1e-5)


def test_extractor_runs_in_eval_mode_and_records_the_weights(
    extractor: InceptionFeatures, torch_home: Path
) -> None:
    assert extractor.name == "inception-v3-pool3"
    assert not any(module.training for module in extractor.model.modules())
    assert re.fullmatch(r"[0-9a-f]{64}", extractor.weights_sha256)
    assert extractor.weights_path == torch_home / "hub" / "checkpoints" / WEIGHTS_FILENAME


def test_explicit_weights_path_is_used_before_the_hub_cache(
    torch_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_home"))
    weights = torch_home / "hub" / "checkpoints" / WEIGHTS_FILENAME
    explicit = InceptionFeatures(weights_path=weights)
    assert explicit.weights_path == weights


def test_features_reject_float_images(extractor: InceptionFeatures) -> None:
    with pytest.raises(ValueError, match="uint8"):
        extractor.features(np.zeros((2, 32, 32, 3), dtype=np.float32))


def test_missing_hub_weights_raise_evaluator_unavailable_naming_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILENAME
    with pytest.raises(EvaluatorUnavailable, match=re.escape(str(expected))) as error:
        InceptionFeatures()
    assert "\n" not in str(error.value)


def test_missing_explicit_weights_raise_evaluator_unavailable_naming_the_path(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere" / WEIGHTS_FILENAME
    with pytest.raises(EvaluatorUnavailable, match=re.escape(str(missing))):
        InceptionFeatures(weights_path=missing)


def test_fid_of_a_set_with_itself_is_zero() -> None:
    features = np.random.default_rng(0).normal(size=(500, 64)) * 3 + 1
    mu, sigma = feature_statistics(features)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def _random_spd(rng: np.random.Generator, dims: int) -> np.ndarray:
    """A random symmetric positive definite matrix with a spread of eigenvalues."""
    basis = rng.normal(size=(dims, dims))
    return basis @ basis.T / dims + 0.05 * np.eye(dims)


def test_frechet_distance_matches_direct_sqrtm_computation() -> None:
    rng = np.random.default_rng(1)
    for dims in (3, 32, 128):
        mu1, mu2 = rng.normal(size=dims), rng.normal(size=dims)
        sigma1, sigma2 = _random_spd(rng, dims), _random_spd(rng, dims)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
        direct = (mu1 - mu2) @ (mu1 - mu2) + np.trace(sigma1 + sigma2 - 2 * covmean)
        assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(
            direct, rel=1e-6, abs=1e-6
        )


def test_frechet_distance_equals_pytorch_fids_own_function_on_full_rank_statistics() -> None:
    """The reference package's ``calculate_frechet_distance`` on the same full-rank
    statistics (the CLI test above can only compare its value when its sqrtm is stable)."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(2)
    for dims in (16, 64, 256):
        mu1, mu2 = rng.normal(size=dims), rng.normal(size=dims)
        sigma1, sigma2 = _random_spd(rng, dims), _random_spd(rng, dims)
        reference = calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
        assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(reference, rel=1e-6)


def test_frechet_distance_of_shifted_means_is_the_squared_shift() -> None:
    sigma = _random_spd(np.random.default_rng(2), 16)
    shift = np.full(16, 0.5)
    assert frechet_distance(np.zeros(16), sigma, shift, sigma) == pytest.approx(16 * 0.25, abs=1e-8)


def test_frechet_distance_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="same length"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_feature_statistics_needs_two_rows() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(np.zeros((1, 8)))


def test_kid_of_a_set_with_itself_is_near_zero_and_positive_when_shifted() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(400, 32))
    same_distribution = rng.normal(size=(400, 32))
    shifted = rng.normal(size=(400, 32)) + 0.5
    itself, _ = kid(features, features, subsets=20, subset_size=200)
    same_mean, same_std = kid(features, same_distribution, subsets=20, subset_size=200)
    shifted_mean, shifted_std = kid(features, shifted, subsets=20, subset_size=200)
    assert abs(itself) < 0.05 * shifted_mean  # rows shared by both subsets bias it by ~-2/N
    assert abs(same_mean) < 3 * same_std
    assert shifted_mean > 10 * shifted_std > 0


def test_kid_caps_the_subset_size_and_rejects_subsets_below_two() -> None:
    rng = np.random.default_rng(4)
    small, large = rng.normal(size=(30, 8)), rng.normal(size=(300, 8)) + 1
    assert kid(small, large, subsets=5, subset_size=1000)[0] > 0
    with pytest.raises(ValueError, match="at least 2 rows"):
        kid(small[:1], large)


def test_kid_is_reproducible_from_its_seed() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(100, 8)), rng.normal(size=(100, 8)) + 0.2
    assert kid(a, b, subsets=10, subset_size=50, seed=7) == kid(
        a, b, subsets=10, subset_size=50, seed=7
    )


def test_fid_label_marks_fewer_than_2048_samples_as_small() -> None:
    assert SMALL_SAMPLE == 2048
    assert fid_label(2047) == "small-sample"
    assert fid_label(2048) != "small-sample"


class CountingExtractor:
    """A cheap stand-in extractor: per-channel means and a few pixels, counting its calls."""

    name = "counting"
    weights_sha256 = "0" * 64

    def __init__(self) -> None:
        self.calls = 0

    def features(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        self.calls += 1
        flat = images.reshape(len(images), -1).astype(np.float64)
        return flat[:, :6] + flat.mean(axis=1, keepdims=True)


def _write_pngs(folder: Path, count: int, seed: int) -> None:
    """``count`` random 8x8 RGB PNGs under ``folder/sub``."""
    rng = np.random.default_rng(seed)
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / "sub" / f"{i:02d}.png")


KEY = {"dataset": "toy", "split": "test", "resolution": 8}


def test_reference_cache_hit_returns_identical_statistics_without_recomputing(
    tmp_path: Path,
) -> None:
    images, cache = tmp_path / "images", tmp_path / "reference"
    _write_pngs(images, 10, seed=0)
    extractor = CountingExtractor()
    mu1, sigma1, n1 = reference_statistics(images, extractor, cache, KEY)
    mu2, sigma2, n2 = reference_statistics(images, extractor, cache, KEY)
    assert extractor.calls == 1
    assert n1 == n2 == 10
    np.testing.assert_array_equal(mu1, mu2)
    np.testing.assert_array_equal(sigma1, sigma2)
    assert reference_features(images, extractor, cache, KEY).shape == (10, 6)
    assert extractor.calls == 1
    (entry,) = (cache / "toy").iterdir()
    assert re.fullmatch(r"counting-test-8-[0-9a-f]{8}\.npz", entry.name)


def test_changed_image_file_changes_the_key_and_recomputes(tmp_path: Path) -> None:
    images, cache = tmp_path / "images", tmp_path / "reference"
    _write_pngs(images, 6, seed=1)
    extractor = CountingExtractor()
    before = content_sha256(images)
    mu_before, _, _ = reference_statistics(images, extractor, cache, KEY)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(images / "sub" / "03.png")
    assert content_sha256(images) != before
    mu_after, _, _ = reference_statistics(images, extractor, cache, KEY)
    assert extractor.calls == 2
    assert not np.array_equal(mu_before, mu_after)
    assert len(list((cache / "toy").glob("*.npz"))) == 2


def test_reference_key_includes_extractor_weights_and_split(tmp_path: Path) -> None:
    array = np.random.default_rng(2).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    extractor = CountingExtractor()
    reference_statistics(array, extractor, tmp_path, KEY)
    reference_statistics(array, extractor, tmp_path, {**KEY, "split": "train"})
    extractor.weights_sha256 = "1" * 64
    reference_statistics(array, extractor, tmp_path, KEY)
    reference_statistics(array, extractor, tmp_path, KEY)
    assert extractor.calls == 3


def test_reference_statistics_need_dataset_split_and_resolution(tmp_path: Path) -> None:
    array = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="resolution"):
        reference_statistics(
            array, CountingExtractor(), tmp_path, {"dataset": "toy", "split": "test"}
        )


def test_weights_url_is_pytorch_fids_own():
    from pytorch_fid import inception as pytorch_fid_inception

    from bench.evaluators import inception

    assert inception.FID_WEIGHTS_URL == pytorch_fid_inception.FID_WEIGHTS_URL
