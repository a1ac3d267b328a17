"""Figures designed for a reader: untrained rows apart or pale beside their method, one
colour per method family, method names that read horizontally, labelled sample grids."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

from bench.errors import DataError
from bench.report.figures import table_figure
from bench.report.grids import labelled_grid, save_labelled_grid, split_panel
from bench.report.kshot import kshot_figure
from bench.report.plotting import method_families, method_styles, styled, untrained_beside
from bench.report.summary import read_metrics

METHODS = ["copy_source", "caingan", "caingan_no_ramp", "drgan", "caingan (untrained)"]


def test_one_colour_per_method_family_and_a_marker_per_member() -> None:
    families = method_families(METHODS)
    assert families["caingan_no_ramp"] == families["caingan (untrained)"] == "caingan"
    assert families["copy_source"] == "copy_source"
    styles = method_styles(METHODS)
    colour = {m: to_hex(s["color"]) for m, s in styles.items()}
    assert colour["caingan"] == colour["caingan_no_ramp"] == colour["caingan (untrained)"]
    assert len({colour["copy_source"], colour["caingan"], colour["drgan"]}) == 3
    assert styles["caingan"]["marker"] != styles["caingan_no_ramp"]["marker"]
    assert styles["caingan"]["linestyle"] != styles["caingan_no_ramp"]["linestyle"]


def test_untrained_rows_move_right_below_their_method() -> None:
    assert untrained_beside(METHODS) == [
        "copy_source",
        "caingan",
        "caingan (untrained)",
        "caingan_no_ramp",
        "drgan",
    ]


def rows_of(method: str, metric: str, protocol: str, value: float) -> list[dict]:
    return [
        {
            "metric": metric,
            "value": value + 0.01 * k,
            "n": 20,
            "ci95": [value - 0.05, value + 0.05],
            "higher_is_better": True,
            "evaluator": "synth-oracle",
            "evaluator_floor": None,
            "method": method,
            "k": k,
            "protocol": protocol,
            "seed": 0,
        }
        for k in (1, 8)
    ]


@pytest.fixture
def frame(tmp_path: Path):
    paths = []
    for index, method in enumerate(METHODS):
        rows = [
            row
            for kind in ("self", "cross")
            for metric in ("csim_target[synth-oracle]", "face_found[dlib-hog]")
            for row in rows_of(method, metric, f"pose_transfer/{kind}", 0.1 * (index + 1))
        ]
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps({"rows": rows}))
        paths.append(path)
    return read_metrics(paths)


def test_kshot_puts_untrained_rows_in_panels_of_their_own(frame) -> None:
    with styled():
        figure = kshot_figure(frame, "toy")
    top = [axis.get_title() for axis in figure.axes]
    assert top == [
        "self (driver = source identity)",
        "cross (another identity)",
        "untrained rows, self",
        "untrained rows, cross",
    ]
    labels = [[line.get_label() for line in axis.get_lines()] for axis in figure.axes]
    assert labels[0] == labels[1] == [m for m in METHODS if "untrained" not in m]
    assert labels[2] == labels[3] == ["caingan (untrained)"]
    colour = {line.get_label(): line.get_color() for line in figure.axes[0].get_lines()}
    assert colour["caingan"] == colour["caingan_no_ramp"] != colour["drgan"]


def test_bar_figure_names_methods_down_the_y_axis_untrained_pale_below(frame) -> None:
    with styled():
        figure = table_figure(frame, "toy", "pose_transfer_faces")
    panel = figure.axes[0]
    names = [t.get_text() for t in panel.get_yticklabels()]
    assert names == untrained_beside(METHODS)
    assert all(t.get_rotation() == 0 for t in panel.get_yticklabels())
    grey = {t.get_text(): to_hex(t.get_color()) for t in panel.get_yticklabels()}
    assert grey["caingan (untrained)"] != grey["caingan"] == "#000000"
    slot = [bar for bar in panel.patches if abs(bar.get_y() + bar.get_height() / 2 - 2) < 0.45]
    alphas = {bar.get_alpha() for bar in slot}
    assert len(slot) == 4 and alphas == {0.4}  # slot 2: the untrained row, every series pale
    # the figure grows with its rows: 5 methods x 4 bars each, at least 0.11 inch a bar
    assert figure.get_size_inches()[1] >= 5 * 4 * 0.11


def test_sample_grid_is_labelled_and_split_back_into_its_images() -> None:
    size, rows = 8, 3
    images = np.arange(rows * 4 * size * size * 3, dtype=np.uint8).reshape(rows, 4, size, size, 3)
    panel = np.concatenate([np.concatenate(list(images[:, c]), axis=0) for c in range(4)], axis=1)
    cells = split_panel(panel, 4)
    assert len(cells) == rows and all(np.array_equal(cells[2][c], images[2, c]) for c in range(4))
    blank = panel.copy()
    blank[:, 3 * size :] = 0
    figure = labelled_grid([panel, blank], ["self", "cross"], 1, [17, 4, 9])
    texts = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    for header in ("source", "driver", "output (K=1)", "target", "target (none: blank)"):
        assert header in texts
    assert {"tuple 17", "tuple 4", "tuple 9"} <= set(texts)
    assert {"self: driver of the source's identity", "cross: driver of another identity"} <= set(
        texts
    )


def test_sample_grid_refuses_a_panel_that_is_not_a_grid(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a grid of square images 4 wide"):
        split_panel(np.zeros((16, 30, 3), np.uint8), 4)
    with pytest.raises(DataError, match="2 sample rows but 1 row labels"):
        save_labelled_grid(tmp_path / "s.png", [np.zeros((16, 32, 3), np.uint8)], ["self"], 1, [0])


def test_training_preview_grid_has_a_header_per_column_and_refuses_a_mismatch(tmp_path):
    import numpy as np
    from PIL import Image

    from bench.errors import DataError
    from bench.report.grids import save_headed_grid

    cells = np.zeros((3, 4, 64, 64, 3), np.uint8)
    path = save_headed_grid(tmp_path / "samples.png", cells, ["a", "b", "c", "d"], "M: preview")
    width, height = Image.open(path).size
    assert width > 4 * 64 and height > 3 * 64  # cells plus header, row labels and title
    with pytest.raises(DataError, match="4 image columns but 3 headers"):
        save_headed_grid(tmp_path / "bad.png", cells, ["a", "b", "c"], "M: preview")
