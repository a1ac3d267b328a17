"""Paper figures: which files are written, that they are valid and byte-stable, what is plotted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from PIL import Image

from bench.report.figures import (
    accuracy_table,
    bar_table,
    kshot_curves,
    pose_transfer_bars,
    table_bars,
    table_figure,
    verification_bars,
    write_figures,
)
from bench.report.tables import read_metrics

FAMILIES = {
    "ssim[gauss11-1.5]": (True, "none"),
    "csim_target[synth-oracle]": (True, "synth-oracle"),
    "csim_source[synth-oracle]": (True, "synth-oracle"),
    "pose_error[synth-oracle]": (False, "synth-oracle"),
}


def transfer_value(method: str, metric: str, kind: str, k: int, seed: int) -> float:
    """A distinct, hand-computable value for every pose-transfer row."""
    base = {"alpha": 0.30, "beta": 0.50, "copy": 0.70}[method]
    offset = list(FAMILIES).index(metric) * 0.01 + (0.05 if kind == "cross" else 0.0)
    return base + offset + 0.001 * k + 0.02 * seed


def transfer_rows(method: str, seed: int) -> list[dict]:
    """Pose-transfer rows of one (method, seed) in the metrics.json schema."""
    rows = []
    for kind in ("self", "cross"):
        for k in (1, 8):
            for metric, (higher, evaluator) in FAMILIES.items():
                value = transfer_value(method, metric, kind, k, seed)
                rows.append(
                    {
                        "metric": metric,
                        "value": value,
                        "n": 50,
                        "ci95": [value - 0.01, value + 0.03],
                        "higher_is_better": higher,
                        "evaluator": evaluator,
                        "evaluator_floor": None,
                        "dataset": "toy",
                        "method": method,
                        "k": k,
                        "protocol": f"pose_transfer/{kind}",
                        "seed": seed,
                    }
                )
            rows.append(  # FID without Inception weights: n/a, never plotted
                {
                    "metric": "fid[inception-v3-pool3]",
                    "value": float("nan"),
                    "n": 50,
                    "higher_is_better": False,
                    "evaluator": "inception-v3-pool3",
                    "evaluator_floor": None,
                    "method": method,
                    "k": k,
                    "protocol": f"pose_transfer/{kind}",
                    "seed": seed,
                }
            )
    return rows


def verification_rows(method: str, seed: int) -> list[dict]:
    """Verification rows: identity and pose codes, cosine distance, accuracy and AUC."""
    rows = []
    for code, accuracy in (("identity", 0.80 + 0.02 * seed), ("pose", 0.52 - 0.01 * seed)):
        role = "identity" if code == "identity" else "leakage"
        for key, value, sem in (("accuracy", accuracy, 0.01 + 0.002 * seed), ("auc", 0.9, None)):
            rows.append(
                {
                    "metric": f"verification_{key}[{code}-code/cosine]",
                    "value": value,
                    "n": 600,
                    "sem": sem,
                    "higher_is_better": True if role == "identity" else None,
                    "evaluator": "none",
                    "evaluator_floor": None,
                    "method": method,
                    "k": 1,
                    "protocol": f"representation/{role}",
                    "code": code,
                    "distance": "cosine",
                    "seed": seed,
                }
            )
    return rows


@pytest.fixture(scope="module")
def metric_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """2 methods x 2 seeds (pose transfer and representation) and a 1-seed reference row."""
    root = tmp_path_factory.mktemp("runs")
    files = []
    for method, seeds in (("copy", [0]), ("alpha", [0, 1]), ("beta", [0, 1])):
        for seed in seeds:
            protocols = {"pose_transfer": transfer_rows(method, seed)}
            if method != "copy":
                protocols["representation"] = verification_rows(method, seed)
            for protocol, rows in protocols.items():
                path = root / method / f"seed{seed}" / protocol / "metrics.json"
                path.parent.mkdir(parents=True)
                path.write_text(json.dumps({"rows": rows}))
                files.append(path)
    return files


@pytest.fixture(scope="module")
def written(metric_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every figure, written once for the module."""
    return write_figures(metric_files, tmp_path_factory.mktemp("figures"), "toy")


