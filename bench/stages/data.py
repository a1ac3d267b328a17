"""Data stages: ``prepare`` (render SynthFaces) and ``tuples`` (protocol 1's test tuples)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

from bench.errors import BenchError

log = logging.getLogger("bench")


def cmd_prepare(args: argparse.Namespace) -> None:
    from bench.data.prepare import prepare_synthfaces
    from bench.data.registry import capabilities

    found = capabilities(args.dataset)  # an unknown name lists the known datasets
    if not found.rendered:
        raise BenchError(
            f"dataset {args.dataset!r} is not rendered: prepare it with "
            f"python -m {found.prepare_module} prepare {args.dataset}"
        )
    if args.params:
        settings = json.loads(args.params)
    else:
        from bench.config import validate_config

        settings = validate_config({}, "defaults")["synthfaces"]
    began = time.perf_counter()
    prepare_synthfaces(Path(args.out), settings, workers=args.workers or os.cpu_count() or 1)
    log.info("prepared %s in %.1f s", args.dataset, time.perf_counter() - began)


def prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset")
    p.add_argument("--out", default="results/data/synthfaces")
    p.add_argument(
        "--params", help="JSON of the dataset's config section (default: schema defaults)"
    )
    p.add_argument("--workers", type=int, help="rendering processes (default: all cores)")


def cmd_tuples(args: argparse.Namespace) -> None:
    from bench.protocols.pose_transfer import write_tuples

    path = write_tuples(Path(args.data), json.loads(args.params))
    log.info("wrote %s", path)
