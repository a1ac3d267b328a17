"""Comparison tables: a pure function of the stored ``metrics.json`` files.

One row per (protocol, K, method); each cell is the mean over seeds ± the sample
standard deviation over seeds (reference rows are deterministic and run one seed:
their cells show the mean alone), from ``bench.report.summary.summarize``. CSV
(machine-readable, every metric with mean, std, seeds, N and the bootstrap interval),
Markdown (readable in a terminal) and LaTeX (booktabs) carry the same numbers. Which
tables exist, their columns and fixed notes: ``bench.report.registry``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import DataError
from bench.report.formats import to_latex, to_markdown, write_all
from bench.report.notes import evaluator_notes, following_notes, na_notes
from bench.report.registry import (
    DISENTANGLEMENT_COLUMNS,
    FACE_COLUMNS,
    POSE_TRANSFER_COLUMNS,
    RECONSTRUCTION_COLUMNS,
    SEQUENCE_COLUMNS,
)
from bench.report.registry import table as registered
from bench.report.summary import arrow, cell, family, read_metrics, summarize
from bench.report.verification_table import (
    PAIRS_TITLES,
    YAW_GAP_BINS,
    primary_pairs,
    verification_rows_frame,
    verification_table,
    write_verification_tables,
)

__all__ = [  # the names other modules and the tests import from here
    "DISENTANGLEMENT_COLUMNS", "FACE_COLUMNS", "PAIRS_TITLES", "POSE_TRANSFER_COLUMNS",
    "RECONSTRUCTION_COLUMNS", "YAW_GAP_BINS", "primary_pairs", "read_metrics", "to_latex",
    "to_markdown", "verification_rows_frame", "verification_table", "write_table",
]  # fmt: skip

DIGITS = {"pose_error": 1, "kid": 4, "akd": 2, "face_found": 2}
EXTRA_CSV_PREFIXES = ("pose_error_yaw", "pose_error_pitch", "pose_error_roll")
#: How the output's angle follows the driver's (bench.metrics.following), scored on cross
#: tuples only; yaw is shown, pitch is in the CSV. The slope is best at 1, not at its highest.
FOLLOW_PREFIXES = ("yaw_follow_slope", "yaw_follow_r", "pitch_follow_slope", "pitch_follow_r")
FOLLOW_DIGITS = 2


def _pose_transfer_arrow(stats: pd.DataFrame, metric: str) -> str:
    """↑ or ↓ for a metric, "" where neither is better (a following slope: best at 1)."""
    return arrow(stats.loc[stats.metric == metric, "higher_is_better"].iloc[0])


def _stat_columns(name: str, row: pd.Series | None) -> dict[str, float]:
    """The CSV's mean, std and interval columns of one metric (NaN where it is missing)."""
    keys = ("mean", "std", "ci_low", "ci_high")
    values = [np.nan] * 4 if row is None else [row[k] for k in keys]
    labels = ("mean", "std", "ci95 low", "ci95 high")
    return {f"{name} {label}": value for label, value in zip(labels, values, strict=True)}


