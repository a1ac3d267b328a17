"""Protocol 2's figure: verification accuracy per (method, code) and per yaw gap.

Accuracy on the protocol's pairs (solid) and on same-scene pairs (pale) of each method's
codes against the scene-only reference lines, and the identity code's accuracy per yaw gap
between a pair's images; methods run down the shared y axis of the two panels, each
untrained row pale right below its method, and the figure grows with the rows.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd

from bench.report.plotting import (
    BAR_INCHES,
    bar_alphas,
    method_axis,
    new_figure,
    save,
    styled,
    untrained_beside,
)
from bench.report.summary import method_order
from bench.report.verification_table import (
    PAIRS_TITLES,
    YAW_GAP_BINS,
    primary_pairs,
    verification_rows_frame,
)

log = logging.getLogger(__name__)

WRAP = 120
#: Space between two methods' slots, in bar heights.
GAP_UNITS = 0.8


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


def _verification_distance(table: pd.DataFrame) -> str:
    """The distance the figure draws: cosine where present (both are in the table)."""
    distances = sorted(set(table["distance"]))
    return "cosine" if "cosine" in distances else distances[0]


def _scene_lines(axis: Any, scene: pd.DataFrame, primary: str) -> None:
    """The scene-only accuracies as vertical lines down the panel."""
    for pairs, style in ((primary, ":"), ("same_scene", "-.")):
        chosen = scene[scene["pairs"] == pairs]
        if len(chosen):
            value = float(chosen["mean"].iloc[0])
            axis.axvline(
                value, linestyle=style, linewidth=1.1, color="0.35",
                label=f"scene only, {PAIRS_TITLES[pairs]} ({value:.3f})",
            )  # fmt: skip


def _slots(table: pd.DataFrame, methods: list[str], order: list[tuple[str, str]]) -> dict:
    """Each method's (code, pairs) bars in ``order`` and the y of its slot's centre: a slot
    is as tall as its bars (1 unit each) plus a gap, so one method's many codes do not
    squeeze every other method's two bars."""
    present = {
        m: [s for s in order if ((table["method"] == m) & (table["code"] == s[0])
                                 & (table["pairs"] == s[1])).any()]
        for m in methods
    }  # fmt: skip
    centres, top = {}, 0.0
    for method in methods:
        span = max(len(present[method]), 2)
        centres[method] = top + span / 2
        top += span + GAP_UNITS
    return {"present": present, "centres": centres, "extent": top - GAP_UNITS}


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
    methods = untrained_beside(list(dict.fromkeys(table["method"])))  # scene reference first
    codes = sorted(set(table.loc[~table["reference"], "code"]), key=lambda c: (c != "identity", c))
    layout = _slots(
        table, methods, [(c, p) for c in ["scene", *codes] for p in (primary, "same_scene")]
    )
    panels = 2 if len(gaps) else 1
    note = (
        f"{distance} distance (squared L2 in the table) | error bars: LFW standard error over the "
        "10 folds, averaged over seeds | identity code: higher is better; hatched leakage codes: "
        "0.5 means no identity leaks into the code; read them against the scene-only lines | "
        "grey names: methods scored at their initialisation (pale bars)"
    )
    with styled():
        figure = new_figure(4.0 + 4.2 * panels, BAR_INCHES * layout["extent"] + 2.2)
        axes = np.atleast_1d(
            figure.subplots(1, panels, sharey=True, width_ratios=[1.4, 1][:panels])
        )
        _accuracy_panel(axes[0], table, methods, codes, primary, layout)
        _scene_lines(axes[0], table[table["reference"]], primary)
        axes[0].axvline(0.5, linestyle="--", linewidth=1.0, color="0.3", label="chance (0.5)")
        axes[0].set_xlim(
            0.0, max(1.0, float((table["mean"] + table["sem"].fillna(0)).max()) + 0.02)
        )
        axes[0].set_xlabel(f"accuracy ({distance})")
        title = f"accuracy on {PAIRS_TITLES[primary]} (solid) and same-scene (pale) matched pairs"
        axes[0].set_title("\n".join(textwrap.wrap(title, 60)))
        if panels == 2:
            _yaw_gap_panel(axes[1], gaps, methods, primary, layout["centres"])
        for index, axis in enumerate(axes):
            _method_ticks(axis, methods, layout, labels=index == 0)
        figure.legend(*_legend_entries(axes), loc="outside right upper", frameon=False, fontsize=7)
        figure.supxlabel("\n".join(textwrap.wrap(note, WRAP)), fontsize=7)
        figure.suptitle(f"{dataset}: verification of codes (protocol 2)")
        return save(figure, Path(out_dir) / f"{dataset}_verification")


