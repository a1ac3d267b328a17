"""Table formats: Markdown (terminal), LaTeX (booktabs), CSV, and a narrow terminal view.

Every table is written by ``write_all`` from one (csv, display, notes) triple, so the three
files carry the same numbers; ``terminal_view`` is the part of a Markdown table that fits a
100-column terminal (what ``make run`` prints; the full table stays in the files).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd


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


def write_all(
    stem: Path,
    csv_table: pd.DataFrame,
    display: pd.DataFrame,
    notes: list[str],
    title: str,
    text_columns: int = 3,
) -> list[Path]:
    """Write ``stem.csv``, ``stem.md`` and ``stem.tex`` from one table."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.6f")
    stem.with_suffix(".md").write_text(to_markdown(display, title, notes, text_columns))
    latex = to_latex(display, title, f"tab:{stem.name}", notes, text_columns)
    stem.with_suffix(".tex").write_text(latex)
    return [stem.with_suffix(s) for s in (".csv", ".md", ".tex")]


#: Columns of the terminal: what ``make run`` prints fits this width.
TERMINAL_WIDTH = 100


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def terminal_view(markdown: str, source: str, width: int = TERMINAL_WIDTH) -> str:
    """The part of a ``to_markdown`` table that fits ``width`` columns: its title, the text
    columns, then as many score columns as fit (evaluator names dropped from headers where
    that leaves them unique), and a line naming ``source`` for the rest and the notes."""
    lines = markdown.splitlines()
    table = [line for line in lines if line.startswith("|")]
    if len(table) < 2:
        raise ValueError(f"{source}: no Markdown table to show")
    title = next((line for line in lines if line.startswith("## ")), "")
    header, rule, rows = _cells(table[0]), table[1].strip("|").split("|"), table[2:]
    text = [part.startswith(":") for part in rule]
    short = [re.sub(r" \[[^\]]*\]", "", h) for h in header]
    header = [s if short.count(s) == 1 else h for s, h in zip(short, header, strict=True)]
    cells = [_cells(row) for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    keep = [i for i, is_text in enumerate(text) if is_text]
    used = 4 + sum(widths[i] for i in keep) + 3 * (len(keep) - 1)
    for i in (i for i, is_text in enumerate(text) if not is_text):
        if used + 3 + widths[i] > width:
            break
        keep.append(i)
        used += 3 + widths[i]

    def line(values: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                values[i].ljust(widths[i]) if text[i] else values[i].rjust(widths[i]) for i in keep
            )
            + " |"
        )

    left = len(header) - len(keep)
    more = f"{left} more column(s), " if left else ""
    body = [line(header), *(line(r) for r in cells)]
    return "\n".join([title[:width], *body, f"({more}notes: {source})"[:width]]) + "\n"
