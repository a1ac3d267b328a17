"""Pose sweeps: one test identity rendered by each method across yaw -90..90 (a figure).

On SynthFaces the drivers are another test identity rendered at each yaw, and the
ground-truth row is the source identity rendered at the same poses under the
source's light and background, so every generated image has its exact target.
Each row is labelled with how its yaw follows the drivers': the least-squares slope
and Pearson r of the pose oracle's yaw of the row's images on the drivers' yaws
(``bench.metrics.following``; 1 = the head turns with the driver, 0 = it does not).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.data.dataset import FaceData, to_float_images, to_uint8_images
from bench.data.index import read_index, read_meta
from bench.errors import DataError
from bench.methods.api import Driver, Method
from bench.metrics.following import LineFit, fit_line, na_reason
from bench.protocols.results import load_arrays, save_arrays

log = logging.getLogger(__name__)

YAWS = (-90, -60, -30, 0, 30, 60, 90)
#: Inches of the label column left of the images (a row's name, its yaw slope and r).
LABEL_WIDTH = 2.0


def make_sweep(dataset_dir: Path, yaws: tuple[int, ...] = YAWS) -> dict[str, np.ndarray]:
    """Source image, drivers, exact targets, driver poses and landmarks of the sweep."""
    from bench.data.prepare import scene_from_row
    from bench.data.registry import capabilities
    from bench.data.synthfaces import Identity, Renderer

    meta = read_meta(dataset_dir)
    if not capabilities(meta).exact_targets:
        raise DataError(f"{dataset_dir}: pose sweeps need a dataset that renders exact targets")
    settings = meta["settings"]
    index = read_index(dataset_dir)
    test = index[index.split == "test"]
    first, second = sorted(test["identity"].unique())[:2]
    source_row = test[test["identity"] == first].iloc[0]
    driver_row = test[test["identity"] == second].iloc[0]
    renderer = Renderer(settings["resolution"], supersample=settings["supersample"])
    person = Identity.from_seed(int(source_row["identity_seed"]), shape_gain=settings["shape_gain"])
    other = Identity.from_seed(int(driver_row["identity_seed"]), shape_gain=settings["shape_gain"])
    source_scene = scene_from_row(source_row)
    neutral = dataclasses.replace(
        source_scene, pitch=0.0, roll=0.0, mouth_open=0.0, smile=0.0, brow_raise=0.0, eye_close=0.0
    )
    drivers, targets, landmarks, visible = [], [], [], []
    for yaw in yaws:
        scene = dataclasses.replace(neutral, yaw=float(yaw))
        driver = renderer.render(
            other,
            dataclasses.replace(scene_from_row(driver_row), yaw=float(yaw), pitch=0.0, roll=0.0),
        )
        drivers.append(driver.image)
        landmarks.append(driver.landmarks)
        visible.append(driver.visible)
        targets.append(renderer.render(person, scene).image)
    source = renderer.render(person, source_scene).image
    return {
        "source": source[None],
        "drivers": np.stack(drivers),
        "targets": np.stack(targets),
        "poses": np.array([[y, 0.0, 0.0] for y in yaws], np.float32),
        "landmarks": np.stack(landmarks).astype(np.float32),
        "visible": np.stack(visible),
        "yaws": np.array(yaws),
    }


def run_sweep(method: Method, sweep: dict[str, np.ndarray], data: FaceData) -> np.ndarray:
    """The method's images for every sweep driver, uint8 ``[n_yaws, H, W, 3]``."""
    from bench.data.synthfaces import landmark_image

    n = len(sweep["drivers"])
    needs = method.needs
    resolution = sweep["drivers"].shape[1]
    landmark_images = np.stack(
        [
            landmark_image(p, resolution, v)
            for p, v in zip(sweep["landmarks"], sweep["visible"], strict=True)
        ]
    )
    driver = Driver(
        image=to_float_images(sweep["drivers"]),
        pose=torch.from_numpy(sweep["poses"]) if "pose_angles" in needs else None,
        pose_bin=torch.from_numpy(data.pose_bins.assign(sweep["poses"][:, 0]))
        if "pose_bins" in needs
        else None,
        landmarks=torch.from_numpy(sweep["landmarks"]) if "landmarks" in needs else None,
        landmark_image=to_float_images(landmark_images) if "landmarks" in needs else None,
        target=to_float_images(sweep["targets"]) if "target" in needs else None,
    )
    sources = to_float_images(sweep["source"])[None].expand(n, -1, -1, -1, -1)
    with torch.inference_mode():
        generated = method.transfer(sources.to(method.device), driver.to(method.device))
    return to_uint8_images(generated.float().cpu())


