"""The K-shot figure: each pose-transfer family against K, one line per method.

One colour per method family (``plotting.method_styles``: a marker and dash per member),
the untrained rows in panel columns of their own on the same y scale, so 27 rows stay
tellable apart.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from bench.report.plotting import method_styles, new_figure, save, styled
from bench.report.summary import (
    arrow,
    family,
    is_untrained,
    kind_key,
    method_order,
    select_rows,
    summarize,
)

log = logging.getLogger(__name__)

#: Families drawn against K (one row of panels each, when present).
KSHOT_FAMILIES = ("ssim", "csim_target", "pose_error", "fid", "fd", "kid")
KIND_TITLES = {"self": "self (driver = source identity)", "cross": "cross (another identity)"}
KSHOT_PANEL_SIZE = (3.0, 2.5)
KSHOT_LEGEND_WIDTH = 2.2


def _kshot_line(axis: Any, line: pd.DataFrame, dodge: float, style: dict, label: str) -> None:
    """One method's mean against K with its std over seeds where it has one."""
    x = line["k"].to_numpy(float) * dodge
    axis.plot(x, line["mean"], markersize=4, linewidth=1.2, label=label, **style)
    has_std = np.isfinite(line["std"].to_numpy(float))
    if has_std.any():
        axis.errorbar(
            x[has_std], line["mean"].to_numpy(float)[has_std],
            yerr=line["std"].to_numpy(float)[has_std], fmt="none",
            ecolor=style["color"], elinewidth=0.8, capsize=2,
        )  # fmt: skip


def _kshot_columns(stats: pd.DataFrame) -> list[tuple[str, bool]]:
    """(kind, untrained) of each panel column: trained self, cross, then untrained ones."""
    kinds = sorted(stats["kind"].unique(), key=kind_key)
    untrained = stats["method"].map(is_untrained)
    return [(k, False) for k in kinds] + [(k, True) for k in kinds if untrained.any()]


def kshot_curves(frame: pd.DataFrame, out_dir: Path, dataset: str) -> list[Path]:
    """Write ``<dataset>_kshot.png`` and ``.pdf`` (``kshot_figure``); [] without rows."""
    with styled():
        figure = kshot_figure(frame, dataset)
        if figure is None:
            log.info("%s: no pose-transfer rows; no K-shot figure", dataset)
            return []
        return save(figure, Path(out_dir) / f"{dataset}_kshot")


def kshot_figure(frame: pd.DataFrame, dataset: str) -> Figure | None:
    """Each family against K (log2 axis), one line per method, one colour per method family;
    panel columns: self, cross, then the untrained rows' self and cross on the same y.
    Call inside ``styled()``."""
    rows = select_rows(frame, "pose_transfer/", KSHOT_FAMILIES)
    rows = rows[np.isfinite(rows["value"])]
    if rows.empty:
        return None
    stats = summarize(rows)
    stats["k"] = stats["k"].astype(int)
    metrics = sorted(
        dict.fromkeys(stats["metric"]), key=lambda m: (KSHOT_FAMILIES.index(family(m)), m)
    )
    columns = _kshot_columns(stats)
    methods = method_order(rows)
    styles = method_styles(methods)
    ks = sorted(stats["k"].unique())
    figure = new_figure(
        KSHOT_PANEL_SIZE[0] * len(columns) + KSHOT_LEGEND_WIDTH,
        KSHOT_PANEL_SIZE[1] * len(metrics) + 0.6,
    )
    axes = figure.subplots(len(metrics), len(columns), squeeze=False, sharey="row")
    for (row, metric), (column, (kind, untrained)) in (
        (r, c) for r in enumerate(metrics) for c in enumerate(columns)
    ):
        axis = axes[row, column]
        panel = stats[(stats["metric"] == metric) & (stats["kind"] == kind)]
        members = [m for m in methods if is_untrained(m) == untrained]
        for index, method in enumerate(members):
            line = panel[panel["method"] == method].sort_values("k")
            if len(line):
                dodge = 2.0 ** ((index - (len(members) - 1) / 2) * 0.03)
                _kshot_line(axis, line, dodge, styles[method], method)
        axis.set_xscale("log", base=2)
        axis.set_xticks(ks, [str(k) for k in ks])
        axis.xaxis.set_minor_locator(NullLocator())
        axis.set_xlim(ks[0] / 1.6, ks[-1] * 1.6)
        axis.grid(linewidth=0.4, alpha=0.5)
        if row == 0:
            title = KIND_TITLES.get(kind, kind)
            axis.set_title(f"untrained rows, {kind}" if untrained else title)
        if row == len(metrics) - 1:
            axis.set_xlabel("K (source images)")
        if column == 0:
            higher = panel["higher_is_better"].iloc[0] if len(panel) else None
            axis.set_ylabel(f"{metric} {arrow(higher)}".rstrip())
    _kshot_legend(figure, axes, methods)
    figure.suptitle(f"{dataset}: pose transfer against the number of source images K")
    return figure


def _kshot_legend(figure: Figure, axes: Any, methods: list[str]) -> None:
    """One legend entry per method (colour = family), in method order."""
    handles = {}
    for axis in axes.flat:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    ordered = [m for m in methods if m in handles]
    figure.legend(
        [handles[m] for m in ordered], ordered, loc="outside right upper", frameon=False,
        title="method (colour: family)\nmean over seeds; error\nbars: std over seeds (≥ 2)",
    )  # fmt: skip
