"""Paper figures: a pure function of the stored ``metrics.json`` files.

Like the tables, every figure is rebuilt from the metrics alone and is byte-identical for
identical inputs: figures are drawn on the Agg canvas without pyplot, under matplotlib's
default style, at a fixed size and dpi, and saved without timestamps or version strings.
Each figure is written as PNG (for the terminal and the HTML report) and PDF (for papers).
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from bench.report.tables import (
    PAIRS_TITLES,
    YAW_GAP_BINS,
    primary_pairs,
    read_metrics,
    verification_rows_frame,
)

log = logging.getLogger(__name__)

#: Pose-transfer metric families drawn as grouped bars (one figure each).
BAR_FAMILIES = (
    "ssim", "csim_target", "csim_source", "pose_error", "yaw_follow_slope", "yaw_follow_r",
)  # fmt: skip
#: A dashed line at the value that means "follows the driver" (bench.metrics.following).
FOLLOW_LINES = {"yaw_follow_slope": 1.0, "yaw_follow_r": 1.0}
#: Families drawn against K (one row of panels each, when present).
KSHOT_FAMILIES = ("ssim", "csim_target", "pose_error", "fid", "fd", "kid")
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
KIND_ORDER = ("self", "cross")
KIND_TITLES = {
    "self": "self (driver = source identity)",
    "cross": "cross (driver = another identity)",
}

DPI = 150
BAR_FIGURE_WIDTH = 8.0
BAR_PANEL_HEIGHT = 3.6
KSHOT_PANEL_SIZE = (3.6, 2.7)
KSHOT_LEGEND_WIDTH = 1.8
PNG_METADATA: dict[str, Any] = {"Software": None}
PDF_METADATA: dict[str, Any] = {
    "CreationDate": None,
    "ModDate": None,
    "Producer": None,
    "Creator": None,
}
#: On top of matplotlib's default style, so a user's matplotlibrc cannot change the bytes.
RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "pdf.fonttype": 42,
    "hatch.linewidth": 0.6,
}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
WRAP = 90


def _family(metric: str) -> str:
    return metric.split("[")[0]


def _arrow(higher_is_better: Any) -> str:
    if higher_is_better is None or pd.isna(higher_is_better):
        return ""
    return " ↑" if bool(higher_is_better) else " ↓"


def _kind_key(kind: str) -> tuple[int, str]:
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def method_order(frame: pd.DataFrame) -> list[str]:
    """Methods in the order their metric files were given (as the tables order them)."""
    return list(dict.fromkeys(frame.sort_values("file_order", kind="stable")["method"]))


def _pose_transfer_rows(frame: pd.DataFrame, families: Sequence[str]) -> pd.DataFrame:
    """Pose-transfer rows of the given families with a finite value, plus ``family``/``kind``."""
    if frame.empty or "protocol" not in frame:
        return frame.iloc[0:0]
    rows = frame[frame["protocol"].astype(str).str.startswith("pose_transfer/")].copy()
    rows["family"] = rows["metric"].map(_family)
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    rows = rows[rows["family"].isin(families) & np.isfinite(rows["value"])]
    rows["kind"] = rows["protocol"].str.split("/", n=1).str[1]
    rows["k"] = rows["k"].astype(int)
    return rows


def _interval(values: pd.Series) -> tuple[float, float]:
    """Mean lower and upper bound of the rows' bootstrap intervals (NaN when none has one)."""
    bounds = [
        (float(v[0]), float(v[1]))
        for v in values
        if isinstance(v, list | tuple | np.ndarray) and len(v) == 2 and np.all(np.isfinite(v))
    ]
    if not bounds:
        return float("nan"), float("nan")
    low, high = np.mean(bounds, axis=0)
    return float(low), float(high)


