"""pix2pixhd_kshot's landmark-image width (issue 19): ``sketch_width`` widens the harness's
1-pixel sketch lines before G and D see them (README, "Issue 19")."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import make_face_data
from scipy import ndimage

from bench.data.synthfaces import Identity, Renderer, landmark_image, sample_clip
from bench.methods.registry import discover

RESOLUTION = 64


def module():
    return sys.modules[discover().get("pix2pixhd_kshot").cls.__module__]


@pytest.fixture(scope="module")
def sketches() -> torch.Tensor:
    """[4, 3, 64, 64] harness sketches of a head turn, in [0, 1]."""
    renderer, rng = Renderer(RESOLUTION), np.random.default_rng(0)
    drawn = [
        landmark_image(render.landmarks, RESOLUTION, render.visible)
        for render in (
            renderer.render(Identity.from_seed(3), scene)
            for scene in sample_clip(rng, 4, key_every=4, turn=(20.0, 60.0))
        )
    ]
    return torch.from_numpy(np.stack(drawn)).permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize("width", [3, 5])
def test_widen_sketch_is_a_grey_dilation(sketches, width):
    """Against scipy's grey dilation of each channel by a width x width square."""
    widened = module().widen_sketch(sketches[:, None], width)[:, 0]
    reference = ndimage.grey_dilation(
        sketches.numpy(), size=(1, 1, width, width), mode="constant", cval=0.0
    )
    np.testing.assert_array_equal(widened.numpy(), reference)


def test_width_one_keeps_the_sketch_and_even_widths_are_refused(sketches):
    assert torch.equal(module().widen_sketch(sketches, 1), sketches)
    with pytest.raises(ValueError, match="sketch_width"):
        module().widen_sketch(sketches, 2)
    spec = discover().get("pix2pixhd_kshot")
    config = {**spec.resolved_config("smoke"), "sketch_width": 4}
    with pytest.raises(ValueError, match="sketch_width must be an odd integer >= 1, got 4"):
        spec.cls(config, make_face_data(resolution=32).info())


@pytest.mark.parametrize(("scale", "min_lit", "max_lit"), [("tiny", 0.18, 1.0), ("paper", 0, 0.06)])
def test_condition_feeds_the_configured_width(sketches, scale, min_lit, max_lit):
    """``tiny`` feeds 5-pixel lines at 64 px (19% of the pixels lit on the test split, 23% here;
    the 1-pixel drawing 4% and 5%), ``paper`` the harness's drawing unchanged; every landmark
    channel of the generator input (the sources' and the target's) is widened alike."""
    spec = discover().get("pix2pixhd_kshot")
    config = {**spec.resolved_config(scale), "k_train": 1, "ngf": 4, "ndf": 4, "max_width": 8}
    method = spec.cls(config, make_face_data(resolution=RESOLUTION).info())
    images = torch.rand(len(sketches), 1, 3, RESOLUTION, RESOLUTION)
    condition = method.condition(images, sketches[:, None], sketches)
    width = config["sketch_width"]
    expected = module().widen_sketch(sketches, width) * 2 - 1
    assert torch.equal(condition[:, 3:6], expected)
    assert torch.equal(condition[:, 6:9], expected)
    lit = float((condition[:, 6:9] > -1).any(1).float().mean())
    assert min_lit <= lit <= max_lit, (scale, width, lit)
