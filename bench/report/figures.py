"""Paper figures: a pure function of the stored ``metrics.json`` files.

Every figure formats ``bench.report.summary.summarize`` (the numbers the tables print)
and is byte-identical for identical inputs (``bench.report.plotting``). Bar charts run the
methods down the y axis with each untrained row pale right below its method; the K-shot
figure draws one colour per method family and puts the untrained rows in panels of their
own. Each figure is written as PNG (terminal, HTML report) and PDF (papers).
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bench.report.kshot import kshot_curves
from bench.report.plotting import (
    bar_alphas,
    method_axis,
    new_figure,
    save,
    series_colours,
    series_label,
    slot_inches,
    styled,
    untrained_beside,
)
from bench.report.registry import POSE_TRANSFER_BAR_FAMILIES, TABLES
from bench.report.summary import (
    arrow,
    kind_key,
    method_order,
    read_metrics,
    select_rows,
    summarize,
)
from bench.report.verification_figure import accuracy_table, verification_bars, yaw_gap_table

__all__ = [
    "accuracy_table", "bar_table", "kshot_curves", "pose_transfer_bars", "table_bars",
    "table_figure", "verification_bars", "write_figures", "yaw_gap_table",
]  # fmt: skip

log = logging.getLogger(__name__)

BAR_FAMILIES = POSE_TRANSFER_BAR_FAMILIES
#: A dashed line at the value that means "follows the driver" (bench.metrics.following).
FOLLOW_LINES = {"yaw_follow_slope": 1.0, "yaw_follow_r": 1.0}
FAMILY_TITLES = {
    "ssim": "SSIM to the target",
    "csim_target": "identity similarity to the target (CSIM tgt)",
    "csim_source": "identity similarity to the sources (CSIM src)",
    "pose_error": "pose error to the driver (degrees)",
    "yaw_follow_slope": "yaw slope (1 = follows the driver, 0 = ignores it)",
    "yaw_follow_r": "yaw r (output vs driver yaw)",
    "fid": "FID (Inception)",
    "fd": "Fréchet distance (identity features)",
    "kid": "KID (identity features)",
}
#: Bar panels per row of a figure, and each panel's width in inches.
PANEL_COLUMNS = 3
PANEL_WIDTH = 3.2
WRAP = 110


def with_error_bars(stats: pd.DataFrame) -> pd.DataFrame:
    """Add each bar's error: the std over seeds where there are at least 2 seeds
    (``err_source`` "std"), else the mean 95% bootstrap interval ("ci95", asymmetric:
    ``err_low``/``err_high``), else none. ``err`` is the half-width."""
    stats = stats.copy()
    by_std = (stats["seeds"] >= 2) & np.isfinite(stats["std"])
    by_ci = ~by_std & np.isfinite(stats["ci_low"])
    stats["err_source"] = np.where(by_std, "std", np.where(by_ci, "ci95", "none"))
    stats["err_low"] = np.where(
        by_std, stats["std"], np.where(by_ci, (stats["mean"] - stats["ci_low"]).clip(0), np.nan)
    )
    stats["err_high"] = np.where(
        by_std, stats["std"], np.where(by_ci, (stats["ci_high"] - stats["mean"]).clip(0), np.nan)
    )
    stats["err"] = np.where(
        by_std, stats["std"], np.where(by_ci, (stats["ci_high"] - stats["ci_low"]) / 2, np.nan)
    )
    stats["std"] = stats["std"].where(stats["seeds"] >= 2)
    return stats.reset_index(drop=True)


def bar_table(frame: pd.DataFrame, family_name: str) -> pd.DataFrame:
    """What the figures plot for one pose-transfer family: one row per (metric, kind, K,
    method) with a finite mean, in the tables' order, with its error bar (``with_error_bars``)."""
    rows = select_rows(frame, "pose_transfer/", [family_name])
    rows = rows[np.isfinite(rows["value"])]
    if rows.empty:
        return pd.DataFrame(columns=["metric", "kind", "k", "method", "mean", "err"])
    stats = with_error_bars(summarize(rows))
    stats["k"] = stats["k"].astype(int)
    return stats.sort_values("metric", kind="stable").reset_index(drop=True)


def _errorbar_note(table: pd.DataFrame, methods: list[str]) -> str:
    """Which error bar each method's bars carry, in words."""
    parts = []
    for source, words in (
        ("std", "std over seeds"),
        ("ci95", "95% bootstrap CI over test tuples, 1 seed"),
        ("none", "none, 1 seed without an interval"),
    ):
        chosen = table[table["err_source"] == source]
        if chosen.empty:
            continue
        names = [m for m in methods if m in set(chosen["method"])]
        if source == "std":
            seeds = chosen.groupby("method")["seeds"].max()
            if seeds.nunique() == 1 and len(names) == len(methods):
                parts.append(f"{words} ({int(seeds.iloc[0])} seeds, every method)")
                continue
            names = [f"{m}: {seeds[m]} seeds" for m in names]
        every = len(names) == len(methods)
        parts.append(f"{words} ({'every method' if every else ', '.join(names)})")
    return "error bars: " + " | ".join(parts)


