"""Report stages: ``figures`` and ``tables`` from ``metrics.json`` files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from bench.report import registry as report_tables

log = logging.getLogger("bench")


def cmd_figures(args: argparse.Namespace) -> None:
    from bench.report.figures import table_bars, write_figures
    from bench.report.summary import read_metrics

    files = [Path(p) for p in args.metrics]
    if args.table:
        written = table_bars(read_metrics(files), Path(args.out_dir), args.dataset, args.table)
    else:
        written = write_figures(files, Path(args.out_dir), args.dataset)
    for path in written:
        log.info("wrote %s", path)


def figures_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--table",
        choices=[t.name for t in report_tables.TABLES if t.bar_figure],
        help="draw this method table's bar chart (default: pose transfer and verification)",
    )
    p.add_argument("metrics", nargs="+")


def cmd_tables(args: argparse.Namespace) -> None:
    from bench.report.tables import write_table

    files = [Path(p) for p in args.metrics]
    written = write_table(args.table, files, Path(args.out_dir), args.dataset)
    for path in written:
        log.info("wrote %s", path)


def tables_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--table",
        choices=report_tables.names(),
        default="pose_transfer",
    )
    p.add_argument("metrics", nargs="+")
