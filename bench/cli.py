"""``python -m bench <stage>``: one command per DAG stage, callable without Snakemake too.

Stages take their settings as ``--params JSON`` (the validated config section they
depend on; Snakemake passes it so that a changed setting reruns exactly the stages
it affects) and write only their declared outputs.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bench import __version__
from bench.errors import BenchError
from bench.external import add_export_arguments, add_import_arguments
from bench.runs import run_seed
from bench.stages import (
    config,
    data,
    external,
    pose_sweep,
    pose_transfer,
    reconstruction,
    report,
    representation,
    sequence,
    train,
)

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Stage:
    """One ``python -m bench`` command: its function, help, required flags, whether it
    takes ``--seed``, and any other arguments (positionals, optional flags)."""

    name: str
    run: Callable[[argparse.Namespace], None]
    help: str
    required: tuple[str, ...] = ()
    seed: bool = False
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


_RUN = ("--method", "--data")
_ORACLES = ("--identity-oracle", "--pose-oracle")
# fmt: off
STAGES = (
    Stage("methods", config.cmd_methods, "list the discovered methods with their needs and provides"),
    Stage("validate-config", config.cmd_validate_config,
          "validate config files (layered in order) and print the result with defaults",
          arguments=config.validate_config_arguments),
    Stage("prepare", data.cmd_prepare, "prepare a dataset into results/data/<dataset>/",
          arguments=data.prepare_arguments),
    Stage("tuples", data.cmd_tuples, "draw the pose-transfer test tuples (and render exact targets)",
          ("--data", "--params")),
    Stage("train-evaluator", train.cmd_train_evaluator, "train a SynthFaces oracle (identity or pose)",
          ("--data", "--params", "--out", "--quality"),
          arguments=lambda p: p.add_argument("part", choices=["identity", "pose"])),
    Stage("train", train.cmd_train, "train one (method, seed); resumes from its last checkpoint",
          ("--method", "--data", "--run-dir", "--params"), seed=True),
    Stage("synthesize", pose_transfer.cmd_synthesize, "run a trained method on the pose-transfer tuples",
          (*_RUN, "--model", "--params", "--out", "--grid")),
    Stage("score", pose_transfer.cmd_score, "score generated images; writes metrics.json",
          (*_RUN, "--generated", *_ORACLES, "--params", "--out"), seed=True),
    Stage("face-reference", pose_transfer.cmd_face_reference,
          "pretrained face evaluators' features of the test tuples' sources, drivers and targets",
          ("--data", "--params", "--out")),
    Stage("score-faces", pose_transfer.cmd_score_faces, "score generated images with pretrained face evaluators",
          (*_RUN, "--generated", "--reference", "--params", "--out"), seed=True),
    Stage("sequences", sequence.cmd_sequences,
          "render the test sequences of the sequence protocol (SynthFaces)",
          ("--data", "--params", "--out")),
    Stage("synthesize-sequence", sequence.cmd_synthesize_sequence,
          "re-enact every test sequence from its first K frames with a trained method",
          (*_RUN, "--model", "--params", "--out")),
    Stage("score-sequence", sequence.cmd_score_sequence,
          "score re-enacted sequences (frame metrics and FVD); writes metrics.json",
          (*_RUN, "--generated", *_ORACLES, "--params", "--out"), seed=True),
    Stage("export", external.cmd_export, "write the pose-transfer tuples as plain files for any method",
          arguments=add_export_arguments),
    Stage("import", external.cmd_import, "validate a folder of a method's outputs and write it as a run",
          arguments=add_import_arguments),
    Stage("score-reconstruction", reconstruction.cmd_score_reconstruction,
          "reconstructions (RMSE, SSIM, CSIM) and random samples (FD, KID, FID) of a method",
          (*_RUN, "--model", *_ORACLES, "--params", "--out"), seed=True),
    Stage("represent", representation.cmd_represent,
          "a method's codes of every test image, their verification, t-SNE and disentanglement",
          (*_RUN, "--params", "--codes", "--out", "--disentanglement", "--figure"),
          seed=True, arguments=representation.represent_arguments),
    Stage("scene-reference", representation.cmd_scene_reference,
          "protocol 2's scene-only reference: the exact scene factors verified as a code",
          ("--data", "--out")),
    Stage("sweep-drivers", pose_sweep.cmd_sweep_drivers, "render the pose-sweep drivers and exact targets",
          ("--data", "--out")),
    Stage("sweep", pose_sweep.cmd_sweep, "run a trained method on the pose-sweep drivers",
          (*_RUN, "--model", "--params", "--sweep", "--out")),
    Stage("sweep-figure", pose_sweep.cmd_sweep_figure, "the pose-sweep figure of every method",
          ("--dataset", "--sweep", "--pose-oracle", "--out-stem"),
          arguments=pose_sweep.sweep_figure_arguments),
    Stage("figures", report.cmd_figures, "bar charts and K-shot curves from metrics.json files",
          ("--dataset", "--out-dir"), arguments=report.figures_arguments),
    Stage("tables", report.cmd_tables, "gather metrics.json files into comparison tables",
          ("--dataset", "--out-dir"), arguments=report.tables_arguments),
)
# fmt: on


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per :data:`STAGES` entry, with the shared ``--log``, ``--threads``, ``-v``."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"idpose-bench {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log", help="also write the log to this file")
    common.add_argument("--threads", type=int, help="torch CPU threads")
    common.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="stage")
    for stage in STAGES:
        p = sub.add_parser(stage.name, parents=[common], help=stage.help, description=stage.help)
        p.set_defaults(func=stage.run)
        if stage.arguments is not None:
            stage.arguments(p)
        for flag in stage.required:
            p.add_argument(flag, required=True)
        if stage.seed:
            p.add_argument("--seed", type=run_seed, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    from bench.runtime import set_threads, setup_logging  # imports torch: not at import time

    args = build_parser().parse_args(argv)
    setup_logging(args.log, args.verbose)
    set_threads(args.threads)
    try:
        args.func(args)
    except BenchError as error:
        log.error("%s", error)
        return 2
    return 0
