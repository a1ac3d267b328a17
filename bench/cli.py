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
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import __version__
from bench.errors import BenchError

log = logging.getLogger("bench")


def setup_logging(log_file: str | None, verbose: bool = False) -> None:
    """Readable logs to stderr and, when given, to the rule's log file."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=handlers,
        force=True,
    )


_THREAD_LIMITS = []  # keeps the threadpoolctl limits alive for the process


def set_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads and the BLAS/OpenMP pools of numpy, scipy and sklearn.

    The DAG runs several one-thread jobs side by side; an uncapped OpenBLAS starts one
    thread per core in each, and the oversubscribed cores made KID's matmuls 5x slower.
    """
    if threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        _THREAD_LIMITS.append(threadpool_limits(limits=threads))


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

    if args.dataset != "synthfaces":
        raise BenchError(f"unknown dataset {args.dataset!r}; available: synthfaces")
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


@dataclass(frozen=True)
class RunSeed:
    """A run's ``--seed``: ``3`` is seed 3 trained; ``0-untrained`` is seed 0 at step 0.

    Untrained runs are the rows that show what training adds: the same networks, the
    same seed, scored at their initialisation (table rows ``<method> (untrained)``).
    """

    seed: int
    untrained: bool = False

    def label(self, method: str) -> str:
        return f"{method} (untrained)" if self.untrained else method


def run_seed(text: str) -> RunSeed:
    match = re.fullmatch(r"(\d+)(-untrained)?", text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid seed {text!r}: use a number (3) or a number with -untrained (0-untrained)"
        )
    return RunSeed(int(match[1]), match[2] is not None)


def cmd_train(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.methods.registry import get_method
    from bench.train import TrainSettings, train

    params = json.loads(args.params)
    spec = get_method(args.method)
    data = FaceData.load(Path(args.data), "train", params["pose_bin_width"])
    settings = TrainSettings(**{k: v for k, v in params["train"].items() if k != "threads"})
    method_config = dict(params["method"])
    if args.seed.untrained:
        method_config["steps"] = 0  # the initialisation: built, seeded, saved, never stepped
    train(spec, method_config, data, Path(args.run_dir), args.seed.seed, settings)


def _load_test_and_method(args: argparse.Namespace, params: dict[str, Any]):
    from bench.data.dataset import FaceData
    from bench.methods.registry import get_method
    from bench.train import load_trained, pick_device

    test = FaceData.load(Path(args.data), "test", params.get("pose_bin_width", 15))
    method = load_trained(
        Path(args.model), get_method(args.method), pick_device(params.get("device", "auto"))
    )
    return test, method


def cmd_synthesize(args: argparse.Namespace) -> None:
    from bench.protocols.pose_transfer import (
        read_tuples,
        save_generated,
        save_sample_grid,
        synthesize,
    )

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params)
    if "transfer" not in method.provides:
        raise BenchError(f"method {args.method!r} does not provide transfer")
    tuples = read_tuples(Path(args.data))
    outputs = synthesize(method, test, tuples, params["k"], params["batch_size"])
    save_generated(Path(args.out), outputs, tuples, params["k"])
    save_sample_grid(Path(args.grid), test, tuples, outputs)


def cmd_score(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.data.index import read_meta
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.methods.registry import get_method
    from bench.protocols.pose_transfer import (
        load_generated,
        not_applicable_rows,
        read_tuples,
        score_pose_transfer,
    )
    from bench.protocols.results import run_context, write_metrics

    params = json.loads(args.params)
    data = Path(args.data)
    test = FaceData.load(data, "test")
    outputs, k_values = load_generated(Path(args.generated))
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    rows = score_pose_transfer(outputs, test, read_tuples(data), oracle, params)
    rows += not_applicable_rows(get_method(args.method).cls.not_applicable_k, k_values)
    context = run_context(read_meta(data), args.seed.label(args.method), args.seed.seed)
    write_metrics(Path(args.out), rows, context)


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
    from bench.data.index import read_meta
    from bench.methods.registry import get_method
    from bench.protocols.face_scores import FaceEvaluators, score_faces
    from bench.protocols.pose_transfer import load_generated, not_applicable_rows
    from bench.protocols.results import load_arrays, run_context, write_metrics

    params = json.loads(args.params)
    reference = load_arrays(Path(args.reference), "face-reference")
    outputs, _ = load_generated(Path(args.generated))
    rows = score_faces(outputs, reference, FaceEvaluators(params), params)
    rows += not_applicable_rows(get_method(args.method).cls.not_applicable_k, params["k"])
    context = run_context(read_meta(Path(args.data)), args.seed.label(args.method), args.seed.seed)
    write_metrics(Path(args.out), rows, context)


def cmd_score_reconstruction(args: argparse.Namespace) -> None:
    from bench.data.index import read_meta
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.protocols.reconstruction import score_reconstruction
    from bench.protocols.results import run_context, write_metrics

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params)
    if not {"reconstruct", "sample"} & method.provides:
        raise BenchError(f"method {args.method!r} provides neither reconstruct nor sample")
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    rows = score_reconstruction(method, test, oracle, params)
    context = run_context(read_meta(Path(args.data)), args.seed.label(args.method), args.seed.seed)
    write_metrics(Path(args.out), rows, context)


