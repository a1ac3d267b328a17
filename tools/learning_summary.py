"""Does each method beat its own initialisation? Trained vs untrained rows of a finished run.

Reads ``results/tables/<dataset>_pose_transfer.csv`` (written by the DAG) and prints, per
method, protocol and K, CSIM to the target and pose error of the trained row (mean ± std
over seeds; with one seed, the mean and its 95% bootstrap interval) beside the
``(untrained)`` row, and whether both improved; on cross-identity rows also how the
output's yaw follows the driver's (slope and r through the pose oracle: 1 follows, 0
ignores) and whether the pose error is below ``copy_source``'s at the same K. Markdown,
so the output pastes into a method's README or an issue note:

    python tools/learning_summary.py                       # every method, K = 1 and 8
    python tools/learning_summary.py --methods caingan fshm --k 1 2 4 8
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

CSIM = "csim_target[synth-oracle] ↑"
POSE = "pose_error[synth-oracle] ↓"
SSIM = "ssim[gauss11-1.5] ↑"


def cell(row: pd.Series, column: str, digits: int) -> str:
    """mean ± std over seeds; with one seed, the mean and its 95% bootstrap interval."""
    mean, std = row[f"{column} mean"], row[f"{column} std"]
    if isinstance(mean, float) and math.isnan(mean):
        return "n/a"
    if not math.isnan(std):
        return f"{mean:.{digits}f} ± {std:.{digits}f}"
    low, high = row.get(f"{column} ci95 low"), row.get(f"{column} ci95 high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def column_named(table: pd.DataFrame, prefix: str) -> str | None:
    """The metric label (without " mean") of the table's column that starts with ``prefix``."""
    for column in table.columns:
        if column.startswith(prefix) and column.endswith(" mean"):
            return column.removesuffix(" mean")
    return None


def summary(table: pd.DataFrame, methods: list[str] | None, k_values: list[int]) -> str:
    trained = table[~table["method"].str.endswith(" (untrained)")]
    untrained = table[table["method"].str.endswith(" (untrained)")].copy()
    untrained["method"] = untrained["method"].str.removesuffix(" (untrained)")
    names = [m for m in dict.fromkeys(trained["method"]) if m in set(untrained["method"])]
    if methods:
        unknown = sorted(set(methods) - set(names))
        if unknown:
            raise SystemExit(f"no trained and untrained rows for {unknown}; rows: {names}")
        names = [m for m in names if m in methods]
    lines = [
        "| method | protocol | K | SSIM ↑ | CSIM tgt ↑ (untrained) | pose err ° ↓ (untrained) "
        "| beats its initialisation | yaw slope / r (untrained) | pose err < copy_source |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    key = ["method", "protocol", "K"]
    base = untrained.set_index(key)
    slope = column_named(table, "yaw_follow_slope[")
    r = column_named(table, "yaw_follow_r[")
    copy = table[table["method"] == "copy_source"].set_index(["protocol", "K"])
    for _, row in trained[trained["K"].isin(k_values)].iterrows():
        if row["method"] not in names:
            continue
        if "not applicable" in row and isinstance(row["not applicable"], str):
            lines.append(
                f"| {row['method']} | {row['protocol']} | {row['K']} | — | — | — | — | — | — |"
            )
            continue
        ref = base.loc[(row["method"], row["protocol"], row["K"])]
        d_csim = row[f"{CSIM} mean"] - ref[f"{CSIM} mean"]
        d_pose = row[f"{POSE} mean"] - ref[f"{POSE} mean"]
        verdict = {
            (True, True): "yes",
            (True, False): "CSIM only",
            (False, True): "pose only",
            (False, False): "no",
        }[(bool(d_csim > 0), bool(d_pose < 0))]
        following, below_copy = "—", "—"
        if slope and r and not math.isnan(row.get(f"{slope} mean", math.nan)):
            following = (
                f"{row[f'{slope} mean']:.2f} / {row[f'{r} mean']:.2f} "
                f"({ref[f'{slope} mean']:.2f} / {ref[f'{r} mean']:.2f})"
            )
        if row["protocol"] == "cross" and (row["protocol"], row["K"]) in copy.index:
            copy_pose = copy.loc[(row["protocol"], row["K"]), f"{POSE} mean"]
            below_copy = f"{'yes' if row[f'{POSE} mean'] < copy_pose else 'no'} ({copy_pose:.1f})"
        lines.append(
            f"| {row['method']} | {row['protocol']} | {row['K']} | {cell(row, SSIM, 3)} "
            f"| {cell(row, CSIM, 3)} ({ref[f'{CSIM} mean']:.3f}) "
            f"| {cell(row, POSE, 1)} ({ref[f'{POSE} mean']:.1f}) | {verdict} "
            f"| {following} | {below_copy} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=Path, default=Path("results/tables"))
    parser.add_argument("--dataset", default="synthfaces")
    parser.add_argument("--methods", nargs="*", help="default: every method with both rows")
    parser.add_argument("--k", nargs="*", type=int, default=[1, 8])
    args = parser.parse_args(argv)
    path = args.tables / f"{args.dataset}_pose_transfer.csv"
    if not path.exists():
        raise SystemExit(f"{path}: missing; run the DAG first (make run)")
    print(summary(pd.read_csv(path), args.methods, args.k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
