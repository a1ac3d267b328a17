"""Comparison tables: a pure function of the stored ``metrics.json`` files.

One row per (protocol, K, method); each cell is the mean over seeds ± the sample
standard deviation over seeds (reference rows are deterministic and run one seed:
their cells show the mean alone). CSV (machine-readable, every metric with mean,
std, seeds, N and the bootstrap interval), Markdown (readable in a terminal) and
LaTeX (booktabs) carry the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import DataError

#: Display order and labels of the pose-transfer columns (metric prefix -> label).
POSE_TRANSFER_COLUMNS = (
    ("ssim", "SSIM"),
    ("csim_target", "CSIM tgt"),
    ("csim_source", "CSIM src"),
    ("pose_error", "pose err °"),
    ("yaw_follow_slope", "yaw slope"),
    ("yaw_follow_r", "yaw r"),
    ("fd", "FD"),
    ("kid", "KID"),
    ("fid", "FID"),
)
#: The same protocol scored by pretrained face evaluators (bench.protocols.face_scores).
FACE_COLUMNS = (
    ("face_found", "face found"),
    ("csim_target", "CSIM tgt"),
    ("csim_source", "CSIM src"),
    ("aed", "AED"),
    ("akd", "AKD px"),
    ("pose_error", "pose err °"),
)
DIGITS = {"pose_error": 1, "kid": 4, "akd": 2, "face_found": 2}
EXTRA_CSV_PREFIXES = ("pose_error_yaw", "pose_error_pitch", "pose_error_roll")
#: How the output's angle follows the driver's (bench.metrics.following), scored on cross
#: tuples only; yaw is shown, pitch is in the CSV. The slope is best at 1, not at its highest.
FOLLOW_PREFIXES = ("yaw_follow_slope", "yaw_follow_r", "pitch_follow_slope", "pitch_follow_r")
FOLLOW_DIGITS = 2


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


def _prefix(metric: str) -> str:
    return metric.split("[")[0]


def _arrow(higher_is_better: bool) -> str:
    return "↑" if higher_is_better else "↓"


def _mean_bound(intervals: pd.Series, side: int) -> float:
    """Mean of one bound of the rows' 95% intervals (NaN where rows carry none)."""
    bounds = [x[side] for x in intervals if isinstance(x, list | tuple)]
    return float(np.mean(bounds)) if bounds else float("nan")


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (protocol, k, method, metric), method order as first seen."""
    method_order = {
        m: i
        for i, m in enumerate(
            dict.fromkeys(frame.sort_values("file_order", kind="stable")["method"])
        )
    }
    grouped = frame.groupby(["protocol", "k", "method", "metric"], sort=False)
    out = grouped.agg(
        mean=("value", "mean"),
        std=("value", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan")),
        seeds=("seed", "nunique"),
        n=("n", "min"),
        ci_low=("ci95", lambda c: _mean_bound(c, 0)),
        ci_high=("ci95", lambda c: _mean_bound(c, 1)),
        higher_is_better=("higher_is_better", "first"),
        evaluator=("evaluator", "first"),
    ).reset_index()
    out["method_order"] = out["method"].map(method_order)
    kind_order = {"pose_transfer/self": 0, "pose_transfer/cross": 1}
    out["kind_order"] = out["protocol"].map(kind_order).fillna(9)
    return out.sort_values(["kind_order", "k", "method_order", "metric"], kind="stable")


def _cell(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "n/a"
    if np.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _pose_transfer_arrow(stats: pd.DataFrame, metric: str) -> str:
    """↑ or ↓ for a metric, "" where neither is better (a following slope: best at 1)."""
    higher = stats.loc[stats.metric == metric, "higher_is_better"].iloc[0]
    return "" if higher is None or pd.isna(higher) else _arrow(bool(higher))


def following_notes(frame: pd.DataFrame) -> list[str]:
    """What the yaw slope and r columns are, and what the oracle reads from exact images."""
    rows = frame[frame["metric"].astype(str).str.startswith("yaw_follow_slope[")]
    if rows.empty:
        return []
    metric = rows["metric"].iloc[0]
    evaluator = metric[len("yaw_follow_slope") :]
    note = (
        f"yaw slope / yaw r {evaluator} (cross rows only; pitch in the CSV): the least-squares "
        f"line of the {evaluator.strip('[]')} yaw of each output on its driver's yaw over the N "
        "tuples, and Pearson r; slope and r 1 = the head turns with the driver, 0 = it ignores "
        "it (a copy of the source); the slope is best at 1 (no arrow: above 1 overshoots). "
        "r says how consistently the yaw moves with the driver's, the slope how far: an "
        "output whose yaw barely moves can still have a high r, so read r beside the slope. "
        "Self rows: — (a self driver shares the sources' clip, so a copy of a source would "
        "score above 0)."
    )
    floors = [f for f in rows["evaluator_floor"] if isinstance(f, dict) and "follow_slope" in f]
    if floors:
        floor = floors[0]
        note += (
            f" Read by the same oracle, the {floor['reference']} give slope "
            f"{floor['follow_slope']:.2f}, r {floor['follow_r']:.2f}: what an exact output scores."
        )
    return [note]


def pose_transfer_table(
    frame: pd.DataFrame, columns: tuple[tuple[str, str], ...] = POSE_TRANSFER_COLUMNS
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(csv table, display table, footnotes) for the pose-transfer protocol."""
    stats = aggregate(frame[frame["protocol"].str.startswith("pose_transfer")])
    keys = ["protocol", "k", "method"]
    labels = frame.get("sample_label", pd.Series(index=frame.index, dtype=object))
    small_sample = set(frame.loc[labels == "small-sample", "metric"])
    marks = frame[frame["metric"] == "not_applicable"]
    reasons = marks.groupby(keys)["not_applicable"].first().to_dict() if len(marks) else {}
    csv_rows, display_rows = [], []
    metrics = list(dict.fromkeys(stats["metric"]))
    for (protocol, k, method), group in stats.groupby(keys, sort=False):
        by_metric = group.set_index("metric")
        # A K at which the method is by definition another row (Method.not_applicable_k).
        reason = reasons.get((protocol, k, method))
        csv_row = {
            "protocol": protocol.split("/")[1],
            "K": int(k),
            "method": method,
            "seeds": int(group["seeds"].max()),
            "N": int(group["n"].min()),
        }
        display = {"protocol": protocol.split("/")[1], "K": str(int(k)), "method": method}
        for metric in metrics:
            prefix = _prefix(metric)
            if prefix not in {p for p, _ in columns} | set(EXTRA_CSV_PREFIXES + FOLLOW_PREFIXES):
                continue
            arrow = _pose_transfer_arrow(stats, metric)
            name = f"{metric} {arrow}" if arrow else metric
            if metric in by_metric.index:
                row = by_metric.loc[metric]
                csv_row.update(
                    {
                        f"{name} mean": row["mean"],
                        f"{name} std": row["std"],
                        f"{name} ci95 low": row["ci_low"],
                        f"{name} ci95 high": row["ci_high"],
                    }
                )
            else:
                csv_row.update(
                    {
                        f"{name} mean": np.nan,
                        f"{name} std": np.nan,
                        f"{name} ci95 low": np.nan,
                        f"{name} ci95 high": np.nan,
                    }
                )
        for prefix, label in columns:
            matching = [m for m in metrics if _prefix(m) == prefix]
            for metric in matching:
                evaluator = metric[len(prefix) :]
                arrow = _pose_transfer_arrow(stats, metric)
                small = " (small-sample)" if metric in small_sample and prefix != "kid" else ""
                header = f"{label}{small}{' ' + evaluator if evaluator else ''}"
                header += f" {arrow}" if arrow else ""
                digits = FOLLOW_DIGITS if prefix in FOLLOW_PREFIXES else DIGITS.get(prefix, 3)
                if metric in by_metric.index:
                    row = by_metric.loc[metric]
                    display[header] = _cell(row["mean"], row["std"], digits)
                else:
                    unscored = prefix in FOLLOW_PREFIXES and protocol != "pose_transfer/cross"
                    display[header] = "—" if reason or unscored else "n/a"
        display["seeds"] = str(csv_row["seeds"])
        display["N"] = str(csv_row["N"])
        if reason:
            csv_row["not applicable"] = reason
            display["N"] = "—"
        csv_rows.append(csv_row)
        display_rows.append(display)
    notes = [
        "Cells: mean ± std over training seeds; a bare number is one run: a deterministic "
        "reference row, or a method '(untrained)' scored at its initialisation (first seed, step 0).",
        "N: test tuples per row. ssim[...] names the SSIM variant (Gaussian window 11, sigma 1.5, as skimage).",
    ]
    notes += evaluator_notes(frame)
    notes += following_notes(frame)
    for (_, k, method), reason in sorted(
        reasons.items(), key=lambda item: (item[0][2], item[0][1])
    ):
        note = f"— rows of {method} at K={k}: {reason}"
        if note not in notes:
            notes.append(note)
    if small_sample:
        notes.append(
            "FD, KID and FID compare each row's N generated images with all real test "
            "images; below 2048 samples FID is biased upwards (small-sample), so KID "
            "(unbiased) is reported beside it."
        )
    notes += na_notes(frame)
    return pd.DataFrame(csv_rows), pd.DataFrame(display_rows), notes