def _aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (metric, kind, K, method) with the error bar each bar gets."""
    columns = [
        "metric", "family", "kind", "k", "method", "mean", "std", "seeds", "ci_low", "ci_high",
        "err_low", "err_high", "err", "err_source", "higher_is_better", "evaluator",
    ]  # fmt: skip
    if rows.empty:
        return pd.DataFrame(columns=columns)
    order = {m: i for i, m in enumerate(method_order(rows))}
    records = []
    for (metric, kind, k, method), group in rows.groupby(["metric", "kind", "k", "method"]):
        values = group["value"].to_numpy(float)
        seeds = int(group["seed"].nunique())
        mean = float(values.mean())
        std = float(np.std(values, ddof=1)) if seeds >= 2 else float("nan")
        ci_low, ci_high = _interval(group["ci95"]) if "ci95" in group else (np.nan, np.nan)
        if seeds >= 2:
            err_low = err_high = err = std
            source = "std"
        elif np.isfinite(ci_low):
            err_low, err_high = max(mean - ci_low, 0.0), max(ci_high - mean, 0.0)
            err, source = (ci_high - ci_low) / 2, "ci95"
        else:
            err_low = err_high = err = float("nan")
            source = "none"
        records.append(
            {
                "metric": metric,
                "family": _family(metric),
                "kind": kind,
                "k": int(k),
                "method": method,
                "mean": mean,
                "std": std,
                "seeds": seeds,
                "ci_low": ci_low,
                "ci_high": ci_high,
                "err_low": err_low,
                "err_high": err_high,
                "err": err,
                "err_source": source,
                "higher_is_better": group["higher_is_better"].iloc[0],
                "evaluator": group["evaluator"].iloc[0],
            }
        )
    table = pd.DataFrame(records, columns=columns)
    keys = table.apply(
        lambda r: (r["metric"], _kind_key(r["kind"]), r["k"], order[r["method"]]), axis=1
    )
    return table.iloc[sorted(range(len(table)), key=lambda i: keys.iloc[i])].reset_index(drop=True)


def bar_table(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    """What the figures plot for one pose-transfer family: one row per (metric, kind, K, method).

    ``mean`` is the mean over seeds; the error bar is the sample std over seeds when there are
    at least 2 seeds (``err_source`` "std"), else the mean of the rows' 95% bootstrap interval
    ("ci95", asymmetric: ``err_low``/``err_high``), else none. ``err`` is the half-width.
    """
    return _aggregate(_pose_transfer_rows(frame, [family]))


def accuracy_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Verification accuracy per (method, code, distance, pairs): mean over seeds, mean LFW SE.

    ``pairs`` is the pairs file's kind (cross_scene, same_scene; scene_unchecked for rows
    without one); ``reference`` marks the scene-only rows, ``leakage`` the non-identity codes.
    """
    columns = [
        "method", "code", "distance", "pairs", "leakage", "reference", "mean", "sem", "seeds",
    ]  # fmt: skip
    rows = verification_rows_frame(frame)
    rows = rows[(rows["key"] == "accuracy") & np.isfinite(rows["value"])]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    order = {m: i for i, m in enumerate(method_order(rows))}
    records = [
        {
            "method": method,
            "code": code,
            "distance": distance,
            "pairs": pairs,
            "leakage": code != "identity" and protocol != "representation/reference",
            "reference": protocol == "representation/reference",
            "mean": float(group["value"].mean()),
            "sem": float(pd.to_numeric(group["sem"], errors="coerce").mean()),
            "seeds": int(group["seed"].nunique()),
        }
        for (method, code, distance, pairs, protocol), group in rows.groupby(
            ["method", "code", "distance", "pairs", "protocol"]
        )
    ]
    records.sort(
        key=lambda r: (
            not r["reference"], order[r["method"]], r["code"] != "identity", r["code"],
            r["distance"], r["pairs"] == "same_scene", r["pairs"],
        )
    )  # fmt: skip
    return pd.DataFrame(records, columns=columns)


