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
    assert line.endswith("| CSIM only |")


def test_rows_over_seeds_show_mean_and_std():
    table = pd.DataFrame([row("m", 0.30, 18.0, std=0.01), row("m (untrained)", 0.01, 20.0)])
    line = learning_summary.summary(table, None, [1]).splitlines()[-1]
    assert "| 0.300 ± 0.010 (0.010) |" in line and line.endswith("| yes |")