def test_write_figures_writes_every_expected_png_and_pdf(written: list[Path]) -> None:
    stems = [f"toy_pose_transfer_{f}" for f in ("ssim", "csim_target", "csim_source", "pose_error")]
    stems += ["toy_kshot", "toy_verification"]
    expected = {f"{stem}{suffix}" for stem in stems for suffix in (".png", ".pdf")}
    assert {p.name for p in written} == expected
    assert {p.name for p in written[0].parent.iterdir()} == expected
    for path in written:
        assert path.stat().st_size > 1000, path
        if path.suffix == ".png":
            with Image.open(path) as image:
                image.verify()
            with Image.open(path) as image:
                assert image.format == "PNG" and min(image.size) > 200
        else:
            assert path.read_bytes().startswith(b"%PDF-")


def test_figures_are_byte_identical_when_written_twice(
    metric_files: list[Path], written: list[Path], tmp_path: Path
) -> None:
    again = write_figures(metric_files, tmp_path, "toy")
    assert [p.name for p in again] == [p.name for p in written]
    for first, second in zip(written, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_figures_carry_no_timestamp_or_version(written: list[Path]) -> None:
    for path in written:
        data = path.read_bytes()
        assert b"CreationDate" not in data and b"Matplotlib v" not in data, path.name
        assert b"Software" not in data, path.name


def test_family_without_rows_writes_no_figure(metric_files: list[Path], tmp_path: Path) -> None:
    frame = read_metrics(metric_files)
    only_ssim = frame[frame["metric"].str.startswith("ssim")]
    assert [p.name for p in pose_transfer_bars(only_ssim, tmp_path, "toy")] == [
        "toy_pose_transfer_ssim.png",
        "toy_pose_transfer_ssim.pdf",
    ]
    no_rows = frame[frame["metric"].str.startswith("verification_auc")]
    assert verification_bars(no_rows, tmp_path, "toy") == []
    assert kshot_curves(no_rows, tmp_path, "toy") == []
    assert pose_transfer_bars(no_rows, tmp_path, "toy") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "toy_pose_transfer_ssim.pdf",
        "toy_pose_transfer_ssim.png",
    ]


def test_bar_table_uses_std_over_two_seeds(metric_files: list[Path]) -> None:
    table = bar_table(read_metrics(metric_files), "csim_target")
    row = table[(table["method"] == "beta") & (table["kind"] == "cross") & (table["k"] == 8)]
    assert len(row) == 1
    row = row.iloc[0]
    seed0 = 0.50 + 0.01 + 0.05 + 0.008
    seed1 = seed0 + 0.02
    assert row["mean"] == pytest.approx((seed0 + seed1) / 2)
    assert row["err"] == pytest.approx(abs(seed1 - seed0) / np.sqrt(2))  # sample std, ddof=1
    assert row["err_low"] == pytest.approx(row["err"]) == pytest.approx(row["err_high"])
    assert (row["err_source"], row["seeds"]) == ("std", 2)


def test_bar_table_uses_bootstrap_interval_for_one_seed(metric_files: list[Path]) -> None:
    table = bar_table(read_metrics(metric_files), "pose_error")
    row = table[(table["method"] == "copy") & (table["kind"] == "self") & (table["k"] == 1)].iloc[0]
    assert row["mean"] == pytest.approx(0.70 + 0.03 + 0.001)
    assert (row["err_low"], row["err_high"]) == (pytest.approx(0.01), pytest.approx(0.03))
    assert row["err"] == pytest.approx(0.02)
    assert row["err_source"] == "ci95"
    assert not row["higher_is_better"]


def test_bar_table_orders_kinds_ks_and_methods_as_the_tables(metric_files: list[Path]) -> None:
    table = bar_table(read_metrics(metric_files), "ssim")
    keys = list(zip(table["kind"], table["k"], table["method"], strict=True))
    methods = ["copy", "alpha", "beta"]
    assert keys == [(kind, k, m) for kind in ("self", "cross") for k in (1, 8) for m in methods]


def test_bar_table_is_empty_for_a_family_without_finite_values(metric_files: list[Path]) -> None:
    frame = read_metrics(metric_files)
    assert bar_table(frame, "fid").empty
    assert bar_table(frame, "kid").empty


