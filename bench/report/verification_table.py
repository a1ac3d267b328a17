"""Protocol 2's verification table: one row per (method, code, distance).

Accuracy on the protocol's pairs (cross-scene matched pairs where the dataset knows scenes)
and on the same-scene twin, AUC, EER, TAR@FAR and accuracy per yaw gap; the scene-only
reference rows first, so every leakage figure is read against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report.formats import write_all
from bench.report.registry import table as registered
from bench.report.summary import cell, method_order, read_metrics

#: Protocols of the verification table: methods' identity and other codes, the scene row.
VERIFICATION_PROTOCOLS = registered("verification").protocols
#: Yaw-gap bins of the verification rows (metric suffix, label), as the protocol writes them.
YAW_GAP_BINS = (("0_30", "0-30"), ("30_60", "30-60"), ("over_60", ">60"))
#: Their column headers (no "|" or "Δ": Markdown cells and LaTeX).
YAW_GAP_HEADERS = {"0-30": "yaw gap 0-30°", "30-60": "yaw gap 30-60°", ">60": "yaw gap over 60°"}
PAIRS_TITLES = {
    "cross_scene": "cross-scene",
    "same_scene": "same-scene",
    "scene_unchecked": "pairs.txt (scenes unchecked)",
}


def verification_rows_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Protocol 2's verification rows with ``key`` (accuracy, auc, ..., accuracy_yaw_gap_0_30)
    and ``pairs`` (rows written before pairs files had kinds read as ``scene_unchecked``)."""
    if "protocol" not in frame or "metric" not in frame:
        frame = pd.DataFrame(columns=["metric", "value", "protocol"])
    rows = frame[frame["protocol"].isin(VERIFICATION_PROTOCOLS)].copy()
    rows = rows[rows["metric"].astype(str).str.startswith("verification_")]
    rows["key"] = rows["metric"].str.extract(r"^verification_([a-z0-9_]+)\[")[0]
    pairs = rows["pairs"] if "pairs" in rows else pd.Series(np.nan, index=rows.index)
    rows["pairs"] = pairs.astype(object).fillna("scene_unchecked")
    rows["value"] = pd.to_numeric(rows["value"], errors="coerce").astype(float)
    for column in (
        "sem", "na_reason", "n_matched", "n_mismatched", "method", "code", "distance", "seed", "n",
        "file_order",
    ):  # fmt: skip
        if column not in rows:
            rows[column] = np.nan
    return rows


def primary_pairs(rows: pd.DataFrame) -> str:
    """The protocol's own pairs file: cross-scene where the dataset knows scenes."""
    kinds = set(rows["pairs"])
    return "cross_scene" if "cross_scene" in kinds or not kinds else "scene_unchecked"