def cmd_represent(args: argparse.Namespace) -> None:
    """Protocol 2 in one process: the codes of every test image, their verification on
    pairs.txt and its same-scene twin, t-SNE figure, and (where the dataset has exact
    factors) MIG/DCI/SAP."""
    from bench.data.index import read_meta
    from bench.protocols.representation import (
        disentanglement_rows,
        encode,
        has_exact_factors,
        load_codes,
        pairs_files,
        save_codes,
        score_representation,
        tsne_figure,
    )
    from bench.protocols.results import run_context, write_metrics

    params = json.loads(args.params)
    data = Path(args.data)
    test, method = _load_test_and_method(args, params)
    if not {"identity_code", "pose_code"} & method.provides:
        raise BenchError(f"method {args.method!r} provides no codes (identity_code or pose_code)")
    save_codes(Path(args.codes), encode(method, test), test)
    codes = load_codes(Path(args.codes), test)  # what the file holds is what gets scored
    meta = read_meta(data)
    label = args.seed.label(args.method)
    context = run_context(meta, label, args.seed.seed)
    rows = score_representation(codes, test, pairs_files(data, meta))
    write_metrics(Path(args.out), rows, context)
    reason = has_exact_factors(test)
    rows = (
        disentanglement_rows(codes, test, params["disentanglement"])
        if reason is None
        else [
            {
                "metric": "not_applicable",
                "value": float("nan"),
                "n": 0,
                "higher_is_better": True,
                "evaluator": "none",
                "not_applicable": reason,
                "protocol": "disentanglement/all-codes",
                "k": 1,
            }
        ]
    )
    write_metrics(Path(args.disentanglement), rows, context)
    title = f"{label} (seed {args.seed.seed}) on {meta['dataset']} test identities"
    tsne_figure(codes, test, Path(args.figure).with_suffix(""), title)


def cmd_scene_reference(args: argparse.Namespace) -> None:
    """Protocol 2's scene-only reference row: the exact scene factors of each test image
    verified as a code on the dataset's pairs files (n/a rows where it has none)."""
    from bench.data.index import read_index, read_meta
    from bench.protocols.representation import SCENE_REFERENCE, pairs_files, scene_reference_rows
    from bench.protocols.results import run_context, write_metrics

    data = Path(args.data)
    meta = read_meta(data)
    index = read_index(data)
    test = index[index["split"] == "test"].reset_index(drop=True)
    rows = scene_reference_rows(test, pairs_files(data, meta))
    write_metrics(Path(args.out), rows, run_context(meta, SCENE_REFERENCE, 0))


def cmd_sweep_drivers(args: argparse.Namespace) -> None:
    from bench.protocols.pose_sweep import make_sweep, save_sweep

    save_sweep(Path(args.out), make_sweep(Path(args.data)))


def cmd_sweep(args: argparse.Namespace) -> None:
    from bench.protocols.pose_sweep import load_npz, run_sweep, save_sweep

    params = json.loads(args.params)
    test, method = _load_test_and_method(args, params)
    if "transfer" not in method.provides:
        raise BenchError(f"method {args.method!r} does not provide transfer")
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
    from bench.report.tables import read_metrics

    files = [Path(p) for p in args.metrics]
    if args.table:
        written = table_bars(read_metrics(files), Path(args.out_dir), args.dataset, args.table)
    else:
        written = write_figures(files, Path(args.out_dir), args.dataset)
    for path in written:
        log.info("wrote %s", path)


def cmd_tables(args: argparse.Namespace) -> None:
    from bench.report.tables import (
        write_disentanglement_tables,
        write_face_tables,
        write_pose_transfer_tables,
        write_reconstruction_tables,
        write_verification_tables,
    )

    writer = {
        "pose_transfer": write_pose_transfer_tables,
        "pose_transfer_faces": write_face_tables,
        "reconstruction": write_reconstruction_tables,
        "disentanglement": write_disentanglement_tables,
        "verification": write_verification_tables,
    }
    written = writer[args.table]([Path(p) for p in args.metrics], Path(args.out_dir), args.dataset)
    for path in written:
        log.info("wrote %s", path)