def _bar_panel(
    axis: Any, rows: pd.DataFrame, absent: pd.DataFrame, methods: list[str], colours: dict
) -> dict[str, Any]:
    """One metric: per method a slot of horizontal bars, one per (kind, K); "n/a" marks a
    row that exists without a finite value. Returns the legend handles by label."""
    series = sorted(
        {(str(kind), int(k)) for kind, k in zip(rows["kind"], rows["k"], strict=True)}
        | {(str(kind), int(k)) for kind, k in zip(absent["kind"], absent["k"], strict=True)},
        key=lambda s: (kind_key(s[0]), s[1]),
    )
    height = 0.8 / len(series)
    legend = {}
    for index, (kind, k) in enumerate(series):
        chosen = rows[(rows["kind"] == kind) & (rows["k"] == k)].set_index("method")
        chosen = chosen.reindex(methods)
        places = np.arange(len(methods)) + (index - (len(series) - 1) / 2) * height
        bars = axis.barh(
            places,
            chosen["mean"].to_numpy(float),
            height,
            xerr=np.nan_to_num(chosen[["err_low", "err_high"]].to_numpy(float).T),
            capsize=1.5,
            error_kw={"elinewidth": 0.7, "capthick": 0.7},
            color=colours[(kind, k)],
            edgecolor="0.25",
            linewidth=0.3,
            label=series_label(kind, k),
        )
        for bar, alpha in zip(bars, bar_alphas(methods), strict=True):
            bar.set_alpha(alpha)
        legend.setdefault(series_label(kind, k), bars)
        gaps = absent[(absent["kind"] == kind) & (absent["k"] == k)]
        for method in [m for m in gaps["method"] if m in methods]:
            axis.text(
                0.0, places[methods.index(method)], " n/a", ha="left", va="center",
                fontsize=6, color="0.35",
            )  # fmt: skip
    return legend