def yaw_gap_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per yaw-gap bin on the protocol's pairs, per (method, code, distance).

    Mean over seeds; ``n`` is the pairs in the bin. The protocol's pairs are the
    cross-scene ones where the dataset has them, else ``pairs.txt`` as given.
    """
    columns = ["method", "code", "distance", "reference", "bin", "mean", "n"]
    rows = verification_rows_frame(frame)
    rows = rows[rows["key"].astype(str).str.startswith("accuracy_yaw_gap_")]
    rows = rows[(rows["pairs"] == primary_pairs(rows)) & np.isfinite(rows["value"])]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    labels = {f"accuracy_yaw_gap_{suffix}": label for suffix, label in YAW_GAP_BINS}
    order = {m: i for i, m in enumerate(method_order(rows))}
    records = [
        {
            "method": method,
            "code": code,
            "distance": distance,
            "reference": protocol == "representation/reference",
            "bin": labels[key],
            "mean": float(group["value"].mean()),
            "n": int(group["n"].max()),
        }
        for (method, code, distance, key, protocol), group in rows.groupby(
            ["method", "code", "distance", "key", "protocol"]
        )
    ]
    bins = [label for _, label in YAW_GAP_BINS]
    records.sort(
        key=lambda r: (
            not r["reference"], order[r["method"]], r["code"] != "identity", r["code"],
            r["distance"], bins.index(r["bin"]),
        )
    )  # fmt: skip
    return pd.DataFrame(records, columns=columns)


def series_colours(rows: pd.DataFrame) -> dict[tuple[str, int], Any]:
    """One colour per (kind, K): blues for self, oranges for cross, darker for larger K."""
    maps = ("Blues", "Oranges", "Greens", "Purples", "Greys")
    colours: dict[tuple[str, int], Any] = {}
    kinds = sorted(rows["kind"].unique(), key=_kind_key)
    for index, kind in enumerate(kinds):
        ks = sorted(int(k) for k in rows.loc[rows["kind"] == kind, "k"].unique())
        shades = np.linspace(0.45, 0.85, len(ks)) if len(ks) > 1 else [0.65]
        cmap = matplotlib.colormaps[maps[min(index, len(maps) - 1)]]
        colours.update({(kind, k): cmap(float(s)) for k, s in zip(ks, shades, strict=True)})
    return colours


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` with no timestamp or version in either."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    figure.savefig(png, format="png", dpi=DPI, metadata=PNG_METADATA)
    subsetter = logging.getLogger("fontTools")  # its per-glyph INFO lines would flood job logs
    level = subsetter.level
    subsetter.setLevel(max(level, logging.WARNING))
    try:
        figure.savefig(pdf, format="pdf", dpi=DPI, metadata=PDF_METADATA)
    finally:
        subsetter.setLevel(level)
    log.info("wrote %s and %s", png, pdf)
    return [png, pdf]


@contextmanager
def _styled() -> Iterator[None]:
    """matplotlib's default style plus ``RC``, independent of the user's matplotlibrc."""
    with matplotlib.style.context("default"), matplotlib.rc_context(RC):
        yield


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
        parts.append(
            f"{words} ({'every method' if len(names) == len(methods) else ', '.join(names)})"
        )
    return "\n".join(textwrap.wrap("error bars: " + " | ".join(parts), WRAP))


def _method_ticks(axis: Any, methods: list[str]) -> None:
    """Method names under their bar groups, slanted when there are many of them."""
    if len(methods) > 5:
        axis.set_xticks(
            np.arange(len(methods)), methods, rotation=35, ha="right", rotation_mode="anchor"
        )
    else:
        axis.set_xticks(np.arange(len(methods)), methods)


def _bar_width(methods: list[str]) -> float:
    return max(BAR_FIGURE_WIDTH, 3.0 + 0.5 * len(methods))


def _bar_figure(
    table: pd.DataFrame,
    colours: dict[tuple[str, int], Any],
    title: str,
    methods: list[str],
    missing: pd.DataFrame | None = None,
    footer: str = "",
    metrics: list[str] | None = None,
) -> Figure:
    """One panel per metric; in each, a group of bars per method, one bar per (kind, K).

    ``missing`` lists (metric, kind, k, method) rows that exist but have no finite value:
    their place is marked "n/a" rather than left looking like a zero.
    """
    metrics = metrics or list(dict.fromkeys(table["metric"]))
    if missing is None:
        missing = table.iloc[0:0]
    present = set(table["method"]) | set(missing["method"])
    methods = [m for m in methods if m in present]
    footer_lines = textwrap.wrap(footer, WRAP) if footer else []
    figure = _new_figure(
        _bar_width(methods), BAR_PANEL_HEIGHT * len(metrics) + 0.14 * len(footer_lines)
    )
    axes = figure.subplots(len(metrics), 1, squeeze=False)[:, 0]
    legend: dict[str, Any] = {}
    for axis, metric in zip(axes, metrics, strict=True):
        rows = table[table["metric"] == metric]
        absent = missing[missing["metric"] == metric]
        series = sorted(
            {(str(kind), int(k)) for kind, k in zip(rows["kind"], rows["k"], strict=True)}
            | {(str(kind), int(k)) for kind, k in zip(absent["kind"], absent["k"], strict=True)},
            key=lambda s: (_kind_key(s[0]), s[1]),
        )
        width = 0.8 / len(series)
        for index, (kind, k) in enumerate(series):
            chosen = rows[(rows["kind"] == kind) & (rows["k"] == k)].set_index("method")
            chosen = chosen.reindex(methods)
            positions = np.arange(len(methods)) + (index - (len(series) - 1) / 2) * width
            label = f"{kind}, K={k}" if kind in KIND_ORDER else kind
            bars = axis.bar(
                positions,
                chosen["mean"].to_numpy(float),
                width,
                yerr=np.nan_to_num(chosen[["err_low", "err_high"]].to_numpy(float).T),
                capsize=2,
                error_kw={"elinewidth": 0.8, "capthick": 0.8},
                color=colours[(kind, k)],
                edgecolor="0.25",
                linewidth=0.4,
                label=label,
            )
            legend.setdefault(label, bars)
            gaps = absent[(absent["kind"] == kind) & (absent["k"] == k)]
            for method in gaps["method"]:
                if method in methods:
                    axis.text(
                        positions[methods.index(method)], 0.0, "n/a", rotation=90,
                        ha="center", va="bottom", fontsize=6, color="0.35",
                    )  # fmt: skip
        higher = rows["higher_is_better"].iloc[0]
        axis.set_ylabel(f"{metric}{_arrow(higher)}")
        _method_ticks(axis, methods)
        axis.set_xlim(-0.6, len(methods) - 0.4)
        note = _errorbar_note(rows, methods)
        if axis is axes[-1] and footer_lines:
            note += "\n" + "\n".join(footer_lines)
        axis.set_xlabel(note if len(methods) > 5 else "method\n" + note)
        axis.grid(axis="y", linewidth=0.4, alpha=0.5)
        axis.set_axisbelow(True)
    figure.legend(
        list(legend.values()), list(legend), loc="outside right upper",
        title="protocol, K" if set(table["kind"]) <= set(KIND_ORDER) else "part", frameon=False,
    )  # fmt: skip
    figure.suptitle(title)
    return figure


def pose_transfer_bars(frame: pd.DataFrame, out_dir: Path, dataset: str) -> list[Path]:
    """One grouped bar chart per pose-transfer family: ``<dataset>_pose_transfer_<family>``."""
    rows = _pose_transfer_rows(frame, BAR_FAMILIES)
    if rows.empty:
        log.info("%s: no pose-transfer rows; no bar figures", dataset)
        return []
    colours = series_colours(rows)
    stats = _aggregate(rows)
    methods = method_order(rows)
    written = []
    for family in BAR_FAMILIES:
        table = stats[stats["family"] == family]
        if table.empty:
            log.info("%s: no %s rows; no figure", dataset, family)
            continue
        with _styled():
            figure = _bar_figure(
                table, colours, f"{dataset}: pose transfer, {FAMILY_TITLES[family]}", methods
            )
            for axis in figure.axes if family in FOLLOW_LINES else []:
                axis.axhline(FOLLOW_LINES[family], linestyle="--", linewidth=0.9, color="0.3")
            written += _save(figure, Path(out_dir) / f"{dataset}_pose_transfer_{family}")
    return written


#: The method tables drawn as bar charts: protocol prefix, metric families (None: all), title.
TABLE_FIGURES: dict[str, tuple[str, tuple[str, ...] | None, str]] = {
    "reconstruction": ("reconstruction/", None, "reconstruction and sampling"),
    "disentanglement": ("disentanglement/", None, "disentanglement against exact factors"),
    "pose_transfer_faces": (
        "pose_transfer/",
        ("face_found", "csim_target", "csim_source", "aed", "akd", "pose_error"),
        "pose transfer scored by pretrained face evaluators",
    ),
}


def _table_rows(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rows of one method table (all values, NaN included) with ``family``/``kind``/``k``."""
    prefix, families, _ = TABLE_FIGURES[table]
    if frame.empty or "protocol" not in frame:
        return frame.iloc[0:0]
    rows = frame[frame["protocol"].astype(str).str.startswith(prefix)].copy()
    rows["family"] = rows["metric"].map(_family)
    if families is not None:
        rows = rows[rows["family"].isin(families)]
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce")
    rows["kind"] = rows["protocol"].str.split("/", n=1).str[1]
    rows["k"] = rows["k"].fillna(1).astype(int) if "k" in rows else 1
    if "ci95" not in rows:
        rows["ci95"] = None
    return rows


