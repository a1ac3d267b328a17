"""The one report summary: mean ± std cells against numbers computed here, method order,
the registry behind the rule lists, and the narrow terminal view."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.report import registry
from bench.report.formats import terminal_view, to_markdown
from bench.report.summary import method_order, read_metrics, summarize
from bench.report.tables import method_table, pose_transfer_table, write_table

ROOT = Path(__file__).resolve().parents[1]
VALUES = {  # (method, seed) -> SSIM of the self K=1 row
    ("beta", 0): 0.41,
    ("beta", 1): 0.47,
    ("beta", 2): 0.38,
    ("alpha", 0): 0.25,
}


def row(method: str, seed: int, value: float, **extra) -> dict:
    return {
        "metric": "ssim[gauss11-1.5]",
        "value": value,
        "n": 40 + seed,
        "ci95": [value - 0.02, value + 0.04],
        "higher_is_better": True,
        "evaluator": "none",
        "evaluator_floor": None,
        "method": method,
        "k": 1,
        "protocol": "pose_transfer/self",
        "seed": seed,
        **extra,
    }


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    """One metrics file per (method, seed); beta's files come first."""
    paths = []
    for (method, seed), value in VALUES.items():
        path = tmp_path / f"{method}{seed}.json"
        path.write_text(json.dumps({"rows": [row(method, seed, value)]}))
        paths.append(path)
    return paths


def test_mean_and_std_cell_equal_numbers_computed_here(files: list[Path]) -> None:
    beta = [v for (m, _), v in VALUES.items() if m == "beta"]
    mean, std = sum(beta) / 3, statistics.stdev(beta)  # sample std over seeds (ddof 1)
    stats = summarize(read_metrics(files)).set_index("method")
    assert stats.loc["beta", "mean"] == pytest.approx(mean)
    assert stats.loc["beta", "std"] == pytest.approx(std)
    assert (stats.loc["beta", "seeds"], stats.loc["beta", "n"]) == (3, 40)
    assert stats.loc["beta", "ci_low"] == pytest.approx(mean - 0.02)
    assert np.isnan(stats.loc["alpha", "std"])  # one seed: no spread
    _, display, _ = pose_transfer_table(read_metrics(files))
    cells = display.set_index("method")["SSIM [gauss11-1.5] ↑"]
    assert cells["beta"] == f"{mean:.3f} ± {std:.3f}" == "0.420 ± 0.046"
    assert cells["alpha"] == "0.250"


def test_method_order_is_the_order_of_the_files(files: list[Path]) -> None:
    frame = read_metrics(files)
    assert method_order(frame) == ["beta", "alpha"]
    assert method_order(read_metrics(files[::-1])) == ["alpha", "beta"]
    assert list(summarize(frame)["method"]) == ["beta", "alpha"]


def test_method_tables_read_the_same_summary(tmp_path: Path) -> None:
    rows = [
        {**row("ae", seed, value), "metric": "rmse255[none]", "higher_is_better": False}
        | {"protocol": "reconstruction/reconstruct"}
        for seed, value in ((0, 30.0), (1, 33.0))
    ]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"rows": rows}))
    _, display, _ = method_table(read_metrics([path]), "reconstruction", (("rmse255", "RMSE"),))
    assert display["RMSE [none] ↓"].iloc[0] == f"31.500 ± {statistics.stdev([30.0, 33.0]):.3f}"


def test_registry_names_are_the_cli_choices_and_every_writer() -> None:
    from bench.cli import build_parser
    from bench.report.tables import WRITERS

    parser = build_parser()
    tables = parser._subparsers._group_actions[0].choices["tables"]  # noqa: SLF001
    choices = next(a.choices for a in tables._actions if a.dest == "table")  # noqa: SLF001
    assert list(choices) == registry.names() == list(WRITERS)
    with pytest.raises(KeyError, match="known: pose_transfer, pose_transfer_faces"):
        write_table("posetransfer", [], Path("."), "toy")


def test_registry_decides_which_tables_a_config_writes() -> None:
    def has(dataset: str, capability: str) -> bool:
        return dataset == "synthfaces" and capability == "exact_factors"

    names = registry.table_names(
        ["synthfaces", "lfw"], {"transfer", "identity_code"}, {"face_scores": False}, has
    )
    assert names == [
        "synthfaces_pose_transfer",
        "synthfaces_verification",
        "lfw_pose_transfer",
        "lfw_verification",
        "synthfaces_disentanglement",
    ]
    every = registry.table_names(
        ["synthfaces"],
        {"sample", "pose_code", "transfer"},
        {"face_scores": True},
        lambda dataset, capability: has(dataset, capability) or capability == "sequences",
    )
    assert every == [f"synthfaces_{n}" for n in registry.names()]
    assert registry.table_figure_names("synthfaces", every) == [
        "pose_transfer_faces",
        "reconstruction",
        "disentanglement",
    ]
    assert registry.metric_figure_names({"transfer"})[-1] == "kshot"


def test_workflow_lists_come_from_the_registry() -> None:
    """common.smk and figures.smk call the registry's functions and list no table name."""
    common = (ROOT / "workflow/rules/common.smk").read_text()
    figures = (ROOT / "workflow/rules/figures.smk").read_text()
    assert "from bench.report.registry import table_names" in common
    assert "from bench.report.registry import names" in common  # the printed tables
    assert "from bench.report.registry import metric_figure_names" in figures
    assert "from bench.report.registry import table_figure_names" in figures
    for name in registry.names():
        assert f'"{name}"' not in common, name
    assert "pose_transfer_faces|" not in figures and '"csim_target", ' not in figures


def test_terminal_view_fits_100_columns_and_names_the_file() -> None:
    wide = pd.DataFrame(
        {
            "protocol": ["self"],
            "K": ["1"],
            "method": ["caingan_no_target (untrained)"],
            **{f"score {i} [synth-oracle] ↑": ["0.123 ± 0.045"] for i in range(12)},
        }
    )
    markdown = to_markdown(wide, "toy: a wide table", ["a note " * 40])
    assert max(len(line) for line in markdown.splitlines()) > 300
    view = terminal_view(markdown, "results/tables/toy.md")
    lines = view.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[0] == "## toy: a wide table"
    assert "score 0 ↑" in lines[1] and "[synth-oracle]" not in lines[1]  # unique without it
    shown = len(re.findall(r"score \d+", lines[1]))
    assert lines[-1] == f"({12 - shown} more column(s), notes: results/tables/toy.md)"
    assert "caingan_no_target (untrained)" in lines[2]