def _bar_figure(
    table: pd.DataFrame,
    title: str,
    methods: list[str],
    missing: pd.DataFrame | None = None,
    footer: str = "",
) -> Figure:
    """One panel per metric (side by side, ``PANEL_COLUMNS`` a row), methods down the
    shared y axis, untrained rows pale below their method. ``missing`` lists (metric, kind,
    k, method) rows that exist but have no finite value: their place says "n/a"."""
    metrics = list(dict.fromkeys(table["metric"]))
    missing = table.iloc[0:0] if missing is None else missing
    present = set(table["method"]) | set(missing["method"])
    methods = untrained_beside([m for m in methods if m in present])
    keys = set(zip(table["kind"], table["k"], strict=True))
    keys |= set(zip(missing["kind"], missing["k"].astype(int), strict=True))
    columns = min(len(metrics), PANEL_COLUMNS)
    grid_rows = -(-len(metrics) // columns)
    note = "\n".join(textwrap.wrap(_errorbar_note(table, methods), WRAP))
    note += "\n" + "\n".join(textwrap.wrap(footer, WRAP)) if footer else ""
    figure = new_figure(
        2.4 + PANEL_WIDTH * columns,
        grid_rows * (slot_inches(len(keys)) * len(methods) + 0.9) + 0.5 + 0.15 * note.count("\n"),
    )
    axes = figure.subplots(grid_rows, columns, squeeze=False, sharey=True)
    colours = series_colours(sorted(keys, key=lambda s: (kind_key(s[0]), s[1])))
    legend: dict[str, Any] = {}
    for index, axis in enumerate(axes.flat):
        if index >= len(metrics):
            axis.set_axis_off()
            continue
        metric = metrics[index]
        rows = table[table["metric"] == metric]
        panel = _bar_panel(axis, rows, missing[missing["metric"] == metric], methods, colours)
        legend.update({k: v for k, v in panel.items() if k not in legend})
        axis.set_xlabel(f"{metric} {arrow(rows['higher_is_better'].iloc[0])}".rstrip())
        method_axis(axis, methods, labels=index % columns == 0)
        axis.xaxis.set_major_locator(MaxNLocator(nbins=5))  # tick labels never run together
    # Below the panels, the notes as its title: nothing shares the top with the suptitle.
    figure.legend(
        list(legend.values()), list(legend), loc="outside lower center", frameon=False,
        ncols=min(len(legend), 4), title=note, title_fontsize=7,
    )  # fmt: skip
    # about 9 characters an inch at the suptitle's size: a long title wraps, never clips
    figure.suptitle("\n".join(textwrap.wrap(title, int(figure.get_figwidth() * 9))))
    return figure


def pose_transfer_bars(frame: pd.DataFrame, out_dir: Path, dataset: str) -> list[Path]:
    """One bar chart per pose-transfer family: ``<dataset>_pose_transfer_<family>``."""
    rows = select_rows(frame, "pose_transfer/", BAR_FAMILIES)
    if rows[np.isfinite(rows["value"])].empty:
        log.info("%s: no pose-transfer rows; no bar figures", dataset)
        return []
    methods = method_order(rows)
    written = []
    for name in BAR_FAMILIES:
        table = bar_table(frame, name)
        if table.empty:
            log.info("%s: no %s rows; no figure", dataset, name)
            continue
        with styled():
            title = f"{dataset}: pose transfer, {FAMILY_TITLES[name]}"
            figure = _bar_figure(table, title, methods)
            for axis in figure.axes if name in FOLLOW_LINES else []:
                if axis.axison:
                    axis.axvline(FOLLOW_LINES[name], linestyle="--", linewidth=0.9, color="0.3")
            written += save(figure, Path(out_dir) / f"{dataset}_pose_transfer_{name}")
    return written


#: The registered tables drawn as bar charts: protocol prefix, metric families, title.
TABLE_FIGURES: dict[str, tuple[str, tuple[str, ...], str]] = {
    t.name: (t.protocols[0], tuple(f for f, _ in t.columns), t.title.split(" (")[0])
    for t in TABLES
    if t.bar_figure
}


def table_figure(frame: pd.DataFrame, dataset: str, table: str) -> Figure | None:
    """A method table as bar charts: one panel per metric with a value (None: no rows).

    Error bars as in the pose-transfer bars (std over seeds, else the 95% bootstrap interval).
    A method whose score is n/a gets an "n/a" mark in place of its bar; a metric that is n/a
    for every method gets no panel and is named under the figure. Call inside ``styled()``.
    """
    if table not in TABLE_FIGURES:
        raise ValueError(f"no bar figure for table {table!r}; known: {sorted(TABLE_FIGURES)}")
    prefix, families, what = TABLE_FIGURES[table]
    rows = select_rows(frame, prefix, families)
    if rows.empty:
        return None
    rows["kind"] = rows["protocol"].str.split("/", n=1).str[1]
    keys = ["metric", "kind", "k", "method"]
    finite = rows[np.isfinite(rows["value"])]
    missing = rows[~np.isfinite(rows["value"])].drop_duplicates(keys)
    scored = pd.MultiIndex.from_frame(finite[keys])
    missing = missing[~pd.MultiIndex.from_frame(missing[keys]).isin(scored)]
    unplotted = [m for m in dict.fromkeys(rows["metric"]) if m not in set(finite["metric"])]
    missing = missing[~missing["metric"].isin(unplotted)]
    footer = (
        f"not plotted, n/a for every method: {', '.join(unplotted)} (reasons in the table's notes)"
        if unplotted
        else ""
    )
    title = f"{dataset}: {what}"
    if finite.empty:
        figure = new_figure(6.0, 2.0)
        axis = figure.subplots()
        axis.set_axis_off()
        axis.text(0.5, 0.5, "\n".join(textwrap.wrap(footer, 70)), ha="center", va="center")
        figure.suptitle(title)
        return figure
    stats = with_error_bars(summarize(finite))
    order = {m: i for i, m in enumerate(dict.fromkeys(finite["metric"]))}
    stats = stats.sort_values("metric", key=lambda c: c.map(order), kind="stable")
    return _bar_figure(stats, title, method_order(rows), missing, footer)


def table_bars(frame: pd.DataFrame, out_dir: Path, dataset: str, table: str) -> list[Path]:
    """Write ``<dataset>_<table>.png`` and ``.pdf`` (see ``table_figure``); [] without rows."""
    with styled():
        figure = table_figure(frame, dataset, table)
        if figure is None:
            log.info("%s: no %s rows; no figure", dataset, table)
            return []
        return save(figure, Path(out_dir) / f"{dataset}_{table}")


def write_figures(metric_files: Sequence[Path], out_dir: Path, dataset: str) -> list[Path]:
    """Every figure the given ``metrics.json`` files have data for (PNG and PDF each)."""
    frame = read_metrics(metric_files)
    return [
        *pose_transfer_bars(frame, out_dir, dataset),
        *kshot_curves(frame, out_dir, dataset),
        *verification_bars(frame, out_dir, dataset),
    ]
