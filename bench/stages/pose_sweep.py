"""Pose-sweep stages: ``sweep-drivers``, ``sweep`` (one method) and ``sweep-figure`` (all methods)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.stages.common import load_test_and_method


def cmd_sweep_drivers(args: argparse.Namespace) -> None:
    from bench.protocols.pose_sweep import make_sweep, save_sweep

    save_sweep(Path(args.out), make_sweep(Path(args.data)))


def cmd_sweep(args: argparse.Namespace) -> None:
    from bench.protocols.pose_sweep import load_npz, run_sweep, save_sweep

    params = json.loads(args.params)
    test, method = load_test_and_method(args, params, "transfer")
    save_sweep(Path(args.out), {"generated": run_sweep(method, load_npz(Path(args.sweep)), test)})


def cmd_sweep_figure(args: argparse.Namespace) -> None:
    """The pose-sweep grid, each row labelled with the yaw slope and r the pose oracle
    (the score job's checkpoint) reads from its images against the drivers' yaws."""
    from bench.evaluators.synth_oracle import load_pose_oracle
    from bench.protocols.pose_sweep import load_npz, sweep_figure, sweep_following

    rows = {}
    for item in args.rows:
        method, _, path = item.partition("=")
        rows[method] = load_npz(Path(path))["generated"]
    sweep = load_npz(Path(args.sweep))
    following = sweep_following(sweep, rows, load_pose_oracle(Path(args.pose_oracle)))
    title = f"{args.dataset}: pose sweep of one test identity (source, left) driven by another"
    sweep_figure(sweep, rows, Path(args.out_stem), title, following)


def sweep_figure_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rows", nargs="+", metavar="METHOD=GENERATED_NPZ")