def _verification_groups(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(method, code, distance) in table order: the scene reference, identity codes, leakage."""
    order = {m: i for i, m in enumerate(method_order(rows))}
    role = dict(zip(zip(rows["method"], rows["code"], strict=True), rows["protocol"], strict=True))
    groups = dict.fromkeys(zip(rows["method"], rows["code"], rows["distance"], strict=True))

    def key(group: tuple[str, str, str]) -> tuple:
        method, code, distance = group
        reference = role[(method, code)] == "representation/reference"
        return (not reference, code != "identity", code, order[method], distance)

    return sorted(groups, key=key)


def _seed_mean(rows: pd.DataFrame, column: str = "value") -> float:
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return float(values.mean()) if len(values) else float("nan")


def verification_table(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(csv table, display table, footnotes) for protocol 2's verification rows.

    One row per (method, code, distance): accuracy on the protocol's pairs (cross-scene
    matched pairs where the dataset knows scenes) and on the same-scene twin, AUC, EER and
    TAR@FAR on the protocol's pairs, and its accuracy per yaw gap between a pair's images.
    The scene-only reference rows come first: read every leakage figure against them.
    """
    rows = verification_rows_frame(frame)
    primary = primary_pairs(rows)
    kinds = [primary, "same_scene"]
    csv_rows, display_rows = [], []
    for method, code, distance in _verification_groups(rows):
        group = rows[
            (rows["method"] == method) & (rows["code"] == code) & (rows["distance"] == distance)
        ]
        protocol = group["protocol"].iloc[0]
        role = {
            "representation/identity": "identity",
            "representation/leakage": "leakage (chance = 0.5)",
            "representation/reference": "scene-only reference",
        }[protocol]
        csv_row: dict[str, object] = {
            "code": code,
            "role": role,
            "distance": distance,
            "method": method,
            "seeds": int(group["seed"].nunique()),
        }
        for kind in kinds:
            part = group[group["pairs"] == kind]
            accuracy = part[part["key"] == "accuracy"]
            seeds = int(accuracy["seed"].nunique())
            csv_row[f"pairs {kind}"] = int(accuracy["n"].max()) if len(accuracy) else 0
            csv_row[f"accuracy {kind} mean"] = _seed_mean(accuracy)
            csv_row[f"accuracy {kind} std over seeds"] = (
                float(accuracy["value"].std(ddof=1)) if seeds > 1 else np.nan
            )
            csv_row[f"accuracy {kind} LFW standard error"] = _seed_mean(accuracy, "sem")
            for key in ("auc", "eer", "tar_at_far"):
                csv_row[f"{key} {kind} mean"] = _seed_mean(part[part["key"] == key])
            for suffix, label in YAW_GAP_BINS:
                in_bin = part[part["key"] == f"accuracy_yaw_gap_{suffix}"]
                csv_row[f"accuracy yaw gap {label} {kind} mean"] = _seed_mean(in_bin)
                csv_row[f"pairs yaw gap {label} {kind}"] = (
                    int(in_bin["n"].max()) if len(in_bin) else 0
                )
                for side in ("matched", "mismatched"):
                    csv_row[f"{side} accuracy yaw gap {label} {kind} mean"] = (
                        _seed_mean(in_bin, f"{side}_accuracy")
                        if f"{side}_accuracy" in in_bin
                        else np.nan
                    )
        csv_rows.append(csv_row)
        display = {"code": code, "distance": distance, "method": method}
        for kind in kinds:
            display[f"{PAIRS_TITLES[kind]} acc ± SE"] = _accuracy_cell(
                csv_row[f"accuracy {kind} mean"], csv_row[f"accuracy {kind} LFW standard error"]
            )
        display["AUC"] = cell(csv_row[f"auc {primary} mean"], np.nan, 3)
        display["EER"] = cell(csv_row[f"eer {primary} mean"], np.nan, 3)
        display["TAR@FAR=1e-3"] = cell(csv_row[f"tar_at_far {primary} mean"], np.nan, 3)
        for _, label in YAW_GAP_BINS:
            mean = csv_row[f"accuracy yaw gap {label} {primary} mean"]
            display[YAW_GAP_HEADERS[label]] = cell(mean, np.nan, 3)
        display["seeds"] = str(csv_row["seeds"])
        display_rows.append(display)
    return (
        pd.DataFrame(csv_rows),
        pd.DataFrame(display_rows),
        _verification_notes(rows, primary, csv_rows),
    )


def _accuracy_cell(mean: float, sem: float) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {sem:.3f}" if np.isfinite(sem) else f"{mean:.3f}"


def _verification_notes(
    rows: pd.DataFrame, primary: str, csv_rows: list[dict[str, object]]
) -> list[str]:
    """Footnotes: the protocol, what each pairs file holds, the scene row, n/a reasons."""
    title = PAIRS_TITLES[primary]
    notes = [
        "LFW protocol: 10 folds in file order, threshold chosen on the 9 other folds; "
        "± is the standard error over folds (sigma/sqrt(10)), averaged over seeds.",
        "identity code: higher is better. Any other code is a leakage check: accuracy near 0.5 "
        "means identity does not leak into it.",
    ]
    if primary == "cross_scene":
        notes.append(
            "cross-scene: pairs.txt, whose matched pairs never share a scene (clip or session: "
            "background, light); same-scene: the same sets and mismatched pairs, but matched "
            "pairs from one scene (a diagnostic of what a code reads from the scene). AUC, "
            "EER, TAR and the yaw-gap columns are on the cross-scene pairs."
        )
        without = _numbers(rows, "identities_without_cross_scene_pair")
        if len(without):
            notes.append(
                f"{int(without.max())} test identities have all their images in one scene and "
                "give no matched pair to the cross-scene file (meta.json, pairs)."
            )
    else:
        notes.append(
            "pairs.txt is used as this dataset gives it: whether its matched pairs share a "
            "scene is not recorded (no scene groups in meta.json)."
        )
    scene = [r for r in csv_rows if r["role"] == "scene-only reference"]
    finite = [r for r in scene if np.isfinite(r[f"accuracy {primary} mean"])]
    if finite:
        figures = "; ".join(
            f"{r['distance']}: {title} {r[f'accuracy {primary} mean']:.3f}, same-scene "
            + (
                f"{r['accuracy same_scene mean']:.3f}"
                if np.isfinite(r["accuracy same_scene mean"])
                else "n/a"
            )
            for r in finite
        )
        notes.append(
            f"Scene-only reference: the exact scene factors (light, ambient, background, "
            f"expression strengths) of each image, standardised, as a code ({figures}). A code "
            "at the scene row's accuracy on the same pairs verifies no better than the scene "
            "alone does."
        )
    return notes + _count_notes(rows, primary)


def _count_notes(rows: pd.DataFrame, primary: str) -> list[str]:
    """Footnotes: pairs per yaw-gap bin and per file, n/a reasons, the FAR resolution."""
    notes = []
    gaps = rows[rows["pairs"] == primary].dropna(subset=["yaw_gap"]) if "yaw_gap" in rows else []
    if len(gaps):
        counts = []
        for _, label in YAW_GAP_BINS:
            cell = gaps[gaps["yaw_gap"] == label].iloc[:1]
            if len(cell) and pd.notna(cell["n_matched"].iloc[0]):
                counts.append(
                    f"{YAW_GAP_HEADERS[label].removeprefix('yaw gap ')}: {int(cell['n'].iloc[0])} ({int(cell['n_matched'].iloc[0])} "
                    f"matched, {int(cell['n_mismatched'].iloc[0])} mismatched)"
                )
        if counts:
            notes.append(
                "yaw gap columns: the protocol's accuracy on the pairs whose two images differ by "
                "that much yaw (absolute, index.csv; upper bounds included), each judged with "
                "its fold's threshold; pairs per bin " + "; ".join(counts) + "."
            )
    pairs_counts = {
        PAIRS_TITLES[k]: int(g["n"].max())
        for k, g in rows[rows["key"] == "accuracy"].groupby("pairs")
        if g["value"].notna().any()
    }
    if pairs_counts:
        notes.append(
            "Pairs per file: "
            + ", ".join(f"{k} {n}" for k, n in sorted(pairs_counts.items()))
            + "."
        )
    for reason, group in rows.dropna(subset=["na_reason"]).groupby("na_reason", sort=True):
        methods = list(dict.fromkeys(group["method"]))
        everyone = set(methods) >= set(rows["method"])
        who = "" if everyone else f" for {', '.join(methods)}"
        kinds = " and ".join(PAIRS_TITLES[k] for k in dict.fromkeys(group["pairs"]))
        notes.append(f"{kinds} accuracy is n/a{who}: {reason}.")
    resolution = _numbers(rows, "far_resolution")
    if len(resolution):
        notes.append(
            f"TAR@FAR=1e-3 is below this protocol's resolution (one false accept per test fold "
            f"= FAR {resolution.max():.4f}): read it as TAR at the lowest measurable FAR."
        )
    return notes


def write_verification_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_verification.{csv,md,tex}`` into ``out_dir``."""
    csv_table, display, notes = verification_table(read_metrics(metric_files))
    return write_all(
        Path(out_dir) / f"{dataset}_verification",
        csv_table,
        display,
        notes,
        f"{dataset}: {registered('verification').title}",
    )


def _numbers(rows: pd.DataFrame, column: str) -> pd.Series | list:
    """The numeric values of ``column`` (text and missing cells dropped); [] without it."""
    return pd.to_numeric(rows[column], errors="coerce").dropna() if column in rows else []