def table_figure(frame: pd.DataFrame, dataset: str, table: str) -> Figure | None:
    """A method table as bar charts: one panel per metric with a value (None: no rows).

    Error bars as in the pose-transfer bars (std over seeds, else the 95% bootstrap interval).
    A method whose score is n/a gets an "n/a" mark in place of its bar; a metric that is n/a
    for every method gets no panel and is named under the figure. Call inside ``_styled()``.
    """
    if table not in TABLE_FIGURES:
        raise ValueError(f"no bar figure for table {table!r}; known: {sorted(TABLE_FIGURES)}")
    rows = _table_rows(frame, table)
    if rows.empty:
        return None
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
    title = f"{dataset}: {TABLE_FIGURES[table][2]}"
    if finite.empty:
        figure = _new_figure(BAR_FIGURE_WIDTH, 2.0)
        axis = figure.subplots()
        axis.set_axis_off()
        axis.text(0.5, 0.5, "\n".join(textwrap.wrap(footer, 70)), ha="center", va="center")
        figure.suptitle(title)
        return figure
    return _bar_figure(
        _aggregate(finite), series_colours(rows), title, method_order(rows), missing, footer,
        metrics=list(dict.fromkeys(finite["metric"])),
    )  # fmt: skip


def table_bars(frame: pd.DataFrame, out_dir: Path, dataset: str, table: str) -> list[Path]:
    """Write ``<dataset>_<table>.png`` and ``.pdf`` (see ``table_figure``); [] without rows."""
    with _styled():
        figure = table_figure(frame, dataset, table)
        if figure is None:
            log.info("%s: no %s rows; no figure", dataset, table)
            return []
        return _save(figure, Path(out_dir) / f"{dataset}_{table}")


