"""The one score schema: ``metrics.json`` rows carrying their full context."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench import REPO_ROOT, __version__
from bench.errors import DataError

METRIC_VERSION = 1


def git_commit() -> str:
    """The checkout's commit (``unknown`` outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "idpose-bench": __version__}
    for name in ("torch", "numpy", "scikit-image", "torchmetrics", "scikit-learn"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "missing"
    return versions


def run_context(meta: dict[str, Any], method: str, seed: int) -> dict[str, Any]:
    """Fields every row of one (dataset, method, seed) carries."""
    return {
        "dataset": meta["dataset"],
        "split": "test",
        "resolution": meta["resolution"],
        "method": method,
        "seed": seed,
        "metric_version": METRIC_VERSION,
        "git_commit": git_commit(),
        "versions": package_versions(),
    }


def save_arrays(path: Path, **arrays: Any) -> None:
    """Write arrays to a compressed ``.npz`` atomically (a killed job leaves no partial file)."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_arrays(path: Path, stage: str) -> dict[str, Any]:
    """Every array of an ``.npz``; a missing file names the stage that writes it."""
    import numpy as np

    try:
        with np.load(path) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError as error:
        raise DataError(f"{path}: missing; run `python -m bench {stage}` first") from error


def write_metrics(path: Path, rows: Sequence[Mapping[str, Any]], context: dict[str, Any]) -> None:
    """``metrics.json``: every row carries the full context (dataset, method, seed, versions).

    Each row (a :class:`~bench.score.Score` or its dict) is validated first: a missing or
    undeclared key, or a direction or evaluator its metric's spec does not declare, is an
    error naming the metric and the file, and nothing is written.
    """
    from bench.score import validate_row

    plain = [dict(row) for row in rows]
    for row in plain:
        try:
            validate_row(row)
        except ValueError as error:
            raise DataError(f"{path}: {error}") from error
    path.parent.mkdir(parents=True, exist_ok=True)
    full = [{**context, **row} for row in plain]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"schema": 1, "rows": full}, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)
