"""``python -m bench <stage>``: one command per DAG stage, callable without Snakemake too.

Stages take their settings as ``--params JSON`` (the validated config section they
depend on; Snakemake passes it so that a changed setting reruns exactly the stages
it affects) and write only their declared outputs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import BenchError
from bench.external import add_export_arguments, add_import_arguments
from bench.report import registry as report_tables
from bench.runs import run_seed
from bench.runtime import set_threads, setup_logging  # bench.external imports them here

log = logging.getLogger("bench")


# -- stages ----------------------------------------------------------------------------------
def cmd_methods(args: argparse.Namespace) -> None:
    from bench.methods.registry import method_registry

    registry = method_registry()
    rows = []
    for name in registry:
        spec = registry.get(name)
        rows.append(
            (
                name,
                "yes" if spec.cls.trainable else "no (reference)",
                ", ".join(sorted(spec.cls.needs)) or "-",
                ", ".join(sorted(spec.cls.provides)) or "-",
            )
        )
    header = ("method", "trained", "needs", "provides")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cmd_validate_config(args: argparse.Namespace) -> None:
    """Layer config files as Snakemake's ``configfiles`` do (later keys win, mappings merge),
    validate the result and check each method's training sampling and protocol 1's K
    against every dataset (what the DAG build checks)."""
    import yaml

    from bench.config import _deep_update, load_config
    from bench.methods.requirements import check_requirements

    files = [Path(f) for f in args.configfile]
    if args.profile:
        profile = yaml.safe_load((Path(args.profile) / "config.yaml").read_text()) or {}
        files = [Path(f) for f in profile.get("configfiles", [])] + files
    if not files:
        raise BenchError("validate-config: give config files, a --profile, or both")
    layered: dict[str, Any] = {}
    for file in files[1:]:
        try:
            _deep_update(layered, yaml.safe_load(file.read_text()) or {})
        except (OSError, yaml.YAMLError) as error:
            raise BenchError(f"{file}: cannot read it as YAML: {error}") from error
    config = load_config(files[0], layered)
    check_requirements(config, " + ".join(map(str, files)))
    print(json.dumps(config, indent=2))


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


def cmd_tuples(args: argparse.Namespace) -> None:
    from bench.protocols.pose_transfer import write_tuples

    path = write_tuples(Path(args.data), json.loads(args.params))
    log.info("wrote %s", path)


def cmd_train_evaluator(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.evaluators.synth_oracle import train_identity_oracle, train_pose_oracle

    data = Path(args.data)
    settings = json.loads(args.params)
    train, test = FaceData.load(data, "train"), FaceData.load(data, "test")
    if args.part == "identity":
        quality = train_identity_oracle(train, test, data / "pairs.txt", Path(args.out), settings)
    else:
        quality = train_pose_oracle(train, test, Path(args.out), settings)
    Path(args.quality).write_text(json.dumps(quality, indent=2, sort_keys=True) + "\n")


def cmd_train(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.methods.registry import get_method
    from bench.train import TrainSettings, train

    params = json.loads(args.params)
    spec = get_method(args.method)
    data = FaceData.load(Path(args.data), "train", params["pose_bin_width"])
    settings = TrainSettings(**{k: v for k, v in params["train"].items() if k != "threads"})
    method_config = args.seed.method_config(params["method"])
    train(spec, method_config, data, Path(args.run_dir), args.seed.seed, settings)


def _load_test_and_method(args: argparse.Namespace, params: dict[str, Any], *needs: str):
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


def _write_scores(
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


def cmd_synthesize(args: argparse.Namespace) -> None:
    from bench.protocols.pose_transfer import (
        read_tuples,
        save_generated,
        save_sample_grid,
        synthesize,
    )

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params, "transfer")
    tuples = read_tuples(Path(args.data))
    outputs = synthesize(method, test, tuples, params["k"], params["batch_size"])
    save_generated(Path(args.out), outputs, tuples, params["k"])
    save_sample_grid(Path(args.grid), test, tuples, outputs)


def cmd_score(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.external import scored_run
    from bench.protocols.pose_transfer import (
        load_generated,
        not_applicable_rows,
        read_tuples,
        score_pose_transfer,
    )

    params = json.loads(args.params)
    data = Path(args.data)
    outputs, k_values = load_generated(Path(args.generated))
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    rows = score_pose_transfer(
        outputs, FaceData.load(data, "test"), read_tuples(data), oracle, params
    )
    label, not_applicable, provenance = scored_run(
        args.method, args.seed.label(args.method), args.generated
    )
    rows += not_applicable_rows(not_applicable, k_values)
    _write_scores(args, args.out, rows, label, provenance)


def cmd_export(args: argparse.Namespace) -> None:
    from bench.external.export import run

    run(args)


def cmd_import(args: argparse.Namespace) -> None:
    from bench.external.import_ import run

    run(args)


def cmd_face_reference(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.protocols.face_scores import FaceEvaluators, reference_features
    from bench.protocols.pose_transfer import read_tuples
    from bench.protocols.results import save_arrays

    params = json.loads(args.params)
    data = Path(args.data)
    test = FaceData.load(data, "test")
    arrays = reference_features(test, read_tuples(data), FaceEvaluators(params), params)
    save_arrays(Path(args.out), **arrays)


def cmd_score_faces(args: argparse.Namespace) -> None:
    from bench.external import scored_run
    from bench.protocols.face_scores import FaceEvaluators, score_faces
    from bench.protocols.pose_transfer import load_generated, not_applicable_rows
    from bench.protocols.results import load_arrays

    params = json.loads(args.params)
    reference = load_arrays(Path(args.reference), "face-reference")
    outputs, _ = load_generated(Path(args.generated))
    rows = score_faces(outputs, reference, FaceEvaluators(params), params)
    label, not_applicable, provenance = scored_run(
        args.method, args.seed.label(args.method), args.generated
    )
    rows += not_applicable_rows(not_applicable, params["k"])
    _write_scores(args, args.out, rows, label, provenance)


def cmd_score_reconstruction(args: argparse.Namespace) -> None:
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.protocols.reconstruction import score_reconstruction

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params, "reconstruct", "sample")
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    _write_scores(args, args.out, score_reconstruction(method, test, oracle, params))


def cmd_represent(args: argparse.Namespace) -> None:
    """Protocol 2 in one process: the codes of every test image, their verification on
    pairs.txt and its same-scene twin, t-SNE figure, and (where the dataset has exact
    factors) MIG/DCI/SAP."""
    from bench.data.index import read_meta
    from bench.protocols.representation import (
        disentanglement_scores,
        encode,
        load_codes,
        pairs_files,
        save_codes,
        score_representation,
        tsne_figure,
    )

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params, "identity_code", "pose_code")
    save_codes(Path(args.codes), encode(method, test), test)
    codes = load_codes(Path(args.codes), test)  # what the file holds is what gets scored
    meta = read_meta(Path(args.data))
    _write_scores(args, args.out, score_representation(codes, test, pairs_files(args.data, meta)))
    disentanglement = disentanglement_scores(codes, test, params["disentanglement"])
    _write_scores(args, args.disentanglement, disentanglement)
    label = args.seed.label(args.method)
    title = f"{label} (seed {args.seed.seed}) on {meta['dataset']} test identities"
    tsne_figure(codes, test, Path(args.figure).with_suffix(""), title)


def cmd_scene_reference(args: argparse.Namespace) -> None:
    """Protocol 2's scene-only reference row: the exact scene factors of each test image
    verified as a code on the dataset's pairs files (n/a rows where it has none)."""
    from bench.data.index import read_index, read_meta
    from bench.protocols.representation import SCENE_REFERENCE, pairs_files, scene_reference_rows

    data = Path(args.data)
    index = read_index(data)
    test = index[index["split"] == "test"].reset_index(drop=True)
    rows = scene_reference_rows(test, pairs_files(data, read_meta(data)))
    _write_scores(args, args.out, rows, label=SCENE_REFERENCE)