def na_notes(frame: pd.DataFrame) -> list[str]:
    """One note per (metric, reason) of ``n/a`` cells, naming the methods unless it is all."""
    if "na_reason" not in frame.columns:
        return []
    notes = []
    missing = frame.dropna(subset=["na_reason"])
    for (metric, reason), group in missing.groupby(["metric", "na_reason"], sort=True):
        methods = list(dict.fromkeys(group["method"]))
        everyone = set(methods) >= set(frame.loc[frame["metric"] == metric, "method"])
        who = "" if everyone else f" for {', '.join(methods)}"
        notes.append(f"{metric} is n/a{who}: {reason}")
    return notes


def evaluator_notes(frame: pd.DataFrame) -> list[str]:
    """One footnote per evaluator with its own measured quality (from the metrics' floors)."""
    floor_of = {
        row.metric: row.evaluator_floor
        for row in frame.dropna(subset=["evaluator_floor"]).drop_duplicates("metric").itertuples()
    }
    notes = []
    for evaluator in sorted({m.split("[")[1].rstrip("]") for m in floor_of}):
        facts = []
        accuracy = [
            f["verification_accuracy"]
            for m, f in floor_of.items()
            if f"[{evaluator}]" in m and "verification_accuracy" in f
        ]
        if accuracy:
            facts.append(f"identity verification accuracy {accuracy[0]:.3f} on the test pairs")
        angles = {
            m.split("[")[0].removeprefix("pose_error").lstrip("_") or "mean": f["pose_mae_degrees"]
            for m, f in floor_of.items()
            if f"[{evaluator}]" in m and "pose_mae_degrees" in f
        }
        if "mean" in angles:
            per_angle = ", ".join(
                f"{a} {angles[a]:.2f}" for a in ("yaw", "pitch", "roll") if a in angles
            )
            facts.append(
                f"pose MAE {angles['mean']:.2f}° ({per_angle}) on real test renders, the floor of pose error"
            )
        found = [
            f["driver_face_found"]
            for m, f in floor_of.items()
            if f"[{evaluator}]" in m and "driver_face_found" in f
        ]
        if found:
            facts.append(f"finds a face in {found[0]:.0%} of the real drivers")
        if not facts:
            continue
        notes.append(f"Evaluator {evaluator}: {'; '.join(facts)} (held-out identities).")
    return notes


