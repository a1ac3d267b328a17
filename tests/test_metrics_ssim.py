"""SSIM must equal skimage's Gaussian SSIM (population covariance, border cropped)."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from bench.metrics.ssim import SSIM_NAME, ssim


def skimage_ssim(images_a: np.ndarray, images_b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Reference: skimage on each [C,H,W] float64 image pair, channels last."""
    return np.array(
        [
            structural_similarity(
                image_a.transpose(1, 2, 0),
                image_b.transpose(1, 2, 0),
                data_range=data_range,
                channel_axis=2,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            for image_a, image_b in zip(images_a, images_b, strict=True)
        ]
    )


def random_pair(size: int, seed: int, count: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Random RGB images and a noisy copy, both in [0,1]."""
    rng = np.random.default_rng(seed)
    images_a = rng.random((count, 3, size, size))
    images_b = np.clip(images_a + rng.normal(0.0, 0.1, images_a.shape), 0.0, 1.0)
    return images_a, images_b


def structured_pair(size: int, count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Smooth gradients and stripes, and a shifted, contrast-changed copy."""
    y, x = np.mgrid[0:size, 0:size] / size
    images_a, images_b = [], []
    for index in range(count):
        phase = index * 0.7
        channels_a = [x, 0.5 + 0.5 * np.sin(8 * np.pi * (x + y) + phase), (x * y) ** 0.5]
        channels_b = [0.8 * x + 0.1, 0.5 + 0.4 * np.sin(8 * np.pi * (x + y) + phase + 0.3), y]
        images_a.append(np.stack(channels_a))
        images_b.append(np.stack(channels_b))
    return np.array(images_a), np.array(images_b)


@pytest.mark.parametrize("size", [64, 32])
def test_ssim_equals_skimage_on_random_rgb_images(size: int) -> None:
    images_a, images_b = random_pair(size, seed=size)
    ours = ssim(torch.from_numpy(images_a), torch.from_numpy(images_b)).numpy()
    np.testing.assert_allclose(ours, skimage_ssim(images_a, images_b), rtol=0, atol=1e-6)


@pytest.mark.parametrize("size", [64, 32])
def test_ssim_equals_skimage_on_structured_rgb_images(size: int) -> None:
    images_a, images_b = structured_pair(size)
    ours = ssim(torch.from_numpy(images_a), torch.from_numpy(images_b)).numpy()
    reference = skimage_ssim(images_a, images_b)
    assert np.all(reference < 0.99), "the structured pair should not be near-identical"
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


def test_ssim_equals_skimage_for_float32_input_and_other_data_range() -> None:
    images_a, images_b = random_pair(48, seed=3, count=3)
    ours = ssim(
        torch.from_numpy(images_a * 255).float(), torch.from_numpy(images_b * 255).float(), 255.0
    )
    reference = skimage_ssim(
        torch.from_numpy(images_a * 255).float().double().numpy(),
        torch.from_numpy(images_b * 255).float().double().numpy(),
        data_range=255.0,
    )
    np.testing.assert_allclose(ours.numpy(), reference, rtol=0, atol=1e-6)


def test_ssim_of_identical_images_is_one() -> None:
    images, _ = random_pair(32, seed=1)
    np.testing.assert_allclose(
        ssim(torch.from_numpy(images), torch.from_numpy(images)).numpy(), 1.0, atol=1e-12
    )


def test_ssim_is_independent_of_batch_size() -> None:
    images_a, images_b = random_pair(24, seed=2, count=40)  # > one internal chunk of 32
    tensor_a, tensor_b = torch.from_numpy(images_a), torch.from_numpy(images_b)
    whole_batch = ssim(tensor_a, tensor_b)
    one_by_one = torch.cat([ssim(tensor_a[i : i + 1], tensor_b[i : i + 1]) for i in range(40)])
    assert whole_batch.shape == (40,)
    torch.testing.assert_close(whole_batch, one_by_one, rtol=0, atol=1e-12)


def test_ssim_of_uint8_images_matches_skimage_on_uint8() -> None:
    rng = np.random.default_rng(4)
    images_a = rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    images_b = np.clip(images_a.astype(int) + rng.integers(-30, 31, images_a.shape), 0, 255).astype(
        np.uint8
    )
    ours = ssim(torch.from_numpy(images_a), torch.from_numpy(images_b)).numpy()
    reference = skimage_ssim(
        images_a.astype(np.float64), images_b.astype(np.float64), data_range=255.0
    )
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6)


def test_ssim_rejects_images_outside_the_data_range() -> None:
    images = torch.rand(2, 3, 16, 16) * 2 - 1
    with pytest.raises(ValueError, match=r"in \[0, 1.0\]"):
        ssim(images, images)


def test_ssim_rejects_mismatched_shapes_and_tiny_images() -> None:
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 17))
    with pytest.raises(ValueError, match="larger than 10x10"):
        ssim(torch.rand(2, 3, 10, 10), torch.rand(2, 3, 10, 10))
    with pytest.raises(ValueError, match=r"\[N,C,H,W\]"):
        ssim(torch.rand(3, 16, 16), torch.rand(3, 16, 16))


def test_ssim_name_states_the_variant() -> None:
    assert SSIM_NAME == "ssim[gauss11-1.5]"


def test_ssim_equals_torchmetrics_map_with_the_border_cropped() -> None:
    """A second independent reference: torchmetrics' full SSIM map, valid region only."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    generator = torch.Generator().manual_seed(5)
    a = torch.rand(3, 3, 24, 24, generator=generator, dtype=torch.float64)
    b = (a + 0.1 * torch.randn(a.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    _, full = structural_similarity_index_measure(
        a,
        b,
        gaussian_kernel=True,
        sigma=1.5,
        kernel_size=11,
        reduction="none",
        data_range=1.0,
        return_full_image=True,
    )
    expected = full[..., 5:-5, 5:-5].reshape(3, -1).mean(dim=1)
    torch.testing.assert_close(ssim(a, b), expected, rtol=0, atol=1e-12)
