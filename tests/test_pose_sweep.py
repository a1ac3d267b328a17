"""The pose sweep's rows are labelled with how their yaw follows the drivers'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.metrics.following import LineFit
from bench.protocols.pose_sweep import YAWS, following_label, sweep_figure, sweep_following


def painted(yaws: np.ndarray, resolution: int = 16) -> np.ndarray:
    """uint8 images whose red channel is 128 + yaw: what ``ColourOracle`` reads back."""
    images = np.full((len(yaws), resolution, resolution, 3), 60, np.uint8)
    images[..., 0] = (128 + np.asarray(yaws)).astype(np.uint8)[:, None, None]
    return images


class ColourOracle:
    """A fake pose oracle that reads the yaw from the image (red = 128 + yaw)."""

    def pose(self, images) -> np.ndarray:
        yaw = images[:, 0].mean(dim=(1, 2)).numpy() * 255 - 128
        return np.stack([yaw, np.zeros_like(yaw), np.zeros_like(yaw)], axis=1)


@pytest.fixture
def sweep() -> dict[str, np.ndarray]:
    yaws = np.array(YAWS)
    return {
        "source": painted([10]),
        "drivers": painted(yaws),
        "targets": painted(yaws),
        "poses": np.array([[y, 0.0, 0.0] for y in yaws], np.float32),
        "yaws": yaws,
    }


def test_sweep_rows_follow_as_their_yaw_turns(sweep: dict[str, np.ndarray]) -> None:
    rows = {
        "exact": sweep["targets"],
        "frozen": np.repeat(sweep["source"], len(YAWS), axis=0),
        "half": painted(np.array(YAWS) // 2),
    }
    fits = sweep_following(sweep, rows, ColourOracle())
    assert list(fits) == ["driver", "ground truth", "exact", "frozen", "half"]
    for name in ("driver", "ground truth", "exact"):
        assert fits[name].slope == pytest.approx(1.0, abs=0.01), name
        assert fits[name].r == pytest.approx(1.0, abs=1e-4), name
    assert fits["frozen"].slope == pytest.approx(0.0, abs=1e-9) and fits["frozen"].r == 0.0
    assert fits["half"].slope == pytest.approx(0.5, abs=0.02)
    assert following_label(fits["exact"]) == "yaw slope 1.00, r 1.00"


def test_a_sweep_with_one_driver_yaw_says_why_it_has_no_slope(sweep) -> None:
    flat = {**sweep, "poses": np.zeros_like(sweep["poses"])}
    fits = sweep_following(flat, {}, ColourOracle())
    assert "nothing to follow" in fits["driver"]
    assert following_label(fits["driver"]).startswith("yaw slope n/a: the driver angle")


def test_sweep_figure_labels_every_row_in_its_own_column(sweep, tmp_path: Path) -> None:
    long_name = "caingan_no_target (untrained)"
    rows = {long_name: 255 - sweep["targets"]}
    following = {
        name: LineFit(1.0, 0.0, 1.0, len(YAWS)) for name in ("driver", "ground truth", long_name)
    }
    png, pdf = sweep_figure(sweep, rows, tmp_path / "sweep", "toy", following)
    assert png.suffix == ".png" and pdf.stat().st_size > 0
    image = np.asarray(Image.open(png).convert("L"))
    # The label column is the left part of the figure: it holds ink (the labels), and its
    # leftmost pixels are blank (nothing runs off the figure's edge).
    assert image[:, : image.shape[1] // 8].min() < 128
    assert image[:, :3].min() > 200


def test_sweep_figure_stage_reads_the_pose_oracle_checkpoint(sweep, tmp_path: Path) -> None:
    """``bench sweep-figure --pose-oracle``: an (untrained) oracle checkpoint labels each row."""
    import logging

    import torch

    from bench.cli import main
    from bench.evaluators.synth_oracle import ConvTrunk, _save
    from bench.protocols.pose_sweep import save_sweep

    torch.manual_seed(0)
    oracle = tmp_path / "synth-oracle-pose.pt"
    _save(oracle, "pose", ConvTrunk(16, 4, 3), {"width": 4}, 16, {"pose_mae_degrees": {}})
    save_sweep(tmp_path / "drivers.npz", sweep)
    save_sweep(tmp_path / "frozen.npz", {"generated": np.repeat(sweep["source"], 7, axis=0)})
    log = tmp_path / "sweep.log"
    argv = ["sweep-figure", "--dataset", "toy", "--sweep", str(tmp_path / "drivers.npz")]
    argv += ["--pose-oracle", str(oracle), "--out-stem", str(tmp_path / "toy_pose_sweep")]
    argv += ["--log", str(log), f"frozen={tmp_path / 'frozen.npz'}"]
    try:
        assert main(argv) == 0
    finally:
        logging.getLogger().handlers.clear()  # setup_logging's file handler
    assert (tmp_path / "toy_pose_sweep.png").exists() and (tmp_path / "toy_pose_sweep.pdf").exists()
    text = log.read_text()
    assert "pose sweep, frozen: yaw slope 0.00, r 0.00" in text  # one image, one reading
    assert "pose sweep, ground truth: yaw slope" in text


def test_sweep_figure_draws_the_ground_truth_once(sweep) -> None:
    """The ground_truth method reproduces the exact targets: one row, named for both."""
    from bench.protocols.pose_sweep import sweep_grid

    rows = {"ground_truth": sweep["targets"].copy(), "copy": 255 - sweep["targets"]}
    figure = sweep_grid(sweep, rows, "toy")
    labels = [t.get_text() for axis in figure.axes for t in axis.texts]
    assert labels == ["driver", "ground truth (= ground_truth)", "copy"]
    assert len(figure.axes) == 3 * (len(YAWS) + 2)


def test_sweep_title_sits_above_the_column_headers(sweep) -> None:
    from bench.protocols.pose_sweep import sweep_grid

    figure = sweep_grid(sweep, {"copy": sweep["drivers"]}, "toy: a title as long as the real one")
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)  # constrained layout places the title
    title = figure._suptitle.get_window_extent(renderer)
    headers = [axis.title.get_window_extent(renderer) for axis in figure.axes if axis.get_title()]
    assert len(headers) == len(YAWS) + 1
    assert all(title.y0 >= header.y1 for header in headers)