def kshot_curves(frame: pd.DataFrame, out_dir: Path, dataset: str) -> list[Path]:
    """Each family against K (log2 axis), one line per method, one panel column per kind."""
    rows = _pose_transfer_rows(frame, KSHOT_FAMILIES)
    if rows.empty:
        log.info("%s: no pose-transfer rows; no K-shot figure", dataset)
        return []
    stats = _aggregate(rows)
    metrics = sorted(
        dict.fromkeys(stats["metric"]), key=lambda m: (KSHOT_FAMILIES.index(_family(m)), m)
    )
    kinds = sorted(stats["kind"].unique(), key=_kind_key)
    methods = method_order(rows)
    ks = sorted(int(k) for k in stats["k"].unique())
    cmap = matplotlib.colormaps["tab10"]
    with _styled():
        figure = _new_figure(
            KSHOT_PANEL_SIZE[0] * len(kinds) + KSHOT_LEGEND_WIDTH,
            KSHOT_PANEL_SIZE[1] * len(metrics),
        )
        axes = figure.subplots(len(metrics), len(kinds), squeeze=False)
        for row, metric in enumerate(metrics):
            for column, kind in enumerate(kinds):
                axis = axes[row, column]
                panel = stats[(stats["metric"] == metric) & (stats["kind"] == kind)]
                for index, method in enumerate(methods):
                    line = panel[panel["method"] == method].sort_values("k")
                    if line.empty:
                        continue
                    dodge = 2.0 ** ((index - (len(methods) - 1) / 2) * 0.04)
                    x = line["k"].to_numpy(float) * dodge
                    colour = cmap(index % cmap.N)
                    axis.plot(
                        x, line["mean"], marker=MARKERS[index % len(MARKERS)], markersize=4,
                        linewidth=1.2, color=colour, label=method,
                    )  # fmt: skip
                    has_std = np.isfinite(line["std"].to_numpy(float))
                    if has_std.any():
                        axis.errorbar(
                            x[has_std], line["mean"].to_numpy(float)[has_std],
                            yerr=line["std"].to_numpy(float)[has_std], fmt="none",
                            ecolor=colour, elinewidth=0.8, capsize=2,
                        )  # fmt: skip
                axis.set_xscale("log", base=2)
                axis.set_xticks(ks, [str(k) for k in ks])
                axis.xaxis.set_minor_locator(NullLocator())
                axis.set_xlim(ks[0] / 1.6, ks[-1] * 1.6)
                axis.grid(linewidth=0.4, alpha=0.5)
                if row == 0:
                    axis.set_title(KIND_TITLES.get(kind, kind))
                if row == len(metrics) - 1:
                    axis.set_xlabel("K (source images, log2 axis)")
                if column == 0:
                    higher = stats.loc[stats["metric"] == metric, "higher_is_better"].iloc[0]
                    axis.set_ylabel(f"{metric}{_arrow(higher)}")
        handles, labels = {}, {}
        for axis in axes.flat:
            for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
                labels.setdefault(label, label)
        ordered = [m for m in methods if m in handles]
        figure.legend(
            [handles[m] for m in ordered], ordered, loc="outside right upper", frameon=False,
            title="method\n(mean over seeds;\nerror bars: std over\nseeds, where ≥ 2)",
        )  # fmt: skip
        figure.suptitle(f"{dataset}: pose transfer against the number of source images K")
        return _save(figure, Path(out_dir) / f"{dataset}_kshot")