def sweep_rows(sweep: dict[str, np.ndarray], rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The figure's rows in order: the drivers, the exact targets, then each method's images."""
    return {"driver": sweep["drivers"], "ground truth": sweep["targets"], **rows}


def sweep_following(
    sweep: dict[str, np.ndarray], rows: dict[str, np.ndarray], oracle: Any
) -> dict[str, LineFit | str]:
    """Per row of the figure: the line of the oracle's yaw of its images on the drivers'
    yaws (``LineFit``), or why there is none. The driver and ground-truth rows give what
    the oracle reads from exact images: the best a method's row can score."""
    yaws = sweep["poses"][:, 0].astype(np.float64)
    fits: dict[str, LineFit | str] = {}
    for name, images in sweep_rows(sweep, rows).items():
        read = oracle.pose(to_float_images(images))[:, 0]
        reason = na_reason(yaws, read)
        fits[name] = reason if reason is not None else fit_line(yaws, read)
        log.info("pose sweep, %s: %s", name, following_label(fits[name]))
    return fits


def following_label(fit: LineFit | str) -> str:
    """``yaw slope 0.93, r 0.99`` (or ``yaw slope n/a: <reason>``) for a row label."""
    if isinstance(fit, str):
        return f"yaw slope n/a: {fit}"
    return f"yaw slope {fit.slope:.2f}, r {fit.r:.2f}"


def _figure_rows(
    sweep: dict[str, np.ndarray], rows: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The rows to draw and each row's label: a method row whose images equal the exact
    targets (the ``ground_truth`` method) is the ground-truth row, drawn once."""
    repeats = [n for n, images in rows.items() if np.array_equal(images, sweep["targets"])]
    labels = {"ground truth": "ground truth" + (f" (= {', '.join(repeats)})" if repeats else "")}
    drawn = {n: im for n, im in sweep_rows(sweep, rows).items() if n not in repeats}
    return drawn, {name: labels.get(name, name) for name in drawn}


def sweep_figure(
    sweep: dict[str, np.ndarray],
    rows: dict[str, np.ndarray],
    out_stem: Path,
    title: str,
    following: dict[str, LineFit | str] | None = None,
) -> list[Path]:
    """Write ``sweep_grid`` as ``out_stem.png`` and ``.pdf``."""
    from bench.report.plotting import save, styled

    with styled():
        return save(sweep_grid(sweep, rows, title, following), out_stem)


def sweep_grid(
    sweep: dict[str, np.ndarray],
    rows: dict[str, np.ndarray],
    title: str,
    following: dict[str, LineFit | str] | None = None,
) -> Any:
    """Grid: the driver row, the ground-truth row, then one row per method (a Figure).

    With ``following`` (``sweep_following``), each row's label carries its yaw slope and r.
    The labels sit in a column of their own, so no name is clipped however long; the
    title sits above the column headers (constrained layout), never on them.
    """
    from bench.report.plotting import new_figure

    drawn, labels = _figure_rows(sweep, rows)
    yaws = sweep["yaws"]
    figure = new_figure(LABEL_WIDTH + 1.3 * (len(yaws) + 1), 1.3 * len(drawn) + 0.7)
    axes = figure.subplots(
        len(drawn),
        len(yaws) + 2,
        squeeze=False,
        gridspec_kw={"width_ratios": [LABEL_WIDTH / 1.3] + [1] * (len(yaws) + 1)},
    )
    for r, (name, images) in enumerate(drawn.items()):
        axes[r, 0].set_axis_off()
        place = {"ha": "right", "fontsize": 8, "transform": axes[r, 0].transAxes}
        if following is None:
            axes[r, 0].text(1.0, 0.5, labels[name], va="center", fontweight="bold", **place)
        else:
            axes[r, 0].text(1.0, 0.53, labels[name], va="bottom", fontweight="bold", **place)
            axes[r, 0].text(1.0, 0.47, following_label(following[name]), va="top", **place)
        source = sweep["source"][0] if r > 0 else np.full_like(sweep["source"][0], 255)
        axes[r, 1].imshow(source)
        for c, image in enumerate(images):
            axes[r, c + 2].imshow(image)
    for c, header in enumerate(["source", *(f"yaw {y:+d}°" for y in yaws)]):
        axes[0, c + 1].set_title(header, fontsize=8)
    for axis in axes[:, 1:].flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title, fontsize=9)
    return figure


def save_sweep(path: Path, arrays: dict[str, Any]) -> None:
    save_arrays(path, **arrays)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    return load_arrays(path, "sweep-drivers` / `sweep")
