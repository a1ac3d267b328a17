"""tools/learning_summary.py: trained vs untrained rows, with the bootstrap interval of a
single-seed row and the verdict on the means."""

from __future__ import annotations

import importlib.util

import pandas as pd

from bench import REPO_ROOT

spec = importlib.util.spec_from_file_location(
    "learning_summary", REPO_ROOT / "tools" / "learning_summary.py"
)
learning_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(learning_summary)

NAN = float("nan")


def row(method, csim, pose, std=NAN, ci=(NAN, NAN)):
    out = {"protocol": "self", "K": 1, "method": method}
    for column, value in (
        (learning_summary.SSIM, 0.5),
        (learning_summary.CSIM, csim),
        (learning_summary.POSE, pose),
    ):
        out |= {
            f"{column} mean": value,
            f"{column} std": std,
            f"{column} ci95 low": value + ci[0],
            f"{column} ci95 high": value + ci[1],
        }
    return out


def test_single_seed_rows_show_their_bootstrap_interval_and_the_verdict():
    table = pd.DataFrame([row("m", 0.30, 20.3, ci=(-0.02, 0.02)), row("m (untrained)", 0.01, 20.0)])
    line = learning_summary.summary(table, None, [1]).splitlines()[-1]
    assert "| 0.300 [0.280, 0.320] (0.010) |" in line
    assert "| 20.3 [20.3, 20.3] (20.0) |" in line  # ci offsets 0.02 round away at 1 digit
    assert line.endswith("| CSIM only | — | — |")


def test_rows_over_seeds_show_mean_and_std():
    table = pd.DataFrame([row("m", 0.30, 18.0, std=0.01), row("m (untrained)", 0.01, 20.0)])
    line = learning_summary.summary(table, None, [1]).splitlines()[-1]
    assert "| 0.300 ± 0.010 (0.010) |" in line and line.endswith("| yes | — | — |")


def test_cross_rows_show_yaw_following_and_the_copy_source_comparison():
    def cross(method, csim, pose, slope, r):
        out = row(method, csim, pose) | {"protocol": "cross"}
        for column, value in (("yaw_follow_slope[o]", slope), ("yaw_follow_r[o]", r)):
            out |= {f"{column} mean": value, f"{column} std": NAN}
        return out

    table = pd.DataFrame(
        [
            cross("copy_source", 0.9, 30.0, 0.02, 0.03),
            cross("m", 0.3, 18.0, 0.71, 0.88),
            cross("m (untrained)", 0.0, 25.0, 0.01, 0.05),
            cross("n", 0.3, 31.0, 0.10, 0.20),
            cross("n (untrained)", 0.0, 25.0, 0.0, 0.0),
        ]
    )
    lines = learning_summary.summary(table, None, [1]).splitlines()
    m = next(line for line in lines if line.startswith("| m |"))
    n = next(line for line in lines if line.startswith("| n |"))
    assert m.endswith("| yes | 0.71 / 0.88 (0.01 / 0.05) | yes (30.0) |")
    assert n.endswith("| CSIM only | 0.10 / 0.20 (0.00 / 0.00) | no (30.0) |")
