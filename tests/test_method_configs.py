"""Every method's ``smoke``, ``tiny`` and ``paper`` configs resolve and build the method.

``common`` holds the algorithm, each scale section sizes it; a scale may add keys that
``common`` lacks, but ``tiny`` and ``paper`` must resolve to the same keys (a key only one
scale sets is a key the method reads that the other scale lacks) and a scale may not
change a key's kind (a mapping into a number, a list into a string).
"""

from __future__ import annotations

import pytest
import torch

from bench.data.index import PoseBins
from bench.methods.api import DatasetInfo, Method, Sampling
from bench.methods.registry import SCALES, method_registry

METHODS = sorted(method_registry())
#: The paper profiles' resolutions (config/paper.yaml): K-shot methods on VoxCeleb2 at 256.
PAPER_RESOLUTION = {
    **dict.fromkeys(
        ["caingan", "caingan_mean", "caingan_no_ramp", "caingan_no_target", "fshm"], 256
    ),
    "pix2pixhd_kshot": 256,
}
RESOLUTION = {"smoke": 32, "tiny": 64}


def toy_info(resolution: int) -> DatasetInfo:
    bins = PoseBins(15.0)
    return DatasetInfo(
        name="toy",
        resolution=resolution,
        n_identities=200,
        n_pose_bins=len(bins),
        pose_bin_edges=bins.edges,
        n_expressions=3,
    )


def kind(value) -> str:
    """The schema kind of a config value (ints and floats are both numbers; null fits all)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {dict: "mapping", list: "list", str: "string"}[type(value)]


def key_paths(config: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in config.items():
        paths.add(prefix + key)
        if isinstance(value, dict):
            paths |= key_paths(value, f"{prefix}{key}.")
    return paths


def kind_conflicts(base: dict, section: dict, prefix: str = "") -> list[str]:
    """Keys whose value in ``section`` is of another kind than in ``base`` (null excepted)."""
    conflicts = []
    for key, value in section.items():
        if key not in base:
            continue
        old, new = kind(base[key]), kind(value)
        if "null" not in (old, new) and old != new:
            conflicts.append(f"{prefix}{key}: {old} in common, {new} here")
        elif old == new == "mapping":
            conflicts += kind_conflicts(base[key], value, f"{prefix}{key}.")
    return conflicts


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize(
    "scale",
    # paper widths: up to 190 M parameters (pix2pixhd_kshot at 256 px), seconds each
    [s if s != "paper" else pytest.param(s, marks=pytest.mark.slow) for s in SCALES],
)
def test_every_scale_resolves_and_builds_the_method(name, scale):
    torch.manual_seed(0)
    spec = method_registry().get(name)
    config = spec.resolved_config(scale)
    sampling = spec.cls.sampling_for(config)
    assert isinstance(sampling, Sampling)
    assert sampling.group in (None, "identity", "clip", "session") and sampling.frames >= 1
    resolution = RESOLUTION.get(scale) or PAPER_RESOLUTION.get(name, 128)
    method = spec.cls(config, toy_info(resolution))
    assert isinstance(method, Method)
    assert all(torch.isfinite(p).all() for p in method.parameters())


@pytest.mark.parametrize("name", METHODS)
def test_tiny_and_paper_resolve_to_the_same_keys(name):
    spec = method_registry().get(name)
    tiny, paper = (key_paths(spec.resolved_config(s)) for s in ("tiny", "paper"))
    assert tiny - paper == set(), f"{name}: keys tiny sets and paper lacks"
    assert paper - tiny == set(), f"{name}: keys paper sets and tiny lacks"


@pytest.mark.parametrize("name", METHODS)
def test_no_scale_changes_the_kind_of_a_common_key(name):
    spec = method_registry().get(name)
    common = spec.config.get("common", {})
    for scale in SCALES:
        conflicts = kind_conflicts(common, spec.config.get(scale) or {})
        assert conflicts == [], f"{spec.folder}/config.yaml:{scale}: {conflicts}"
    tiny = {**common, **(spec.config.get("tiny") or {})}
    assert kind_conflicts(tiny, spec.config.get("smoke") or {}) == []


def test_kind_conflicts_catch_a_mapping_turned_into_a_number():
    common = {"perceptual": {"backbone": "vgg19"}, "lr": 1e-4, "steps": 10, "path": None}
    assert kind_conflicts(common, {"lr": 2, "steps": 2.5, "path": "x.pt"}) == []
    assert kind_conflicts(common, {"perceptual": 3}) == [
        "perceptual: mapping in common, number here"
    ]
    assert kind_conflicts(common, {"perceptual": {"backbone": 1}}) == [
        "perceptual.backbone: string in common, number here"
    ]
