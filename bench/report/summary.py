"""The one summary of metric rows that the tables and the figures both format.

``summarize`` reduces the tidy rows of ``metrics.json`` files (``read_metrics``) to one
row per (protocol, K, method, metric): the mean over seeds, the sample standard deviation
over seeds (NaN for one seed), the seed count, the smallest N and the mean of the rows'
95% bootstrap interval. ``method_order`` is the order every table and figure lists methods
in: the order their metrics files were given (config order, then the untrained rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import DataError

#: The group of one summary row.
KEYS = ("protocol", "k", "method", "metric")
#: Protocol 1's kinds in display order (self before cross).
KIND_ORDER = ("self", "cross")
#: The suffix of a method's row scored at its initialisation (``bench.config``).
UNTRAINED_SUFFIX = " (untrained)"


def read_metrics(paths: Sequence[Path]) -> pd.DataFrame:
    """All rows of the given ``metrics.json`` files as one tidy DataFrame (input order kept)."""
    frames = []
    for order, path in enumerate(paths):
        try:
            rows = json.loads(Path(path).read_text())["rows"]
        except FileNotFoundError as error:
            raise DataError(f"{path}: metrics file is missing") from error
        except (json.JSONDecodeError, KeyError) as error:
            raise DataError(f"{path}: not a metrics.json file ({error})") from error
        frame = pd.DataFrame(rows)
        frame["file_order"] = order
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def family(metric: str) -> str:
    """A metric's name without its evaluator: ``csim_target[synth-oracle]`` -> ``csim_target``."""
    return metric.split("[")[0]


def arrow(higher_is_better: Any) -> str:
    """↑ or ↓, or "" where neither is better (a following slope is best at 1)."""
    if higher_is_better is None or pd.isna(higher_is_better):
        return ""
    return "↑" if bool(higher_is_better) else "↓"


def kind_key(kind: str) -> tuple[int, str]:
    """Sort key of a protocol part: self, cross, then any other part by name."""
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def method_order(frame: pd.DataFrame) -> list[str]:
    """Methods in the order their metric files were given (ties: the order of the rows)."""
    return list(dict.fromkeys(frame.sort_values("file_order", kind="stable")["method"]))


def base_method(method: str) -> str:
    """The trained method a row belongs to: ``pose_ae (untrained)`` -> ``pose_ae``."""
    return method.removesuffix(UNTRAINED_SUFFIX)


def is_untrained(method: str) -> bool:
    """Whether a row is a method scored at its initialisation (step 0 of its first seed)."""
    return method.endswith(UNTRAINED_SUFFIX)


def interval(values: pd.Series) -> tuple[float, float]:
    """Mean lower and upper bound of the rows' 95% intervals (NaN when none has one)."""
    bounds = [
        (float(v[0]), float(v[1]))
        for v in values
        if isinstance(v, list | tuple | np.ndarray) and len(v) == 2 and np.all(np.isfinite(v))
    ]
    if not bounds:
        return float("nan"), float("nan")
    low, high = np.mean(bounds, axis=0)
    return float(low), float(high)


def seed_std(values: pd.Series) -> float:
    """Sample standard deviation (ddof 1) over seeds; NaN for a single run."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def select_rows(frame: pd.DataFrame, prefix: str, families: Sequence[str]) -> pd.DataFrame:
    """Rows of protocols starting with ``prefix`` and of the given metric families."""
    if frame.empty or "protocol" not in frame:
        return frame.iloc[0:0].assign(value=pd.Series(dtype=float))
    rows = frame[frame["protocol"].astype(str).str.startswith(prefix)].copy()
    rows = rows[rows["metric"].map(family).isin(families)]
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce").astype(float)
    return rows


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (protocol, K, method, metric) in display order.

    Columns: the keys, ``mean``, ``std`` (over seeds), ``seeds``, ``n`` (smallest N),
    ``ci_low``/``ci_high`` (mean bounds of the bootstrap intervals), ``higher_is_better``,
    ``evaluator``, ``family``, ``kind`` (the protocol's part) and ``method_order``. Sorted
    by kind (self, cross, then the rest), K, method order and metric.
    """
    rows = rows.copy()
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce").astype(float)
    if "ci95" not in rows:
        rows["ci95"] = None
    order = {m: i for i, m in enumerate(method_order(rows))}
    grouped = rows.groupby(list(KEYS), sort=False)
    out = grouped.agg(
        mean=("value", "mean"),
        std=("value", seed_std),
        seeds=("seed", "nunique"),
        n=("n", "min"),
        ci_low=("ci95", lambda c: interval(c)[0]),
        ci_high=("ci95", lambda c: interval(c)[1]),
        higher_is_better=("higher_is_better", "first"),
        evaluator=("evaluator", "first"),
    ).reset_index()
    out["family"] = out["metric"].map(family)
    out["kind"] = out["protocol"].str.split("/", n=1).str[1]
    out["method_order"] = out["method"].map(order)
    out["kind_order"] = out["kind"].map(lambda kind: kind_key(str(kind))[0])
    return out.sort_values(["kind_order", "k", "method_order", "metric"], kind="stable")


def cell(mean: float, std: float, digits: int) -> str:
    """A table cell: ``mean ± std``, the mean alone for one run, ``n/a`` without a mean."""
    if np.isnan(mean):
        return "n/a"
    if np.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"
