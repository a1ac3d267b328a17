"""``export`` and ``import``: a protocol as plain files for any method, its outputs back as a run."""

from __future__ import annotations

import argparse


def cmd_export(args: argparse.Namespace) -> None:
    from bench.external.export import run

    run(args)


def cmd_import(args: argparse.Namespace) -> None:
    from bench.external.import_ import run

    run(args)
