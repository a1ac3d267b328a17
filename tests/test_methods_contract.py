"""Every method folder honours the Method contract (DESIGN.md), with its own smoke config.

Parametrized over discovery, so a new folder under methods/ is tested without touching
this file: it trains a few steps with finite losses, a killed run resumes to the same
weights, and every capability it provides returns what the protocols expect. Batches and
drivers are strict: reading a field that ``FaceBatch`` or ``Driver`` does not declare raises
:class:`UndeclaredField`, even through ``getattr(x, name, default)`` or ``hasattr``, so a
method cannot silently depend on data the contract does not give it.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import assert_same_weights, final_weights, make_face_data, train_until_killed

from bench.data.dataset import FaceData
from bench.methods.api import Driver, FaceBatch
from bench.methods.registry import discover, get_method
from bench.perceptual import PERCEPTUAL_SECTIONS, save_random_weights
from bench.protocols.pose_transfer import make_driver
from bench.train import TrainSettings, load_trained, train

SPECS = {name: discover().get(name) for name in discover().names()}
TRAINABLE = sorted(name for name, spec in SPECS.items() if spec.cls.trainable)
RESOLUTION = 32


class UndeclaredField(AssertionError):
    """A method read a field its batch or driver does not have. Not an AttributeError, so
    that ``getattr(driver, "x", None)`` and ``hasattr`` fail instead of hiding the read."""


class _Strict:
    def __getattr__(self, name: str):  # noqa: ANN204 (only called for missing attributes)
        if name.startswith("__"):  # copy, pickle and friends probe dunders: keep them standard
            raise AttributeError(name)
        declared = [f.name for f in fields(self)]
        raise UndeclaredField(
            f"{type(self).__name__} has no field {name!r} (declared: {declared}); "
            "bench.methods.api defines what the harness gives a method"
        )


class StrictDriver(_Strict, Driver):
    """A Driver that refuses reads of undeclared fields."""


class StrictFaceBatch(_Strict, FaceBatch):
    """A FaceBatch that refuses reads of undeclared fields (``to`` keeps the class)."""


def strict(value: Driver | FaceBatch) -> Driver | FaceBatch:
    cls = StrictDriver if isinstance(value, Driver) else StrictFaceBatch
    return cls(**{f.name: getattr(value, f.name) for f in fields(value)})


class StrictFaceData(FaceData):
    """The toy data, handing out strict batches (training, previews and drivers)."""

    def batch(self, rows: np.ndarray, needs: frozenset[str]) -> FaceBatch:
        return strict(super().batch(rows, needs))


@pytest.fixture(scope="module")
def data():
    toy = make_face_data(n_identities=6, per_identity=8, resolution=RESOLUTION)
    return StrictFaceData(**{f.name: getattr(toy, f.name) for f in fields(toy)})


def test_strict_driver_refuses_undeclared_fields_even_with_a_default(data) -> None:
    driver = strict(make_driver(data, np.arange(2), frozenset({"landmarks"}), None))
    assert driver.landmark_image is not None and driver.pose is None
    with pytest.raises(UndeclaredField, match="source_landmark_images"):
        getattr(driver, "source_landmark_images", None)
    with pytest.raises(UndeclaredField):
        hasattr(data.batch(np.zeros((1, 1), int), frozenset()), "visible")
    assert type(driver.to("cpu")) is StrictDriver


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("perceptual")


def smoke_config(name: str, weights_dir, steps: int = 4) -> dict:
    config = SPECS[name].resolved_config("smoke")
    assert "steps" in config and "batch_size" in config, (
        f"methods/{name}/config.yaml: a trainable method's config needs 'steps' and 'batch_size'"
    )
    config = {**config, "steps": steps, "batch_size": min(config["batch_size"], 4)}
    return with_random_perceptual_weights(config, weights_dir)


def with_random_perceptual_weights(config: dict, directory) -> dict:
    """A config with a ``perceptual`` section gets a random weights file of its backbone.

    The DAG supplies real weights (bench/perceptual.py); here nothing is downloaded or trained.
    """
    for key in PERCEPTUAL_SECTIONS:  # perceptual, and fshm's perceptual_identity
        section = config.get(key)
        if not section:
            continue
        path = directory / f"{section['backbone']}-{RESOLUTION}.pt"
        if not path.exists():
            save_random_weights(section["backbone"], path, RESOLUTION)
        config = {**config, key: {**section, "weights_path": str(path)}}
    return config


@pytest.fixture(scope="module")
def trained(data, weights_dir, tmp_path_factory):
    """Each trainable method trained 4 steps once; the tests share the run directories."""
    runs = {}
    for name in TRAINABLE:
        run_dir = tmp_path_factory.mktemp(name)
        settings = TrainSettings(device="cpu", checkpoint_every=2)
        config = smoke_config(name, weights_dir)
        train(SPECS[name], config, data, run_dir, seed=0, settings=settings)
        runs[name] = run_dir
    return runs


@pytest.mark.parametrize("name", TRAINABLE)
def test_training_logs_finite_losses_and_a_sample_grid(name, trained):
    log = pd.read_csv(trained[name] / "train_log.csv")
    assert list(log["step"]) == [1, 2, 3, 4]
    losses = log.drop(columns=[c for c in log.columns if c in ("step", "seconds", "time")])
    assert len(losses.columns) >= 1, f"{name} logs no losses"
    assert all(math.isfinite(v) for v in losses.to_numpy().ravel()), f"{name}: {losses}"
    assert (trained[name] / "samples.png").stat().st_size > 0


@pytest.mark.parametrize("name", TRAINABLE)
def test_a_killed_run_resumes_to_the_same_weights(name, data, trained, weights_dir, tmp_path):
    spec, config = SPECS[name], smoke_config(name, weights_dir)
    settings = TrainSettings(device="cpu", checkpoint_every=2)
    train_until_killed(spec, config, data, tmp_path, kill_at=3, seed=0, settings=settings)
    train(spec, config, data, tmp_path, seed=0, settings=settings)
    assert_same_weights(final_weights(trained[name]), final_weights(tmp_path), f"{name}: ")


@pytest.mark.parametrize("name", TRAINABLE)
def test_every_provided_capability_returns_the_contracted_shapes(name, data, trained):
    method = load_trained(trained[name] / "model.pt", SPECS[name])
    method.eval()
    images = data.batch(torch.arange(6).numpy()[:, None], frozenset()).images[:, 0]
    b, shape = 3, (3, RESOLUTION, RESOLUTION)
    with torch.inference_mode():
        if "transfer" in method.provides:
            driver = strict(make_driver(data, np.arange(3, 6), method.needs, None))
            for k in (1, 2):
                sources = images[:k].unsqueeze(0).expand(b, -1, -1, -1, -1)
                out = method.transfer(sources, driver)
                assert out.shape == (b, *shape), f"{name} transfer K={k}: {tuple(out.shape)}"
                assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
            # transfer_k (what protocol 1 calls) is transfer of each prefix of the sources
            sources = images[3:6].unsqueeze(0).expand(b, -1, -1, -1, -1)
            many = method.transfer_k(sources, driver, [1, 3])
            assert sorted(many) == [1, 3], f"{name} transfer_k keys {sorted(many)}"
            for k in (1, 3):
                alone = method.transfer(sources[:, :k], driver)
                torch.testing.assert_close(
                    many[k],
                    alone,
                    atol=1e-5,
                    rtol=1e-4,
                    msg=f"{name}: transfer_k K={k} != transfer",
                )
        if {"identity_code", "pose_code"} & method.provides:
            codes = method.encode(images)
            if "identity_code" in method.provides:
                assert codes["identity"].shape[0] == 6 and codes["identity"].dim() == 2
            if "pose_code" in method.provides:
                assert codes["pose"].shape[0] == 6 and codes["pose"].dim() == 2
            for key, code in codes.items():
                assert torch.isfinite(code).all(), f"{name} code {key!r} is not finite"
        if "reconstruct" in method.provides:
            out = method.reconstruct(images)
            assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
        if "sample" in method.provides:
            first = method.sample(4, torch.Generator().manual_seed(0))
            again = method.sample(4, torch.Generator().manual_seed(0))
            assert first.shape == (4, *shape) and first.min() >= 0 and first.max() <= 1
            assert torch.equal(first, again), f"{name}: sample is not a function of the generator"


def test_ipgan_identity_pool_mean_keeps_no_spatial_layout() -> None:
    """`identity_pool: mean` pools E_id globally; an unknown pool names the key."""
    # methods/ load as the registry's packages (not an importable top-level `methods`)
    package = get_method("ipgan").cls.__module__.rpartition(".")[0]
    IdentityEncoder = importlib.import_module(f"{package}.model").IdentityEncoder  # noqa: N806

    flat, mean = IdentityEncoder(32, 4, 16), IdentityEncoder(32, 4, 16, pool="mean")
    images = torch.rand(2, 3, 32, 32)
    assert flat(images).shape == mean(images).shape == (2, 16)
    assert mean.head.in_features * 16 == flat.head.in_features
    # the mean head sees only channel means: a spatially permuted 4x4 map gives the same code
    maps = mean.trunk(images)
    permuted = maps.flatten(2)[:, :, torch.randperm(maps.shape[2] * maps.shape[3])]
    code = mean.head(torch.relu(permuted).mean(dim=2))
    torch.testing.assert_close(mean(images), code)
    with pytest.raises(ValueError, match="identity_pool must be flatten or mean"):
        IdentityEncoder(32, 4, 16, pool="max")
