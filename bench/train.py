"""The generic training loop every method runs under.

Seeding of python/numpy/torch, device choice (CUDA when present), the ``amp`` and
``channels_last`` switches, atomic checkpoints loaded with ``weights_only=True``,
automatic resume of a killed job from its last checkpoint, a tqdm bar with the
losses, a CSV of losses per step and a PNG sample grid per checkpoint.

Resume is exact: batches are a pure function of ``(seed, step)`` and the torch RNG
state travels in the checkpoint, so a run killed and resumed ends with the same
weights as an uninterrupted one (on CPU; cuDNN kernels may differ run to run).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from bench.data.dataset import FaceData
from bench.errors import CheckpointError, ConfigError, NonFiniteLossError
from bench.methods.api import DatasetInfo, Method
from bench.methods.registry import MethodSpec
from bench.runtime import (  # re-exported: callers import them from bench.train too
    CHECKPOINT_FORMAT,
    atomic_torch_save,
    load_checkpoint,
    seed_everything,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """Harness-level switches shared by every method (the method's own config sets steps)."""

    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    amp: bool = False
    channels_last: bool = False
    checkpoint_every: int = 200
    preview_items: int = 8


def pick_device(name: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device is {name!r} but no CUDA device is available")
    return device


def config_fingerprint(method: str, config: dict[str, Any], seed: int, dataset: str) -> str:
    """A short hash identifying what a checkpoint was trained for."""
    blob = json.dumps([method, config, seed, dataset], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_checkpoint(state: dict, path: Path, method: str, fingerprint: str | None) -> None:
    """Refuse a checkpoint written by another method or configuration."""
    if state.get("method") != method:
        raise CheckpointError(
            f"{path}: checkpoint belongs to method {state.get('method')!r}, not {method!r}"
        )
    if fingerprint is not None and state.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"{path}: checkpoint was trained with another configuration or seed "
            f"({state.get('fingerprint')} != {fingerprint}); move it away to retrain"
        )


def build_method(spec: MethodSpec, config: dict[str, Any], info: DatasetInfo) -> Method:
    return spec.cls(config, info)


def load_trained(path: Path, spec: MethodSpec, device: torch.device | str = "cpu") -> Method:
    """A method restored from its final ``model.pt`` (weights_only), in eval mode."""
    state = load_checkpoint(path)
    check_checkpoint(state, path, spec.name, None)
    info = DatasetInfo(
        **{**state["info"], "pose_bin_edges": tuple(state["info"]["pose_bin_edges"])}
    )
    method = build_method(spec, state["config"], info)
    try:
        method.load_state_dict(state["model"])
    except RuntimeError as error:
        raise CheckpointError(
            f"{path}: weights do not fit method {spec.name!r}: {error}"
        ) from error
    return method.to(device).eval()


class _LossLog:
    """``train_log.csv``: one row per step; on resume, rows after the checkpoint are dropped."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if resume_step and path.exists():
            with path.open(newline="") as handle:
                self.rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]
        self.fields: list[str] = list(self.rows[0]) if self.rows else []
        self.pending: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        for key in row:
            if key not in self.fields:
                self.fields.append(key)
        self.pending.append(row)

    def flush(self) -> None:
        self.rows.extend(self.pending)
        self.pending = []
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.fields)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)


def _build_for_training(
    spec: MethodSpec,
    config: dict[str, Any],
    info: DatasetInfo,
    device: torch.device,
    settings: TrainSettings,
) -> Method:
    """The method on ``device`` with the harness switches set and its optimizers made."""
    method = build_method(spec, config, info).to(device)
    if settings.channels_last:
        method = method.to(memory_format=torch.channels_last)
    method.amp = settings.amp
    method.optimizers = method.configure_optimizers()
    return method


def _weights_state(
    method: Method, name: str, fingerprint: str, step: int, **fields: Any
) -> dict[str, Any]:
    """What every checkpoint and ``model.pt`` start with (format, method, fingerprint,
    step), then ``fields``, then the weights."""
    return {
        "format": CHECKPOINT_FORMAT,
        "method": name,
        "fingerprint": fingerprint,
        "step": step,
        **fields,
        "model": method.state_dict(),
    }


def _progress_bar(start: int, steps: int, desc: str) -> tqdm:
    """The steps ``start..steps`` with a tqdm bar (hidden for an untrained run)."""
    return tqdm(
        range(start, steps),
        initial=start,
        total=steps,
        desc=desc,
        unit="step",
        mininterval=2.0,
        dynamic_ncols=True,
        disable=steps == 0,
    )


def _summary(
    name: str,
    seed: int,
    steps: int,
    start: int,
    device: torch.device,
    elapsed: float,
    images_per_step: int,
) -> dict[str, Any]:
    """``train.json``: the run, where it resumed from, and this job's time and throughput
    (``images_per_second`` None when it trained no step)."""
    trained = steps - start
    return {
        "method": name,
        "seed": seed,
        "steps": steps,
        "resumed_from": start,
        "device": str(device),
        "seconds": round(elapsed, 3),
        "images_per_second": round(trained * images_per_step / elapsed, 2) if trained else None,
    }


def _resume(method: Method, name: str, ckpt_path: Path, fingerprint: str) -> int:
    """The step ``ckpt_path`` resumes from, its weights, optimizers and torch RNG state
    loaded into ``method``; 0 when there is none or it was trained for another
    configuration or seed (then it is moved aside, never resumed from)."""
    state = load_checkpoint(ckpt_path) if ckpt_path.exists() else None
    if state is None:
        return 0
    check_checkpoint(state, ckpt_path, name, None)
    if state.get("fingerprint") != fingerprint:
        # The configuration or seed changed (Snakemake reruns the job when its params
        # change): keep the old checkpoint beside the new run, never resume from it.
        stale = ckpt_path.with_name(f"stale-{state.get('fingerprint')}.pt")
        ckpt_path.replace(stale)
        log.warning(
            "%s was trained with another configuration or seed (%s != %s): moved to %s; "
            "training from scratch",
            ckpt_path, state.get("fingerprint"), fingerprint, stale,
        )  # fmt: skip
        return 0
    method.load_state_dict(state["model"])
    for optimizer_name, optimizer in method.iter_optimizers():
        optimizer.load_state_dict(state["optimizers"][optimizer_name])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def _finite_losses(losses: dict[str, Any], where: str, ckpt_path: Path) -> dict[str, float]:
    """A training step's losses as floats; a non-finite one stops training, naming the step
    (``where``) and whether a good checkpoint is kept."""
    values = {name: float(value) for name, value in losses.items()}
    bad = {name: value for name, value in values.items() if not math.isfinite(value)}
    if bad:
        kept = (
            f"the last good checkpoint {ckpt_path} is kept"
            if ckpt_path.exists()
            else "no checkpoint was written yet"
        )
        raise NonFiniteLossError(
            f"non-finite loss at {where}: {', '.join(f'{k}={v}' for k, v in bad.items())}; {kept}"
        )
    return values


def _save_preview(method: Method, batch: Any, device: torch.device, path: Path) -> None:
    """The method's preview of ``batch`` as a PNG grid, each column headed by the method's
    ``preview_headers`` (the method left in eval mode)."""
    from bench.data.dataset import to_uint8_images
    from bench.report.grids import save_headed_grid

    method.eval()
    with torch.no_grad():
        images = method.preview(batch.to(device)).cpu()
    rows, columns = images.shape[:2]
    uint8 = to_uint8_images(images.reshape(rows * columns, *images.shape[2:]).float())
    cells = uint8.reshape(rows, columns, *uint8.shape[1:])
    title = f"{type(method).__name__}: training preview"
    save_headed_grid(path, cells, method.preview_headers(columns), title)


def train(
    spec: MethodSpec,
    config: dict[str, Any],
    data: FaceData,
    run_dir: Path,
    seed: int,
    settings: TrainSettings = TrainSettings(),
    on_step_end: Callable[[int], None] | None = None,
) -> Path:
    """Train ``spec`` on ``data`` into ``run_dir``; resume from ``run_dir/checkpoints/last.pt``.

    ``config`` is the method's resolved config (``steps`` and ``batch_size`` are read
    here). Returns the path of the final ``model.pt``. ``on_step_end`` is called after
    every step (tests use it to simulate a kill).
    """
    run_dir = Path(run_dir)
    final_path = run_dir / "model.pt"
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    steps = int(config.get("steps", 0)) if spec.cls.trainable else 0
    batch_size = int(config.get("batch_size", 1))
    fingerprint = config_fingerprint(spec.name, config, seed, data.name)
    device = pick_device(settings.device)
    seed_everything(seed)

    data = data.with_pose_labels(spec.cls.needs, spec.name)  # NaN poses: no label, no row
    info = data.info()
    sampling = spec.cls.sampling_for(config)
    method = _build_for_training(spec, config, info, device, settings)

    start = _resume(method, spec.name, ckpt_path, fingerprint)
    if start:
        log.info(
            "resuming %s seed %d from %s (step %d of %d)", spec.name, seed, ckpt_path, start, steps
        )

    run_dir.mkdir(parents=True, exist_ok=True)
    losses_log = _LossLog(run_dir / "train_log.csv", start)
    preview_rng = np.random.default_rng([seed, 2**31 - 1])
    preview_batch = data.batch(
        data.draw_rows(sampling, settings.preview_items, preview_rng), spec.cls.needs
    )

    def checkpoint(step: int) -> None:
        losses_log.flush()
        state = _weights_state(method, spec.name, fingerprint, step)
        state["optimizers"] = {n: o.state_dict() for n, o in method.iter_optimizers()}
        state["torch_rng"] = torch.get_rng_state()
        atomic_torch_save(state, ckpt_path)
        _save_preview(method, preview_batch, device, run_dir / "samples" / f"step_{step:06d}.png")
        method.train()

    began = time.perf_counter()
    method.train()
    bar = _progress_bar(start, steps, f"train {spec.name} seed{seed}")
    for step in bar:
        batch = data.sample_batch(sampling, batch_size, spec.cls.needs, seed, step).to(device)
        where = f"step {step + 1} of {spec.name} seed {seed}"
        values = _finite_losses(method.training_step(batch, step), where, ckpt_path)
        losses_log.add({"step": step + 1, **{k: f"{v:.6g}" for k, v in values.items()}})
        bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
        if (step + 1) % settings.checkpoint_every == 0 or step + 1 == steps:
            checkpoint(step + 1)
        if on_step_end is not None:
            on_step_end(step + 1)
    bar.close()
    elapsed = time.perf_counter() - began
    losses_log.flush()
    _save_preview(method, preview_batch, device, run_dir / "samples.png")

    final = _weights_state(method, spec.name, fingerprint, steps, config=config, info=asdict(info))
    atomic_torch_save(final, final_path)
    summary = _summary(spec.name, seed, steps, start, device, elapsed, batch_size * sampling.frames)
    (run_dir / "train.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("trained %s seed %d: %s", spec.name, seed, summary)
    return final_path