def cmd_sweep_drivers(args: argparse.Namespace) -> None:
    from bench.protocols.pose_sweep import make_sweep, save_sweep

    save_sweep(Path(args.out), make_sweep(Path(args.data)))


def cmd_sweep(args: argparse.Namespace) -> None:
    from bench.protocols.pose_sweep import load_npz, run_sweep, save_sweep

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params, "transfer")
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


def cmd_tables(args: argparse.Namespace) -> None:
    from bench.report.tables import write_table

    files = [Path(p) for p in args.metrics]
    written = write_table(args.table, files, Path(args.out_dir), args.dataset)
    for path in written:
        log.info("wrote %s", path)


# -- parser ----------------------------------------------------------------------------------
def _validate_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("configfile", nargs="*", help="config files, later ones override earlier")
    p.add_argument("--profile", help="a workflow profile folder: its configfiles come first")


def _prepare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset")
    p.add_argument("--out", default="results/data/synthfaces")
    p.add_argument(
        "--params", help="JSON of the dataset's config section (default: schema defaults)"
    )
    p.add_argument("--workers", type=int, help="rendering processes (default: all cores)")


def _sweep_figure_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rows", nargs="+", metavar="METHOD=GENERATED_NPZ")


def _figures_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--table",
        choices=[t.name for t in report_tables.TABLES if t.bar_figure],
        help="draw this method table's bar chart (default: pose transfer and verification)",
    )
    p.add_argument("metrics", nargs="+")