def _pose_transfer_row(
    key: tuple[str, int, str],
    group: pd.DataFrame,
    stats: pd.DataFrame,
    columns: tuple[tuple[str, str], ...],
    reason: str | None,
    small_sample: set[str],
) -> tuple[dict[str, object], dict[str, str]]:
    """(csv row, display row) of one (protocol, K, method); ``reason``: not applicable."""
    protocol, k, method = key
    by_metric = group.set_index("metric")
    metrics = list(dict.fromkeys(stats["metric"]))
    part = protocol.split("/")[1]
    csv_row: dict[str, object] = {
        "protocol": part,
        "K": int(k),
        "method": method,
        "seeds": int(group["seeds"].max()),
        # Tuples scored: a metric averaging a subset (MKR: tuples whose target has a face)
        # keeps its own n in metrics.json.
        "N": int(group["n"].max()),
    }
    display = {"protocol": part, "K": str(int(k)), "method": method}
    shown = {p for p, _ in columns} | set(EXTRA_CSV_PREFIXES + FOLLOW_PREFIXES)
    for metric in metrics:
        if family(metric) in shown:
            name = f"{metric} {_pose_transfer_arrow(stats, metric)}".rstrip()
            row = by_metric.loc[metric] if metric in by_metric.index else None
            csv_row.update(_stat_columns(name, row))
    for prefix, label in columns:
        for metric in [m for m in metrics if family(m) == prefix]:
            evaluator = metric[len(prefix) :]
            small = " (small-sample)" if metric in small_sample and prefix != "kid" else ""
            header = f"{label}{small}{' ' + evaluator if evaluator else ''}"
            header = f"{header} {_pose_transfer_arrow(stats, metric)}".rstrip()
            digits = FOLLOW_DIGITS if prefix in FOLLOW_PREFIXES else DIGITS.get(prefix, 3)
            if metric in by_metric.index:
                row = by_metric.loc[metric]
                display[header] = cell(row["mean"], row["std"], digits)
            else:
                unscored = prefix in FOLLOW_PREFIXES and protocol != "pose_transfer/cross"
                display[header] = "—" if reason or unscored else "n/a"
    display["seeds"] = str(csv_row["seeds"])
    display["N"] = "—" if reason else str(csv_row["N"])
    if reason:
        csv_row["not applicable"] = reason
    return csv_row, display


