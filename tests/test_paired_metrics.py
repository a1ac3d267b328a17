"""Paired image metrics are declared in their own module and found by the protocols."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench.metrics.paired import PairedImageMetric, paired_metrics
from bench.metrics.psnr import PSNR_CAP_DB
from bench.metrics.specs import spec_of


def _images(seed: int) -> torch.Tensor:
    return torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(seed))


def test_every_paired_module_is_found_once_in_module_order():
    families = [metric.family for metric in paired_metrics()]
    assert families == ["psnr", "l1", "ssim"]
    assert all(isinstance(metric, PairedImageMetric) for metric in paired_metrics())


def test_paired_specs_join_the_registry_with_their_direction():
    assert spec_of("psnr").higher_is_better is True
    assert spec_of("l1").higher_is_better is False
    assert spec_of("ssim").evaluator == "none"
    with pytest.raises(KeyError, match="unknown metric family 'psnr2'.*psnr"):
        spec_of("psnr2")


def test_paired_values_equal_skimage_on_the_same_pairs():
    generated, target = _images(0), _images(1)
    by_family = {metric.family: metric.values(generated, target) for metric in paired_metrics()}
    for i in range(len(generated)):
        a = generated[i].permute(1, 2, 0).double().numpy()
        b = target[i].permute(1, 2, 0).double().numpy()
        assert by_family["psnr"][i] == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1))
        assert by_family["l1"][i] == pytest.approx(np.abs(a - b).mean())
        reference = structural_similarity(
            a, b, data_range=1, channel_axis=2, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False,
        )  # fmt: skip
        assert by_family["ssim"][i] == pytest.approx(reference, abs=1e-9)
    assert all(values.dtype == np.float64 for values in by_family.values())


def test_scored_psnr_of_an_exact_copy_is_capped_not_infinite():
    images = _images(2)
    psnr = next(metric for metric in paired_metrics() if metric.family == "psnr")
    np.testing.assert_array_equal(psnr.values(images, images.clone()), PSNR_CAP_DB)
    assert "cap100" in psnr.qualifier