def test_accuracy_table_averages_seeds_and_flags_leakage(metric_files: list[Path]) -> None:
    table = accuracy_table(read_metrics(metric_files))
    assert list(zip(table["method"], table["code"], strict=True)) == [
        ("alpha", "identity"),
        ("alpha", "pose"),
        ("beta", "identity"),
        ("beta", "pose"),
    ]
    pose = table[(table["method"] == "alpha") & (table["code"] == "pose")].iloc[0]
    assert pose["mean"] == pytest.approx((0.52 + 0.51) / 2)
    assert pose["sem"] == pytest.approx((0.010 + 0.012) / 2)
    assert bool(pose["leakage"]) and pose["seeds"] == 2
    assert not table[table["code"] == "identity"]["leakage"].any()


def test_empty_frame_writes_nothing(tmp_path: Path) -> None:
    empty = pd.DataFrame(columns=["metric", "value", "protocol", "method", "seed", "file_order"])
    assert pose_transfer_bars(empty, tmp_path, "toy") == []
    assert kshot_curves(empty, tmp_path, "toy") == []
    assert verification_bars(empty, tmp_path, "toy") == []
    assert list(tmp_path.iterdir()) == []


def table_row(method: str, seed: int, protocol: str, metric: str, value: float) -> dict:
    """One row of a method table's metrics file."""
    return {
        "metric": metric,
        "value": value,
        "n": 500,
        "ci95": [value - 0.5, value + 1.0] if np.isfinite(value) else None,
        "higher_is_better": not metric.startswith(("rmse", "fd", "fid", "akd")),
        "evaluator": metric.split("[")[1].rstrip("]"),
        "evaluator_floor": None,
        "method": method,
        "k": 1,
        "protocol": protocol,
        "seed": seed,
    }