def _tables_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--table",
        choices=report_tables.names(),
        default="pose_transfer",
    )
    p.add_argument("metrics", nargs="+")


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
    Stage("methods", cmd_methods, "list the discovered methods with their needs and provides"),
    Stage("validate-config", cmd_validate_config,
          "validate config files (layered in order) and print the result with defaults",
          arguments=_validate_config_arguments),
    Stage("prepare", cmd_prepare, "prepare a dataset into results/data/<dataset>/",
          arguments=_prepare_arguments),
    Stage("tuples", cmd_tuples, "draw the pose-transfer test tuples (and render exact targets)",
          ("--data", "--params")),
    Stage("train-evaluator", cmd_train_evaluator, "train a SynthFaces oracle (identity or pose)",
          ("--data", "--params", "--out", "--quality"),
          arguments=lambda p: p.add_argument("part", choices=["identity", "pose"])),
    Stage("train", cmd_train, "train one (method, seed); resumes from its last checkpoint",
          ("--method", "--data", "--run-dir", "--params"), seed=True),
    Stage("synthesize", cmd_synthesize, "run a trained method on the pose-transfer tuples",
          (*_RUN, "--model", "--params", "--out", "--grid")),
    Stage("score", cmd_score, "score generated images; writes metrics.json",
          (*_RUN, "--generated", *_ORACLES, "--params", "--out"), seed=True),
    Stage("face-reference", cmd_face_reference,
          "pretrained face evaluators' features of the test tuples' sources, drivers and targets",
          ("--data", "--params", "--out")),
    Stage("score-faces", cmd_score_faces, "score generated images with pretrained face evaluators",
          (*_RUN, "--generated", "--reference", "--params", "--out"), seed=True),
    Stage("export", cmd_export, "write the pose-transfer tuples as plain files for any method",
          arguments=add_export_arguments),
    Stage("import", cmd_import, "validate a folder of a method's outputs and write it as a run",
          arguments=add_import_arguments),
    Stage("score-reconstruction", cmd_score_reconstruction,
          "reconstructions (RMSE, SSIM, CSIM) and random samples (FD, KID, FID) of a method",
          (*_RUN, "--model", *_ORACLES, "--params", "--out"), seed=True),
    Stage("represent", cmd_represent,
          "a method's codes of every test image, their verification, t-SNE and disentanglement",
          (*_RUN, "--model", "--params", "--codes", "--out", "--disentanglement", "--figure"),
          seed=True),
    Stage("scene-reference", cmd_scene_reference,
          "protocol 2's scene-only reference: the exact scene factors verified as a code",
          ("--data", "--out")),
    Stage("sweep-drivers", cmd_sweep_drivers, "render the pose-sweep drivers and exact targets",
          ("--data", "--out")),
    Stage("sweep", cmd_sweep, "run a trained method on the pose-sweep drivers",
          (*_RUN, "--model", "--params", "--sweep", "--out")),
    Stage("sweep-figure", cmd_sweep_figure, "the pose-sweep figure of every method",
          ("--dataset", "--sweep", "--pose-oracle", "--out-stem"),
          arguments=_sweep_figure_arguments),
    Stage("figures", cmd_figures, "bar charts and K-shot curves from metrics.json files",
          ("--dataset", "--out-dir"), arguments=_figures_arguments),
    Stage("tables", cmd_tables, "gather metrics.json files into comparison tables",
          ("--dataset", "--out-dir"), arguments=_tables_arguments),
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
    args = build_parser().parse_args(argv)
    setup_logging(args.log, args.verbose)
    set_threads(args.threads)
    try:
        args.func(args)
    except BenchError as error:
        log.error("%s", error)
        return 2
    return 0
