"""Drawing shared by every figure: a byte-stable canvas, colours, horizontal method bars.

Figures are drawn on the Agg canvas without pyplot, under matplotlib's default style plus
``RC``, at a fixed dpi, and saved without timestamps or version strings, so identical
metrics give identical PNG and PDF bytes. Methods run down the y axis (their names read
horizontally, however many there are) and a figure grows with its rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.report.summary import KIND_ORDER, base_method, is_untrained, kind_key

log = logging.getLogger(__name__)

DPI = 150
PNG_METADATA: dict[str, Any] = {"Software": None}
PDF_METADATA: dict[str, Any] = {
    "CreationDate": None,
    "ModDate": None,
    "Producer": None,
    "Creator": None,
}
#: On top of matplotlib's default style, so a user's matplotlibrc cannot change the bytes.
RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "pdf.fonttype": 42,
    "hatch.linewidth": 0.6,
}
#: Inches per bar in a method's slot, and the gap between slots.
BAR_INCHES = 0.11
SLOT_GAP_INCHES = 0.08
#: How pale an untrained row's bars are beside its trained method's.
UNTRAINED_ALPHA = 0.4
UNTRAINED_LABEL_COLOUR = "0.45"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
LINESTYLES = ("-", "--", ":", "-.")


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on its own Agg canvas (no pyplot state)."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save(figure: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` with no timestamp or version in either."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    figure.savefig(png, format="png", dpi=DPI, metadata=PNG_METADATA)
    subsetter = logging.getLogger("fontTools")  # its per-glyph INFO lines would flood job logs
    level = subsetter.level
    subsetter.setLevel(max(level, logging.WARNING))
    try:
        figure.savefig(pdf, format="pdf", dpi=DPI, metadata=PDF_METADATA)
    finally:
        subsetter.setLevel(level)
    log.info("wrote %s and %s", png, pdf)
    return [png, pdf]


@contextmanager
def styled() -> Iterator[None]:
    """matplotlib's default style plus ``RC``, independent of the user's matplotlibrc."""
    with matplotlib.style.context("default"), matplotlib.rc_context(RC):
        yield


def method_families(methods: Sequence[str]) -> dict[str, str]:
    """Each method's family: the longest other listed method whose name prefixes it with
    ``_`` (``caingan_no_ramp`` -> ``caingan``), else itself; untrained rows join their
    method's family."""
    bases = list(dict.fromkeys(base_method(m) for m in methods))
    families = {}
    for base in bases:
        parents = [p for p in bases if p != base and base.startswith(p + "_")]
        families[base] = max(parents, key=len) if parents else base
    return {m: families[base_method(m)] for m in methods}


def method_styles(methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Line style per method: one colour per family, a marker and dash per member."""
    families = method_families(methods)
    names = list(dict.fromkeys(families.values()))
    cmap = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"]
    members: dict[str, list[str]] = {}
    styles = {}
    for method in methods:
        family = families[method]
        base = base_method(method)
        siblings = members.setdefault(family, [])
        if base not in siblings:
            siblings.append(base)
        index = siblings.index(base)
        styles[method] = {
            "color": cmap(names.index(family) % cmap.N),
            "marker": MARKERS[index % len(MARKERS)],
            "linestyle": LINESTYLES[index % len(LINESTYLES)],
        }
    return styles


def series_colours(kinds_and_ks: Sequence[tuple[str, int]]) -> dict[tuple[str, int], Any]:
    """One colour per (kind, K): blues for self, oranges for cross, darker for larger K."""
    maps = ("Blues", "Oranges", "Greens", "Purples", "Greys")
    colours: dict[tuple[str, int], Any] = {}
    kinds = sorted({kind for kind, _ in kinds_and_ks}, key=kind_key)
    # self is always blue and cross orange, whichever of them a figure has
    others = [kind for kind in kinds if kind not in KIND_ORDER]
    for kind in kinds:
        index = (
            KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER) + others.index(kind)
        )
        ks = sorted({int(k) for other, k in kinds_and_ks if other == kind})
        shades = np.linspace(0.45, 0.85, len(ks)) if len(ks) > 1 else [0.65]
        cmap = matplotlib.colormaps[maps[min(index, len(maps) - 1)]]
        colours.update({(kind, k): cmap(float(s)) for k, s in zip(ks, shades, strict=True)})
    return colours


def series_label(kind: str, k: int) -> str:
    """Legend label of one (kind, K) series: ``self, K=8``; a method table's part alone."""
    return f"{kind}, K={k}" if kind in KIND_ORDER else kind


def slot_inches(bars_per_slot: int) -> float:
    """Height of one method's slot holding ``bars_per_slot`` horizontal bars."""
    return BAR_INCHES * max(bars_per_slot, 1) + SLOT_GAP_INCHES


def method_axis(
    axis: Any, methods: Sequence[str], labels: bool = True, places: Sequence[float] | None = None
) -> None:
    """Methods down the y axis at ``places`` (default 0, 1, ...), first at the top; untrained
    rows' names greyed. ``labels=False`` for a panel sharing the y axis of one with names."""
    places = list(np.arange(len(methods)) if places is None else places)
    axis.grid(axis="x", linewidth=0.4, alpha=0.5)
    axis.set_axisbelow(True)
    if not labels:
        axis.tick_params(labelleft=False)
        return
    axis.set_yticks(places, list(methods))
    axis.set_ylim(max(places) + 0.5 * (places[-1] - places[-2] if len(places) > 1 else 1), -0.5)
    for tick, method in zip(axis.get_yticklabels(), methods, strict=True):
        tick.set_color(UNTRAINED_LABEL_COLOUR if is_untrained(method) else "black")


def bar_alphas(methods: Sequence[str], alpha: float = 1.0) -> list[float]:
    """Each method's bar opacity: untrained rows pale beside their trained method."""
    return [alpha * (UNTRAINED_ALPHA if is_untrained(m) else 1.0) for m in methods]


def untrained_beside(methods: Sequence[str]) -> list[str]:
    """Methods in their order with each ``<m> (untrained)`` moved right below ``<m>``."""
    trained = [m for m in methods if not is_untrained(m)]
    untrained = [m for m in methods if is_untrained(m)]
    ordered = []
    for method in trained:
        ordered.append(method)
        ordered += [u for u in untrained if base_method(u) == method]
    return ordered + [u for u in untrained if u not in ordered]
