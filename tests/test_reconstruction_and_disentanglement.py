"""Reconstruction/sampling scores and the disentanglement rows, on methods with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_face_data
from skimage.metrics import mean_squared_error

from bench.methods.api import Method
from bench.protocols.reconstruction import rmse_255, score_reconstruction
from bench.protocols.representation import FACTORS, disentanglement_rows
from bench.report.tables import write_disentanglement_tables, write_reconstruction_tables


class Mirror(Method):
    """Reconstructs exactly; samples uniform noise from the generator it is given."""

    provides = frozenset({"reconstruct", "sample"})
    trainable = False

    def __init__(self, resolution: int) -> None:
        super().__init__({}, None)
        self.resolution = resolution

    def reconstruct(self, images):
        return images

    def sample(self, n, generator):
        return torch.rand(n, 3, self.resolution, self.resolution, generator=generator)


class FlatOracle:
    """A stand-in identity oracle: the flattened, normalised image."""

    name = "flat-oracle"

    def embed(self, images):
        flat = images.flatten(1).double()
        return torch.nn.functional.normalize(flat, dim=1).numpy()


SETTINGS = {"images": 10, "samples": 12, "batch_size": 5, "seed": 0, "bootstrap": 50}


def test_rmse_255_agrees_with_skimage():
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 4, 3, 8, 8))
    expected = [np.sqrt(mean_squared_error(x * 255, y * 255)) for x, y in zip(a, b, strict=True)]
    assert rmse_255(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(expected)


def test_exact_reconstruction_scores_rmse_0_ssim_1_and_samples_get_distribution_rows(tmp_path):
    data = make_face_data(resolution=16)
    rows = score_reconstruction(
        Mirror(16), data, FlatOracle(), {**SETTINGS, "reference_dir": str(tmp_path)}
    )
    by_metric = {r["metric"]: r for r in rows}
    assert by_metric["rmse255"]["value"] == 0.0 and by_metric["rmse255"]["n"] == 10
    assert by_metric["ssim[gauss11-1.5]"]["value"] == pytest.approx(1.0)
    assert by_metric["csim_input[flat-oracle]"]["value"] == pytest.approx(1.0)
    sample = [r for r in rows if r["protocol"] == "reconstruction/sample"]
    assert {r["metric"] for r in sample} >= {"fd[synth-oracle]", "kid[synth-oracle]"}
    fid = next(r for r in sample if r["metric"].startswith("fid"))
    assert np.isnan(fid["value"]) and "no weights" in fid["na_reason"]
    assert all(r["n"] == 12 for r in sample)
    metrics = tmp_path / "metrics.json"
    from bench.protocols.results import write_metrics

    write_metrics(metrics, rows, {"method": "mirror", "seed": 0, "dataset": "toy"})
    written = write_reconstruction_tables([metrics], tmp_path, "toy")
    markdown = written[1].read_text()
    assert "RMSE (0-255) ↓" in markdown and "| reconstruct | mirror" in markdown
    assert "fid[inception-v3-pool3] is n/a" in markdown


def test_the_factors_themselves_disentangle_and_noise_does_not(tmp_path):
    data = make_face_data(n_identities=8, per_identity=12, resolution=8)
    factors = data.index[[c for c, _ in FACTORS]].to_numpy(np.float64)
    settings = {"metrics": ["mig", "sap", "dci"], "rows": 96, "seed": 0}
    perfect = disentanglement_rows(
        {"identity": factors[:, :1], "pose": factors[:, 1:]}, data, settings
    )
    noise = np.random.default_rng(0).normal(size=factors.shape)
    random = disentanglement_rows({"identity": noise}, data, settings)
    good = {r["metric"]: r["value"] for r in perfect}
    bad = {r["metric"]: r["value"] for r in random}
    assert set(good) == {
        "mig[synth-factors]",
        "sap[synth-factors]",
        "dci_disentanglement[synth-factors]",
        "dci_completeness[synth-factors]",
        "dci_informativeness[synth-factors]",
    }
    for metric in (
        "mig[synth-factors]",
        "dci_disentanglement[synth-factors]",
        "sap[synth-factors]",
    ):
        assert good[metric] > bad[metric] + 0.2, metric
    from bench.protocols.results import write_metrics

    write_metrics(tmp_path / "a.json", perfect, {"method": "factors", "seed": 0, "dataset": "toy"})
    write_metrics(tmp_path / "b.json", random, {"method": "noise", "seed": 0, "dataset": "toy"})
    table = write_disentanglement_tables(
        [tmp_path / "a.json", tmp_path / "b.json"], tmp_path, "toy"
    )
    markdown = table[1].read_text()
    assert "MIG [synth-factors] ↑" in markdown and "| all-codes | noise" in markdown


def test_disentanglement_needs_exact_factors():
    from bench.protocols.representation import has_exact_factors

    data = make_face_data(resolution=8)
    assert has_exact_factors(data) is None
    data.index["pose_source"] = "dlib68-pnp"
    assert "only SynthFaces" in has_exact_factors(data)
    from bench.errors import DataError

    with pytest.raises(DataError, match="only SynthFaces"):
        disentanglement_rows(
            {"identity": np.zeros((len(data), 2))},
            data,
            {"metrics": ["mig"], "rows": 10, "seed": 0},
        )


def test_tsne_of_a_constant_code_says_so_instead_of_crashing(tmp_path):
    from bench.protocols.representation import tsne_figure

    data = make_face_data(n_identities=6, per_identity=8)
    codes = {
        "identity": np.random.default_rng(0).normal(size=(48, 4)),
        "pose": np.full((48, 3), 0.25),  # a collapsed code, as an untrained softmax head gives
    }
    written = tsne_figure(codes, data, tmp_path / "tsne", "collapsed")
    assert [p.suffix for p in written] == [".png", ".pdf"] and all(
        p.stat().st_size for p in written
    )