def _verification_distance(table: pd.DataFrame) -> str:
    """The distance the figure draws: cosine where present (both are in the table)."""
    distances = sorted(set(table["distance"]))
    return "cosine" if "cosine" in distances else distances[0]


def _scene_lines(axis: Any, scene: pd.DataFrame, primary: str) -> None:
    """The scene-only accuracies as horizontal lines across the panel."""
    for pairs, style in ((primary, ":"), ("same_scene", "-.")):
        chosen = scene[scene["pairs"] == pairs]
        if len(chosen):
            value = float(chosen["mean"].iloc[0])
            axis.axhline(
                value, linestyle=style, linewidth=1.1, color="0.35",
                label=f"scene only, {PAIRS_TITLES[pairs]} ({value:.3f})",
            )  # fmt: skip


def verification_bars(frame: pd.DataFrame, out_dir: Path, dataset: str) -> list[Path]:
    """Protocol 2 at a glance: accuracy on cross-scene and same-scene pairs per (method, code)
    against the scene-only reference, and the identity code's accuracy per yaw gap."""
    table = accuracy_table(frame)
    if table.empty:
        log.info("%s: no verification rows; no figure", dataset)
        return []
    distance = _verification_distance(table)
    table = table[table["distance"] == distance]
    primary = primary_pairs(table)
    gaps = yaw_gap_table(frame)
    gaps = gaps[(gaps["distance"] == distance) & ((gaps["code"] == "identity") | gaps["reference"])]
    methods = list(dict.fromkeys(table["method"]))  # the scene reference first
    panels = 2 if len(gaps) else 1
    with _styled():
        figure = _new_figure(_bar_width(methods), BAR_PANEL_HEIGHT * panels + 0.6)
        axes = np.atleast_1d(figure.subplots(panels, 1))
        axis = axes[0]
        _verification_accuracy_panel(axis, table, methods, primary)
        _scene_lines(axis, table[table["reference"]], primary)
        axis.axhline(0.5, linestyle="--", linewidth=1.0, color="0.3", label="chance (0.5)")
        axis.set_ylim(0.0, max(1.0, float((table["mean"] + table["sem"].fillna(0)).max()) + 0.02))
        axis.set_ylabel(f"accuracy ({distance})")
        title = (
            f"verification accuracy on {PAIRS_TITLES[primary]} (solid) and same-scene (pale) "
            "matched pairs"
        )
        axis.set_title("\n".join(textwrap.wrap(title, 80)))
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
        if panels == 2:
            _yaw_gap_panel(axes[1], gaps, methods, primary)
        for panel in axes:
            _verification_ticks(panel, methods)
            panel.grid(axis="y", linewidth=0.4, alpha=0.5)
            panel.set_axisbelow(True)
        axes[-1].set_xlabel(
            "method\n"
            + "\n".join(
                textwrap.wrap(
                    f"{distance} distance (squared L2 in the table) | error bars: LFW standard "
                    "error over the 10 folds, averaged over seeds | identity code: higher is "
                    "better; hatched leakage codes: 0.5 means no identity leaks into the code; "
                    "read them against the scene-only lines",
                    WRAP,
                )
            )
        )
        figure.suptitle(f"{dataset}: verification of codes (protocol 2)")
        return _save(figure, Path(out_dir) / f"{dataset}_verification")


