"""The shared scoring chain of the stages: load the test split and a trained method
(checking it provides what the stage needs), and write scored rows with the run's context."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def load_test_and_method(args: argparse.Namespace, params: dict[str, Any], *needs: str):
    """The test split and the trained method, which must provide one of ``needs``."""
    from bench.data.dataset import FaceData
    from bench.methods.registry import get_method
    from bench.train import load_trained, pick_device

    test = FaceData.load(Path(args.data), "test", params.get("pose_bin_width", 15))
    method = load_trained(
        Path(args.model), get_method(args.method), pick_device(params.get("device", "auto"))
    )
    if needs and not set(needs) & method.provides:
        raise BenchError(
            f"method {args.method!r} provides none of {', '.join(needs)}, "
            f"which `python -m bench {args.stage}` needs"
        )
    return test, method


def write_scores(
    args: argparse.Namespace,
    out: str,
    rows: list,
    label: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> None:
    """The end of every scoring stage: the run's context (and an external run's
    provenance, ``bench.external.scored_run``) on each row, ``metrics.json``."""
    from bench.data.index import read_meta
    from bench.protocols.results import run_context, write_metrics

    label = args.seed.label(args.method) if label is None else label
    seed = args.seed.seed if hasattr(args, "seed") else 0
    context = run_context(read_meta(Path(args.data)), label, seed)
    write_metrics(Path(out), rows, {**context, **(provenance or {})})
