"""Labelled sample grids: every image grid says which column is the source, the driver, the
output and the target, and which test tuple each row is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bench.errors import DataError
from bench.report.plotting import DPI, PNG_METADATA, new_figure, styled

#: A panel's columns, left to right, as the pose-transfer sample grid draws them.
SAMPLE_COLUMNS = ("source", "driver", "output", "target")
KIND_TITLES = {
    "self": "self: driver of the source's identity",
    "cross": "cross: driver of another identity",
}
CELL_INCHES = 0.85


def split_panel(panel: np.ndarray, columns: int) -> list[list[np.ndarray]]:
    """A panel of square images (rows stacked, ``columns`` side by side) as rows of images."""
    size = panel.shape[1] // columns
    if size == 0 or panel.shape[1] % columns or panel.shape[0] % size:
        raise DataError(
            f"sample panel of shape {panel.shape} is not a grid of square images {columns} wide"
        )
    return [
        [panel[r : r + size, c * size : (c + 1) * size] for c in range(columns)]
        for r in range(0, panel.shape[0], size)
    ]


def column_headers(cells: Sequence[Sequence[np.ndarray]], k: int) -> list[str]:
    """Headers of one panel; a target column that is blank everywhere says there is none."""
    headers = ["source", "driver", f"output (K={k})", "target"]
    if all(not row[3].any() for row in cells):
        headers[3] = "target (none: blank)"
    return headers


def save_labelled_grid(
    path: Path,
    panels: Sequence[np.ndarray],
    kinds: Sequence[str],
    k: int,
    row_labels: Sequence[object],
) -> Path:
    """Write ``labelled_grid`` of ``panels`` as the PNG ``path``."""
    with styled():
        figure = labelled_grid(panels, kinds, k, row_labels, str(path))
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    return Path(path)


def labelled_grid(
    panels: Sequence[np.ndarray],
    kinds: Sequence[str],
    k: int,
    row_labels: Sequence[object],
    source: str = "sample grid",
) -> Figure:
    """``panels`` (one per kind: rows of source | driver | output | target) as a figure with
    a title per kind, a header per column and a label per row (``tuple <id>``)."""
    if len(panels) != len(kinds):
        raise DataError(f"{source}: {len(panels)} sample panels for kinds {list(kinds)}")
    grids = [split_panel(panel, len(SAMPLE_COLUMNS)) for panel in panels]
    rows = len(grids[0])
    if len(row_labels) < rows:
        raise DataError(f"{source}: {rows} sample rows but {len(row_labels)} row labels")
    figure = new_figure(
        0.9 + CELL_INCHES * len(SAMPLE_COLUMNS) * len(kinds) + 0.3 * (len(kinds) - 1),
        CELL_INCHES * rows + 0.8,
    )
    parts = figure.subfigures(1, len(kinds), squeeze=False)[0]
    for index, (part, kind, cells) in enumerate(zip(parts, kinds, grids, strict=True)):
        axes = part.subplots(rows, len(SAMPLE_COLUMNS), squeeze=False)
        for r, images in enumerate(cells):
            for c, image in enumerate(images):
                axes[r, c].imshow(image, interpolation="nearest")
                axes[r, c].set_xticks([])
                axes[r, c].set_yticks([])
            if index == 0:
                axes[r, 0].set_ylabel(f"tuple {row_labels[r]}", fontsize=8)
        for c, header in enumerate(column_headers(cells, k)):
            axes[0, c].set_title(header, fontsize=8)
        part.suptitle(KIND_TITLES.get(kind, kind), fontsize=9)
    return figure


def save_headed_grid(path: Path, images: np.ndarray, headers: Sequence[str], title: str) -> Path:
    """Write ``images`` ``[rows, cols, H, W, 3]`` (uint8) as a PNG grid with a header per
    column (the training preview: each method names its columns), ``item <i>`` per row and
    a title. Drawn with PIL, not matplotlib: it is written at every checkpoint (0.17 s for
    8 x 5 crops of noise, where a matplotlib figure took 0.9 s)."""
    from PIL import Image, ImageDraw, ImageFont

    rows, columns, height, width = images.shape[:4]
    if len(headers) != columns:
        raise DataError(f"{title}: {columns} image columns but {len(headers)} headers {headers}")
    scale = max(1, -(-112 // width))  # small crops enlarged (nearest) so a header fits above
    cell_h, cell_w, pad, left, top = height * scale, width * scale, 4, 52, 40
    canvas = np.full(
        (top + rows * (cell_h + pad), left + columns * (cell_w + pad), 3), 255, np.uint8
    )
    for r in range(rows):
        for c in range(columns):
            y, x = top + r * (cell_h + pad), left + c * (cell_w + pad)
            cell = images[r, c].repeat(scale, axis=0).repeat(scale, axis=1)
            canvas[y : y + cell_h, x : x + cell_w] = cell
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    font, title_font = ImageFont.load_default(size=11), ImageFont.load_default(size=13)
    draw.text((4, 3), title, fill=(0, 0, 0), font=title_font)
    for c, header in enumerate(headers):
        draw.text((left + c * (cell_w + pad) + 2, top - 16), header, fill=(0, 0, 0), font=font)
    for r in range(rows):
        draw.text(
            (4, top + r * (cell_h + pad) + cell_h // 2 - 6), f"item {r}", fill=(0, 0, 0), font=font
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    picture.save(path, format="PNG")
    return Path(path)