@pytest.fixture(scope="module")
def table_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Reconstruction and face-score files of 2 methods: "ae" (2 seeds) and "enc" (1 seed).

    "enc" only reconstructs (no sample rows); FID is n/a everywhere; dlib finds no face in
    "enc"'s outputs, so its CSIM is n/a while face_found is 0.
    """
    root = tmp_path_factory.mktemp("tables")
    files: dict[str, list[Path]] = {"reconstruction": [], "pose_transfer_faces": []}
    for method, seeds in (("ae", [0, 1]), ("enc", [0])):
        for seed in seeds:
            rows = [
                table_row(method, seed, "reconstruction/reconstruct", "rmse255[none]", 30 + seed),
                table_row(method, seed, "reconstruction/reconstruct", "ssim[none]", 0.4),
            ]
            if method == "ae":
                rows += [
                    table_row(method, seed, "reconstruction/sample", "fd[synth-oracle]", 0.7),
                    table_row(
                        method, seed, "reconstruction/sample", "fid[inception-v3]", float("nan")
                    ),
                ]
            faces = [
                table_row(method, seed, f"pose_transfer/{kind}", metric, value)
                for kind in ("self", "cross")
                for metric, value in (
                    ("face_found[dlib-hog]", 0.4 if method == "ae" else 0.0),
                    ("csim_target[dlib-resnet]", 0.9 if method == "ae" else float("nan")),
                    ("pose_error_yaw[dlib68-pnp]", 3.0),
                )
            ]
            for name, content in (("reconstruction", rows), ("pose_transfer_faces", faces)):
                path = root / method / f"seed{seed}" / f"{name}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"rows": content}))
                files[name].append(path)
    return files


def figure_texts(figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def test_table_bars_write_png_and_pdf_byte_identically(
    table_files: dict[str, list[Path]], tmp_path: Path
) -> None:
    for table, files in table_files.items():
        first = table_bars(read_metrics(files), tmp_path / "a", "toy", table)
        second = table_bars(read_metrics(files), tmp_path / "b", "toy", table)
        assert [p.name for p in first] == [f"toy_{table}.png", f"toy_{table}.pdf"]
        for a, b in zip(first, second, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name
        with Image.open(first[0]) as image:
            assert image.format == "PNG" and min(image.size) > 200


def test_table_figure_has_a_panel_per_scored_metric_and_names_the_unscored(
    table_files: dict[str, list[Path]],
) -> None:
    figure = table_figure(read_metrics(table_files["reconstruction"]), "toy", "reconstruction")
    panels = [axis for axis in figure.axes if axis.axison]
    labels = [axis.get_xlabel() for axis in panels]
    assert labels == ["rmse255[none] ↓", "ssim[none] ↑", "fd[synth-oracle] ↓"]
    texts = " ".join(figure_texts(figure))
    assert "n/a for every method: fid[inception-v3]" in texts
    # "enc" has no sample rows at all: no bar and no n/a mark in the FD panel.
    fd_axis = panels[2]
    assert not any(t.get_text().strip() == "n/a" for t in fd_axis.texts)
    widths = [bar.get_width() for bar in fd_axis.patches]
    assert widths[0] == pytest.approx(0.7) and np.isnan(widths[1])
    # rmse: "ae" is the mean of its seeds with the std as error bar; "enc" has one seed.
    rmse = [bar.get_width() for bar in panels[0].patches]
    assert rmse == [pytest.approx(30.5), pytest.approx(30.0)]
    # methods run down the y axis, first at the top, named on the first panel of a row
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["ae", "enc"]
    assert panels[0].get_ylim()[0] > panels[0].get_ylim()[1]


def test_table_figure_marks_a_methods_missing_score_and_keeps_its_place(
    table_files: dict[str, list[Path]],
) -> None:
    frame = read_metrics(table_files["pose_transfer_faces"])
    figure = table_figure(frame, "toy", "pose_transfer_faces")
    # Per-angle pose errors are table columns, not panels; face_found is always scored.
    panels = [axis for axis in figure.axes if axis.axison]
    assert [axis.get_xlabel() for axis in panels] == [
        "face_found[dlib-hog] ↑",
        "csim_target[dlib-resnet] ↑",
    ]
    found, csim = panels
    assert [bar.get_width() for bar in found.patches] == [0.4, 0.0, 0.4, 0.0]
    assert [t.get_text().strip() for t in csim.texts] == ["n/a", "n/a"]  # enc: self and cross
    enc_position = 1
    assert all(abs(t.get_position()[1] - enc_position) < 0.5 for t in csim.texts)
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["self, K=1", "cross, K=1"]


def test_table_figure_without_any_finite_score_says_so(tmp_path: Path) -> None:
    rows = [table_row("enc", 0, "disentanglement/all-codes", "mig[synth-factors]", float("nan"))]
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"rows": rows}))
    frame = read_metrics([path])
    figure = table_figure(frame, "toy", "disentanglement")
    assert any("n/a for every method: mig[synth-factors]" in t for t in figure_texts(figure))
    assert table_figure(frame, "toy", "reconstruction") is None
    assert table_bars(frame, tmp_path, "toy", "reconstruction") == []
    with pytest.raises(ValueError, match="no bar figure for table 'verification'"):
        table_figure(frame, "toy", "verification")


def test_not_applicable_k_prints_its_reason_instead_of_scores(tmp_path: Path) -> None:
    from bench.protocols.pose_transfer import not_applicable_rows
    from bench.report.tables import pose_transfer_table

    files = []
    for method in ("alpha", "beta"):
        rows = transfer_rows(method, 0)
        if method == "beta":
            rows = [r for r in rows if r["k"] != 1]
            rows += [
                {**r, "method": "beta", "seed": 0} for r in not_applicable_rows({1: "why"}, [1, 8])
            ]
        path = tmp_path / method / "metrics.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"rows": rows}))
        files.append(path)
    frame = read_metrics(files)
    csv_table, display, notes = pose_transfer_table(frame)
    marked = display[(display["method"] == "beta") & (display["K"] == "1")]
    assert len(marked) == 2  # self and cross
    metric_columns = [c for c in display.columns if c not in ("protocol", "K", "method", "seeds")]
    assert (marked[metric_columns] == "—").all().all()
    scored = display[(display["method"] == "beta") & (display["K"] == "8")]
    assert not (scored[metric_columns] == "—").any().any()
    assert "— rows of beta at K=1: why" in notes
    assert set(csv_table.loc[csv_table["not applicable"].notna(), "K"]) == {1}
    assert write_figures(files, tmp_path / "figures", "toy")  # figures skip the marker rows