def to_markdown(table: pd.DataFrame, title: str, notes: list[str], text_columns: int = 3) -> str:
    """A pipe table aligned for the terminal, with a title and footnotes."""
    columns = list(table.columns)
    cells = [[str(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [i >= text_columns for i in range(len(columns))]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if num else (":" + "-" * (w + 1))
            for w, num in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    body = [line(columns), rule, *(line(r) for r in cells)]
    return "\n".join([f"## {title}", "", *body, "", *(f"- {n}" for n in notes)]) + "\n"


def _latex_escape(text: str) -> str:
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "_": r"\_",
        "#": r"\#",
        "±": r"$\pm$",
        "↑": r"$\uparrow$",
        "↓": r"$\downarrow$",
        "°": r"$^\circ$",
        "—": "---",
    }
    return "".join(replacements.get(ch, ch) for ch in text)


def to_latex(
    table: pd.DataFrame, caption: str, label: str, notes: list[str], text_columns: int = 3
) -> str:
    """A booktabs ``table`` environment with the same cells as the Markdown table."""
    columns = list(table.columns)
    spec = "l" * text_columns + "r" * (len(columns) - text_columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        rf"\caption{{{_latex_escape(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(c) for c in columns) + r" \\",
        r"\midrule",
    ]
    previous = None
    for row in table.itertuples(index=False):
        key = (row[0], row[1])
        if previous is not None and key != previous:
            lines.append(r"\midrule")
        previous = key
        lines.append(" & ".join(_latex_escape(str(v)) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [r"\par\smallskip\footnotesize " + _latex_escape(n) for n in notes]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def write_pose_transfer_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_pose_transfer.{csv,md,tex}`` into ``out_dir``."""
    csv_table, display, notes = pose_transfer_table(read_metrics(metric_files))
    return _write_all(
        Path(out_dir) / f"{dataset}_pose_transfer",
        csv_table,
        display,
        notes,
        f"{dataset}: pose transfer (protocol 1)",
    )


def write_face_tables(metric_files: Sequence[Path], out_dir: Path, dataset: str) -> list[Path]:
    """Write ``<dataset>_pose_transfer_faces.{csv,md,tex}``: protocol 1 by pretrained evaluators."""
    frame = read_metrics(metric_files)
    csv_table, display, notes = pose_transfer_table(frame, FACE_COLUMNS)
    notes[1] = (
        "N: test tuples scored per row (the first N of protocol 1). face found: share of "
        "generated images in which the detector found a face; every other cell averages the "
        "tuples where all its faces were found (misses are counted there, never dropped)."
    )
    notes.append(
        "pose err: head pose of the generated image vs the driver, both estimated by the same "
        "evaluator (its bias cancels). AED: L2 distance of identity embeddings, generated vs "
        "target; AKD: mean distance in pixels of the 68 landmarks, generated vs target."
    )
    return _write_all(
        Path(out_dir) / f"{dataset}_pose_transfer_faces",
        csv_table,
        display,
        notes,
        f"{dataset}: pose transfer scored by pretrained face evaluators (protocol 1)",
    )


#: Columns of the reconstruction and disentanglement tables (metric prefix -> label).
RECONSTRUCTION_COLUMNS = (
    ("rmse255", "RMSE (0-255)"),
    ("ssim", "SSIM"),
    ("csim_input", "CSIM"),
    ("fd", "FD"),
    ("kid", "KID"),
    ("fid", "FID"),
)
DISENTANGLEMENT_COLUMNS = (
    ("mig", "MIG"),
    ("dci_disentanglement", "DCI-D"),
    ("dci_completeness", "DCI-C"),
    ("dci_informativeness", "DCI-I"),
    ("sap", "SAP"),
)


def method_table(
    frame: pd.DataFrame, protocol: str, columns: tuple[tuple[str, str], ...]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(csv, display, notes): one row per (part of ``protocol``, method), a column per metric."""
    rows = frame[frame["protocol"].str.startswith(f"{protocol}/")]
    if rows.empty:
        raise DataError(f"no {protocol} rows in the given metrics files")
    stats = aggregate(rows)
    csv_rows, display_rows = [], []
    for (part, method), group in stats.groupby(["protocol", "method"], sort=False):
        by_metric = group.set_index("metric")
        csv_row = {
            "part": part.split("/", 1)[1],
            "method": method,
            "seeds": int(group["seeds"].max()),
            "N": int(group["n"].max()),
        }
        display = {"part": csv_row["part"], "method": method, "x": ""}
        for prefix, label in columns:
            for metric in [m for m in by_metric.index if _prefix(m) == prefix]:
                row = by_metric.loc[metric]
                arrow = _arrow(bool(row["higher_is_better"]))
                evaluator = metric[len(prefix) :]
                name = f"{metric} {arrow}"
                csv_row.update(
                    {
                        f"{name} mean": row["mean"],
                        f"{name} std": row["std"],
                        f"{name} ci95 low": row["ci_low"],
                        f"{name} ci95 high": row["ci_high"],
                    }
                )
                header = f"{label}{' ' + evaluator if evaluator else ''} {arrow}"
                display[header] = _cell(row["mean"], row["std"], DIGITS.get(prefix, 3))
        display["seeds"] = str(csv_row["seeds"])
        display["N"] = str(csv_row["N"])
        display.pop("x")
        csv_rows.append(csv_row)
        display_rows.append(display)
    display = pd.DataFrame(display_rows).fillna("—")  # not measured for this part; n/a = missing
    display = display[[c for c in display.columns if c not in ("seeds", "N")] + ["seeds", "N"]]
    notes = [
        "Cells: mean ± std over training seeds; a bare number is one run (one seed, or a "
        "method '(untrained)' scored at its initialisation); — marks a score that does not "
        "apply to that part.",
    ]
    notes += na_notes(rows)
    return pd.DataFrame(csv_rows), display, notes


def write_reconstruction_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_reconstruction.{csv,md,tex}``: reconstructions and random samples."""
    csv_table, display, notes = method_table(
        read_metrics(metric_files), "reconstruction", RECONSTRUCTION_COLUMNS
    )
    notes += [
        "part reconstruct: x vs G(E(x)) on N test images: RMSE on the 0-255 scale (as "
        "Browatzki & Wallraven report), SSIM, and CSIM of the reconstruction to its input.",
        "part sample: N random samples G(z) vs all real test images: FD and KID over the "
        "identity oracle's features, FID over Inception pool3 (small-sample below 2048).",
    ]
    return _write_all(
        Path(out_dir) / f"{dataset}_reconstruction",
        csv_table,
        display,
        notes,
        f"{dataset}: reconstruction and sampling",
        text_columns=2,
    )


def write_disentanglement_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_disentanglement.{csv,md,tex}``: MIG, DCI, SAP against exact factors."""
    frame = read_metrics(metric_files)
    csv_table, display, notes = method_table(frame, "disentanglement", DISENTANGLEMENT_COLUMNS)
    notes.append(
        "Scores of each method's whole code (every code it provides, concatenated) against "
        "the exact factors of N test images: identity and expression (discrete); yaw, "
        "pitch, roll and light azimuth (continuous, 20 bins), as disentanglement_lib defines "
        "MIG, DCI (gradient-boosted trees) and SAP."
    )
    if not frame["metric"].str.startswith("dci_").any():
        notes.append(
            "DCI is not computed in this configuration (protocols.disentanglement.metrics; "
            "its boosted trees cost about 70 s per run on one core): the gpu profile adds it."
        )
    return _write_all(
        Path(out_dir) / f"{dataset}_disentanglement",
        csv_table,
        display,
        notes,
        f"{dataset}: disentanglement against exact factors",
        text_columns=2,
    )


#: Protocols of the verification table: methods' identity and other codes, the scene row.
VERIFICATION_PROTOCOLS = (
    "representation/identity",
    "representation/leakage",
    "representation/reference",
)
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
    method_order = {
        m: i
        for i, m in enumerate(
            dict.fromkeys(rows.sort_values("file_order", kind="stable")["method"])
        )
    }
    role = dict(zip(zip(rows["method"], rows["code"], strict=True), rows["protocol"], strict=True))
    groups = dict.fromkeys(zip(rows["method"], rows["code"], rows["distance"], strict=True))

    def key(group: tuple[str, str, str]) -> tuple:
        method, code, distance = group
        reference = role[(method, code)] == "representation/reference"
        return (not reference, code != "identity", code, method_order[method], distance)

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
                cell = part[part["key"] == f"accuracy_yaw_gap_{suffix}"]
                csv_row[f"accuracy yaw gap {label} {kind} mean"] = _seed_mean(cell)
                csv_row[f"pairs yaw gap {label} {kind}"] = int(cell["n"].max()) if len(cell) else 0
                for side in ("matched", "mismatched"):
                    csv_row[f"{side} accuracy yaw gap {label} {kind} mean"] = (
                        _seed_mean(cell, f"{side}_accuracy")
                        if f"{side}_accuracy" in cell
                        else np.nan
                    )
        csv_rows.append(csv_row)
        display = {"code": code, "distance": distance, "method": method}
        for kind in kinds:
            display[f"{PAIRS_TITLES[kind]} acc ± SE"] = _accuracy_cell(
                csv_row[f"accuracy {kind} mean"], csv_row[f"accuracy {kind} LFW standard error"]
            )
        display["AUC"] = _cell(csv_row[f"auc {primary} mean"], np.nan, 3)
        display["EER"] = _cell(csv_row[f"eer {primary} mean"], np.nan, 3)
        display["TAR@FAR=1e-3"] = _cell(csv_row[f"tar_at_far {primary} mean"], np.nan, 3)
        for _, label in YAW_GAP_BINS:
            mean = csv_row[f"accuracy yaw gap {label} {primary} mean"]
            display[YAW_GAP_HEADERS[label]] = _cell(mean, np.nan, 3)
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
        without = (
            pd.to_numeric(rows["identities_without_cross_scene_pair"], errors="coerce").dropna()
            if "identities_without_cross_scene_pair" in rows
            else []
        )
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
    resolution = (
        pd.to_numeric(rows["far_resolution"], errors="coerce").dropna()
        if "far_resolution" in rows
        else []
    )
    if len(resolution):
        notes.append(
            f"TAR@FAR=1e-3 is below this protocol's resolution (one false accept per test fold "
            f"= FAR {resolution.max():.4f}): read it as TAR at the lowest measurable FAR."
        )
    return notes


def _write_all(
    stem: Path,
    csv_table: pd.DataFrame,
    display: pd.DataFrame,
    notes: list[str],
    title: str,
    text_columns: int = 3,
) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.6f")
    stem.with_suffix(".md").write_text(to_markdown(display, title, notes, text_columns))
    latex = to_latex(display, title, f"tab:{stem.name}", notes, text_columns)
    stem.with_suffix(".tex").write_text(latex)
    return [stem.with_suffix(s) for s in (".csv", ".md", ".tex")]


def write_verification_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_verification.{csv,md,tex}`` into ``out_dir``."""
    csv_table, display, notes = verification_table(read_metrics(metric_files))
    return _write_all(
        Path(out_dir) / f"{dataset}_verification",
        csv_table,
        display,
        notes,
        f"{dataset}: verification of codes (protocol 2)",
    )