# -- parser ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"idpose-bench {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log", help="also write the log to this file")
    common.add_argument("--threads", type=int, help="torch CPU threads")
    common.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="stage")

    def stage(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    stage("methods", cmd_methods, "list the discovered methods with their needs and provides")
    p = stage(
        "validate-config",
        cmd_validate_config,
        "validate config files (layered in order) and print the result with defaults",
    )
    p.add_argument("configfile", nargs="*", help="config files, later ones override earlier")
    p.add_argument("--profile", help="a workflow profile folder: its configfiles come first")
    p = stage("prepare", cmd_prepare, "prepare a dataset into results/data/<dataset>/")
    p.add_argument("dataset")
    p.add_argument("--out", default="results/data/synthfaces")
    p.add_argument(
        "--params", help="JSON of the dataset's config section (default: schema defaults)"
    )
    p.add_argument("--workers", type=int, help="rendering processes (default: all cores)")
    p = stage("tuples", cmd_tuples, "draw the pose-transfer test tuples (and render exact targets)")
    p.add_argument("--data", required=True)
    p.add_argument("--params", required=True)
    p = stage(
        "train-evaluator", cmd_train_evaluator, "train a SynthFaces oracle (identity or pose)"
    )
    p.add_argument("part", choices=["identity", "pose"])
    p.add_argument("--data", required=True)
    p.add_argument("--params", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--quality", required=True)
    p = stage("train", cmd_train, "train one (method, seed); resumes from its last checkpoint")
    for flag in ("--method", "--data", "--run-dir", "--params"):
        p.add_argument(flag, required=True)
    p.add_argument("--seed", type=run_seed, required=True)
    p = stage("synthesize", cmd_synthesize, "run a trained method on the pose-transfer tuples")
    for flag in ("--method", "--data", "--model", "--params", "--out", "--grid"):
        p.add_argument(flag, required=True)
    p = stage("score", cmd_score, "score generated images; writes metrics.json")
    for flag in (
        "--method",
        "--data",
        "--generated",
        "--identity-oracle",
        "--pose-oracle",
        "--params",
        "--out",
    ):
        p.add_argument(flag, required=True)
    p.add_argument("--seed", type=run_seed, required=True)
    p = stage(
        "face-reference",
        cmd_face_reference,
        "pretrained face evaluators' features of the test tuples' sources, drivers and targets",
    )
    for flag in ("--data", "--params", "--out"):
        p.add_argument(flag, required=True)
    p = stage(
        "score-faces", cmd_score_faces, "score generated images with pretrained face evaluators"
    )
    for flag in ("--method", "--data", "--generated", "--reference", "--params", "--out"):
        p.add_argument(flag, required=True)
    p.add_argument("--seed", type=run_seed, required=True)
    p = stage(
        "score-reconstruction",
        cmd_score_reconstruction,
        "reconstructions (RMSE, SSIM, CSIM) and random samples (FD, KID, FID) of a method",
    )
    for flag in ("--method", "--data", "--model", "--identity-oracle", "--pose-oracle"):
        p.add_argument(flag, required=True)
    for flag in ("--params", "--out"):
        p.add_argument(flag, required=True)
    p.add_argument("--seed", type=run_seed, required=True)
    p = stage(
        "represent",
        cmd_represent,
        "a method's codes of every test image, their verification, t-SNE and disentanglement",
    )
    for flag in ("--method", "--data", "--model", "--params", "--codes", "--out"):
        p.add_argument(flag, required=True)
    for flag in ("--disentanglement", "--figure"):
        p.add_argument(flag, required=True)
    p.add_argument("--seed", type=run_seed, required=True)
    p = stage(
        "scene-reference",
        cmd_scene_reference,
        "protocol 2's scene-only reference: the exact scene factors verified as a code",
    )
    for flag in ("--data", "--out"):
        p.add_argument(flag, required=True)
    p = stage("sweep-drivers", cmd_sweep_drivers, "render the pose-sweep drivers and exact targets")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p = stage("sweep", cmd_sweep, "run a trained method on the pose-sweep drivers")
    for flag in ("--method", "--data", "--model", "--params", "--sweep", "--out"):
        p.add_argument(flag, required=True)
    p = stage("sweep-figure", cmd_sweep_figure, "the pose-sweep figure of every method")
    for flag in ("--dataset", "--sweep", "--pose-oracle", "--out-stem"):
        p.add_argument(flag, required=True)
    p.add_argument("rows", nargs="+", metavar="METHOD=GENERATED_NPZ")
    p = stage("figures", cmd_figures, "bar charts and K-shot curves from metrics.json files")
    p.add_argument(
        "--table",
        choices=["reconstruction", "disentanglement", "pose_transfer_faces"],
        help="draw this method table's bar chart (default: pose transfer and verification)",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("metrics", nargs="+")
    p = stage("tables", cmd_tables, "gather metrics.json files into comparison tables")
    p.add_argument(
        "--table",
        choices=[
            "pose_transfer",
            "pose_transfer_faces",
            "verification",
            "reconstruction",
            "disentanglement",
        ],
        default="pose_transfer",
    )
    p.add_argument("--dataset", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("metrics", nargs="+")
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
