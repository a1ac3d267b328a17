"""PSNR and L1 against skimage and numpy; LPIPS against torchmetrics on the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from skimage.metrics import peak_signal_noise_ratio

from bench.errors import EvaluatorUnavailable
from bench.evaluators.lpips import BACKBONES, LPIPS, hub_backbone_path
from bench.metrics.psnr import l1_error, psnr


def images(seed: int, n: int = 4, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_psnr_matches_skimage_per_image_and_a_copy_is_infinite():
    a, b = images(0), images(1)
    ours = psnr(a, b)
    reference = [
        peak_signal_noise_ratio(
            t.numpy().astype(np.float64), g.numpy().astype(np.float64), data_range=1
        )
        for g, t in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(ours, reference, rtol=1e-12)
    assert np.isinf(psnr(a, a)).all()
    as_uint8 = (a * 255).round().to(torch.uint8)
    np.testing.assert_allclose(psnr(as_uint8, as_uint8.clone()), np.inf)


def test_l1_is_the_mean_absolute_difference_per_image():
    a, b = images(2), images(3)
    expected = np.abs(a.numpy().astype(np.float64) - b.numpy()).reshape(4, -1).mean(axis=1)
    np.testing.assert_allclose(l1_error(a, b), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        l1_error(a, b[:, :, :16])
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        psnr(a * 2, b)


def random_backbone(backbone: str, path) -> dict:
    """A torchvision backbone with random weights (seeded), saved as its hub file would be."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, BACKBONES[backbone][0])(weights=None)
    state = model.state_dict()
    torch.save(state, path)
    return state


@pytest.mark.parametrize("backbone", ["alex", "vgg"])
def test_lpips_equals_torchmetrics_on_the_same_backbone_weights(backbone, tmp_path):
    from torchmetrics.functional.image.lpips import _LPIPS

    state = random_backbone(backbone, tmp_path / "backbone.pth")
    ours = LPIPS(backbone, tmp_path / "backbone.pth")
    reference = _LPIPS(pretrained=True, net=backbone, pnet_rand=True)
    # torchmetrics keeps torchvision's feature indices inside its slices: slice<s>.<index>.<param>
    net_state = {
        name: state[f"features.{name.split('.', 1)[1]}"] for name in reference.net.state_dict()
    }
    reference.net.load_state_dict(net_state)
    a, b = images(4, n=3, size=64), images(5, n=3, size=64)
    with torch.no_grad():
        expected = reference(a, b, normalize=True).flatten().double().numpy()
    np.testing.assert_allclose(ours.distances(a, b), expected, rtol=1e-5, atol=1e-7)
    assert (ours.distances(a, a) == 0).all()
    assert str(tmp_path / "backbone.pth") in ours.weights_sha256


def test_lpips_reads_the_hub_cache_and_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = hub_backbone_path("alex")
    assert expected == tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    with pytest.raises(EvaluatorUnavailable, match=f"no alexnet weights at {expected}"):
        LPIPS("alex")
    with pytest.raises(EvaluatorUnavailable, match=f"no vgg16 weights at {tmp_path / 'x.pth'}"):
        LPIPS("vgg", tmp_path / "x.pth")
    expected.parent.mkdir(parents=True)
    random_backbone("alex", expected)
    assert LPIPS("alex").distances(images(6), images(7)).shape == (4,)
    expected.write_bytes(b"not a checkpoint")
    with pytest.raises(EvaluatorUnavailable, match="unreadable weights file"):
        LPIPS("alex")