def pose_transfer_table(
    frame: pd.DataFrame, columns: tuple[tuple[str, str], ...] = POSE_TRANSFER_COLUMNS
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(csv table, display table, footnotes) for the pose-transfer protocol."""
    stats = summarize(frame[frame["protocol"].str.startswith("pose_transfer")])
    keys = ["protocol", "k", "method"]
    labels = frame.get("sample_label", pd.Series(index=frame.index, dtype=object))
    small_sample = set(frame.loc[labels == "small-sample", "metric"])
    marks = frame[frame["metric"] == "not_applicable"]
    # A K at which the method is by definition another row (Method.not_applicable_k).
    reasons = marks.groupby(keys)["not_applicable"].first().to_dict() if len(marks) else {}
    csv_rows, display_rows = [], []
    for key, group in stats.groupby(keys, sort=False):
        csv_row, display = _pose_transfer_row(
            key, group, stats, columns, reasons.get(key), small_sample
        )
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


def write_pose_transfer_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_pose_transfer.{csv,md,tex}`` into ``out_dir``."""
    csv_table, display, notes = pose_transfer_table(read_metrics(metric_files))
    return _write("pose_transfer", out_dir, dataset, csv_table, display, notes)


def write_face_tables(metric_files: Sequence[Path], out_dir: Path, dataset: str) -> list[Path]:
    """Write ``<dataset>_pose_transfer_faces.{csv,md,tex}``: protocol 1 by pretrained evaluators."""
    frame = read_metrics(metric_files)
    csv_table, display, notes = pose_transfer_table(frame, FACE_COLUMNS)
    notes[1] = (
        "N: test tuples scored per row (the first N of protocol 1). face found: share of "
        "generated images in which the detector found a face; every other cell averages the "
        "tuples where all its faces were found (misses are counted there, never dropped)."
    )
    return _write("pose_transfer_faces", out_dir, dataset, csv_table, display, notes)


def _method_row(
    part: str, method: str, group: pd.DataFrame, columns: tuple[tuple[str, str], ...]
) -> tuple[dict[str, object], dict[str, str]]:
    """(csv row, display row) of one (part, method) of a method table."""
    by_metric = group.set_index("metric")
    csv_row: dict[str, object] = {
        "part": part.split("/", 1)[1],
        "method": method,
        "seeds": int(group["seeds"].max()),
        "N": int(group["n"].max()),
    }
    display = {"part": str(csv_row["part"]), "method": method}
    for prefix, label in columns:
        for metric in [m for m in by_metric.index if family(m) == prefix]:
            row = by_metric.loc[metric]
            direction = arrow(row["higher_is_better"])
            evaluator = metric[len(prefix) :]
            csv_row.update(_stat_columns(f"{metric} {direction}", row))
            header = f"{label}{' ' + evaluator if evaluator else ''} {direction}"
            display[header] = cell(row["mean"], row["std"], DIGITS.get(prefix, 3))
    display["seeds"] = str(csv_row["seeds"])
    display["N"] = str(csv_row["N"])
    return csv_row, display


def method_table(
    frame: pd.DataFrame, protocol: str, columns: tuple[tuple[str, str], ...]
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(csv, display, notes): one row per (part of ``protocol``, method), a column per metric."""
    rows = frame[frame["protocol"].str.startswith(f"{protocol}/")]
    if rows.empty:
        raise DataError(f"no {protocol} rows in the given metrics files")
    stats = summarize(rows)
    pairs = [
        _method_row(part, method, group, columns)
        for (part, method), group in stats.groupby(["protocol", "method"], sort=False)
    ]
    csv_rows = [csv_row for csv_row, _ in pairs]
    display = pd.DataFrame([d for _, d in pairs]).fillna("—")  # not measured for this part
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
    return _write("reconstruction", out_dir, dataset, csv_table, display, notes, 2)


def write_sequence_tables(metric_files: Sequence[Path], out_dir: Path, dataset: str) -> list[Path]:
    """Write ``<dataset>_sequence.{csv,md,tex}``: self-reenactment of whole sequences."""
    frame = read_metrics(metric_files)
    csv_table, display, notes = method_table(frame, "sequence", SEQUENCE_COLUMNS)
    return _write("sequence", out_dir, dataset, csv_table, display, notes, 2)


def write_disentanglement_tables(
    metric_files: Sequence[Path], out_dir: Path, dataset: str
) -> list[Path]:
    """Write ``<dataset>_disentanglement.{csv,md,tex}``: MIG, DCI, SAP against exact factors."""
    frame = read_metrics(metric_files)
    csv_table, display, notes = method_table(frame, "disentanglement", DISENTANGLEMENT_COLUMNS)
    notes += registered("disentanglement").notes
    if not frame["metric"].str.startswith("dci_").any():
        notes.append(
            "DCI is not computed in this configuration (protocols.disentanglement.metrics; "
            "its boosted trees cost about 70 s per run on one core): the gpu profile adds it."
        )
    return write_all(
        Path(out_dir) / f"{dataset}_disentanglement",
        csv_table,
        display,
        notes,
        f"{dataset}: {registered('disentanglement').title}",
        text_columns=2,
    )


def _write(
    name: str,
    out_dir: Path,
    dataset: str,
    csv_table: pd.DataFrame,
    display: pd.DataFrame,
    notes: list[str],
    text_columns: int = 3,
) -> list[Path]:
    """Write a registered table with its title and its fixed notes after ``notes``."""
    entry = registered(name)
    return write_all(
        Path(out_dir) / f"{dataset}_{name}",
        csv_table,
        display,
        [*notes, *entry.notes],
        f"{dataset}: {entry.title}",
        text_columns,
    )


#: The writer of each registered table (``bench tables --table``).
WRITERS: dict[str, Callable[[Sequence[Path], Path, str], list[Path]]] = {
    "pose_transfer": write_pose_transfer_tables,
    "pose_transfer_faces": write_face_tables,
    "verification": write_verification_tables,
    "reconstruction": write_reconstruction_tables,
    "disentanglement": write_disentanglement_tables,
    "sequence": write_sequence_tables,
}


def write_table(name: str, metric_files: Sequence[Path], out_dir: Path, dataset: str) -> list[Path]:
    """Write the registered table ``name`` of ``dataset`` from ``metric_files``."""
    registered(name)  # an unknown name is an error naming the known ones
    return WRITERS[name](metric_files, out_dir, dataset)