def _legend_entries(axes: Any) -> tuple[list[Any], list[str]]:
    """Every panel's legend entries, once each, in panel order."""
    entries: dict[str, Any] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return list(entries.values()), list(entries)


def _method_ticks(axis: Any, methods: list[str], layout: dict, labels: bool) -> None:
    """Method names at their slots' centres (first at the top), untrained names grey."""
    method_axis(axis, methods, labels, [layout["centres"][m] for m in methods])
    axis.set_ylim(layout["extent"] + 0.3, -0.3)


def _accuracy_panel(
    axis: Any, table: pd.DataFrame, methods: list[str], codes: list[str], primary: str,
    layout: dict,
) -> None:  # fmt: skip
    """One bar per (code, pairs file) of each method, in the method's slot: solid on the
    protocol's pairs, pale on same-scene pairs; leakage codes hatched, the scene grey."""
    colours = {code: matplotlib.colormaps["tab10"](i % 10) for i, code in enumerate(codes)}
    present, centres = layout["present"], layout["centres"]
    for code, pairs in [(c, p) for c in ["scene", *codes] for p in (primary, "same_scene")]:
        chosen = table[(table["code"] == code) & (table["pairs"] == pairs)]
        chosen = chosen[chosen["method"].isin(methods)]
        if chosen.empty:
            continue
        places = [
            centres[m] + present[m].index((code, pairs)) - (len(present[m]) - 1) / 2
            for m in chosen["method"]
        ]
        reference = bool(chosen["reference"].iloc[0])
        label = (
            f"scene-only code, {PAIRS_TITLES[pairs]}"
            if reference
            else f"{code} code, {PAIRS_TITLES[pairs]}"
            + (" (leakage)" if code != "identity" else "")
        )
        bars = axis.barh(
            places,
            chosen["mean"].to_numpy(float),
            0.9,
            xerr=np.nan_to_num(chosen["sem"].to_numpy(float)),
            capsize=1.5,
            error_kw={"elinewidth": 0.7, "capthick": 0.7},
            color="0.55" if reference else colours[code],
            edgecolor="0.25",
            linewidth=0.3,
            hatch="///" if not reference and code != "identity" else None,
            label=label,
        )
        pale = 0.4 if pairs == "same_scene" else 1.0
        for bar, alpha in zip(bars, bar_alphas(list(chosen["method"]), pale), strict=True):
            bar.set_alpha(alpha)


def _yaw_gap_panel(
    axis: Any, gaps: pd.DataFrame, methods: list[str], primary: str, centres: dict[str, float]
) -> None:
    """The identity code's (and the scene row's) accuracy per yaw-gap bin, n in the legend."""
    bins = [label for _, label in YAW_GAP_BINS]
    shades = matplotlib.colormaps["Blues"](np.linspace(0.45, 0.9, len(bins)))
    height = 1.8 / len(bins)
    for index, label in enumerate(bins):
        chosen = gaps[gaps["bin"] == label].set_index("method").reindex(methods)
        count = chosen["n"].dropna()
        bars = axis.barh(
            np.array([centres[m] for m in methods]) + (index - (len(bins) - 1) / 2) * height,
            chosen["mean"].to_numpy(float),
            height,
            color=shades[index],
            edgecolor="0.25",
            linewidth=0.3,
            label=f"|Δyaw| {label}° ({int(count.iloc[0])} pairs)" if len(count) else label,
        )
        for bar, alpha in zip(bars, bar_alphas(methods), strict=True):
            bar.set_alpha(alpha)
    axis.axvline(0.5, linestyle="--", linewidth=1.0, color="0.3")
    axis.set_xlim(0.0, 1.0)
    axis.set_xlabel("accuracy")
    title = (
        f"per yaw gap between a pair's images ({PAIRS_TITLES[primary]} pairs): identity "
        "code; scene-only code for the reference"
    )
    axis.set_title("\n".join(textwrap.wrap(title, 50)))