def _verification_accuracy_panel(
    axis: Any, table: pd.DataFrame, methods: list[str], primary: str
) -> None:
    """One bar per (code, pairs file) of each method, centred in the method's slot: solid on
    the protocol's pairs, pale on same-scene pairs; leakage codes hatched, the scene grey."""
    codes = sorted(set(table.loc[~table["reference"], "code"]), key=lambda c: (c != "identity", c))
    colours = {code: matplotlib.colormaps["tab10"](i % 10) for i, code in enumerate(codes)}
    order = [(c, p) for c in ["scene", *codes] for p in (primary, "same_scene")]
    present = {
        m: [s for s in order if ((table["method"] == m) & (table["code"] == s[0])
                                 & (table["pairs"] == s[1])).any()]
        for m in methods
    }  # fmt: skip
    width = 0.8 / max(len(bars) for bars in present.values())
    for code, pairs in order:
        chosen = table[(table["code"] == code) & (table["pairs"] == pairs)]
        if chosen.empty:
            continue
        places = [
            methods.index(m) + (present[m].index((code, pairs)) - (len(present[m]) - 1) / 2) * width
            for m in chosen["method"]
        ]
        reference = bool(chosen["reference"].iloc[0])
        label = (
            f"scene-only code, {PAIRS_TITLES[pairs]}"
            if reference
            else f"{code} code, {PAIRS_TITLES[pairs]}"
            + (" (leakage)" if code != "identity" else "")
        )
        axis.bar(
            places,
            chosen["mean"].to_numpy(float),
            width,
            yerr=np.nan_to_num(chosen["sem"].to_numpy(float)),
            capsize=2,
            error_kw={"elinewidth": 0.8, "capthick": 0.8},
            color="0.55" if reference else colours[code],
            alpha=0.4 if pairs == "same_scene" else 1.0,
            edgecolor="0.25",
            linewidth=0.4,
            hatch="///" if not reference and code != "identity" else None,
            label=label,
        )


def _verification_ticks(axis: Any, methods: list[str]) -> None:
    """Method names under their slots, slanted unless there are few short ones."""
    if len(methods) > 4 or max(len(m) for m in methods) > 12:
        axis.set_xticks(
            np.arange(len(methods)), methods, rotation=30, ha="right", rotation_mode="anchor"
        )
    else:
        axis.set_xticks(np.arange(len(methods)), methods)


def _yaw_gap_panel(axis: Any, gaps: pd.DataFrame, methods: list[str], primary: str) -> None:
    """The identity code's (and the scene row's) accuracy per yaw-gap bin, n in the legend."""
    bins = [label for _, label in YAW_GAP_BINS]
    shades = matplotlib.colormaps["Blues"](np.linspace(0.45, 0.9, len(bins)))
    width = 0.8 / len(bins)
    for index, label in enumerate(bins):
        chosen = gaps[gaps["bin"] == label].set_index("method").reindex(methods)
        count = chosen["n"].dropna()
        axis.bar(
            np.arange(len(methods)) + (index - (len(bins) - 1) / 2) * width,
            chosen["mean"].to_numpy(float),
            width,
            color=shades[index],
            edgecolor="0.25",
            linewidth=0.4,
            label=f"|Δyaw| {label}° ({int(count.iloc[0])} pairs)" if len(count) else label,
        )
    axis.axhline(0.5, linestyle="--", linewidth=1.0, color="0.3")
    axis.set_ylim(0.0, 1.0)
    axis.set_ylabel("accuracy")
    title = (
        f"accuracy per yaw gap between a pair's images ({PAIRS_TITLES[primary]} pairs, fold "
        "thresholds): identity code; scene-only code for the reference"
    )
    axis.set_title("\n".join(textwrap.wrap(title, 80)))
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)


def write_figures(metric_files: Sequence[Path], out_dir: Path, dataset: str) -> list[Path]:
    """Every figure the given ``metrics.json`` files have data for (PNG and PDF each)."""
    frame = read_metrics(metric_files)
    return [
        *pose_transfer_bars(frame, out_dir, dataset),
        *kshot_curves(frame, out_dir, dataset),
        *verification_bars(frame, out_dir, dataset),
    ]
