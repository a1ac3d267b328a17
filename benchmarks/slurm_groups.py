"""Wall time and SLURM submissions of the smoke DAG (or of the default's stages after
training) with and without the group ``run``, and locally with and without the preload server.

Runs, one after the other from empty directories (so their times compare within one
session): the smoke DAG locally (``--cores 2``; groups are a cluster setting, so a local
run has none), then through ``profiles/slurm`` on the running cluster of
``tools/slurm-local`` as it is (group ``run``) and with its ``groups:`` removed. Prints
one markdown row per run: wall seconds, Snakemake jobs (its "N of M steps", `all`
included), SLURM submissions, group jobs. A fourth run repeats the local one without the
preload server (``runtime.preload_server: false``: every job imports torch itself).

    tools/slurm-local/start.sh
    python benchmarks/slurm_groups.py --work /tmp/slurm-groups
    tools/slurm-local/stop.sh

``--after-training RESULTS --methods a,b,...`` measures the default DAG instead, from its
trained models: each run's folder starts with a copy of RESULTS' data, evaluators,
references and the named methods' training outputs (the ``train`` rule's files), so only
the stages after training run (synthesis, scoring, represent, sequences, sweeps, tables,
figures: what the group ``run`` groups). ``--rerun-triggers mtime`` keeps the copied
trainings (``cp -p`` keeps their times). The runs' tables must be byte-identical.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "slurm-local"))
sys.path.insert(0, str(REPO / "benchmarks"))

from check_smoke import SLURM_LOCAL, SMOKE, SNAKEMAKE, differing_files, run  # noqa: E402
from dag_job_times import submissions  # noqa: E402


def profile_without_groups(profile: Path, out: Path) -> Path:
    """A copy of ``profile`` (a folder with config.yaml) with no ``groups:`` key."""
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    settings.pop("groups", None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return out


#: What a default run's folder needs besides training outputs: the prepared data, the
#: evaluators and the reference features (the only other results/ folders the DAG reads).
SHARED = ("data", "evaluators", "reference")
#: The ``train`` rule's outputs in a run folder (workflow/rules/train.smk).
TRAIN_OUTPUTS = ("model.pt", "samples.png", "samples", "train.json", "train_log.csv")


def seed_trained(results: Path, methods: list[str], directory: Path) -> int:
    """Copy ``results``' shared folders and the ``methods``' training outputs (every run
    folder: seeds, untrained rows, per-K models) into ``directory/results``, times kept.
    Returns the number of run folders copied; a method without runs is an error."""
    target = directory / "results"
    for name in SHARED:
        shutil.copytree(results / name, target / name, copy_function=shutil.copy2)
    copied = 0
    for method in methods:
        runs = sorted(results.glob(f"runs/*/{method}/*/model.pt"))
        if not runs:
            raise SystemExit(f"{results}: no trained runs of {method!r} (runs/*/{method}/*)")
        for model in runs:
            run_dir = model.parent
            out = target / run_dir.relative_to(results)
            out.mkdir(parents=True, exist_ok=True)
            for name in TRAIN_OUTPUTS:
                source = run_dir / name
                if source.is_dir():
                    shutil.copytree(source, out / name, copy_function=shutil.copy2)
                elif source.is_file():
                    shutil.copy2(source, out / name)
            copied += 1
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="an empty scratch folder")
    parser.add_argument("--profile", type=Path, default=REPO / "profiles" / "slurm")
    parser.add_argument(
        "--after-training",
        type=Path,
        metavar="RESULTS",
        help="a default run's results/ folder: measure the default DAG after its trainings",
    )
    parser.add_argument("--methods", default="", help="with --after-training: a,b,c")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    plain = profile_without_groups(args.profile, args.work / "profile-no-groups")
    split = SMOKE.index("--configfiles")  # SMOKE ends with its config files
    dag, files, label = SMOKE[:split], SMOKE[split + 1 :], "smoke DAG"
    if args.after_training:
        methods = [m for m in args.methods.split(",") if m]
        if not methods:
            parser.error("--after-training needs --methods")
        chosen = args.work / "methods.yaml"
        chosen.write_text(yaml.safe_dump({"methods": methods}))
        dag = ["--workflow-profile", "profiles/default", "--rerun-triggers", "mtime"]
        files = ["config/config.yaml", str(chosen)]
        label = f"default DAG after training ({', '.join(methods)})"
    no_server = args.work / "no-preload-server.yaml"
    no_server.write_text(yaml.safe_dump({"runtime": {"preload_server": False}}))
    local = [*SNAKEMAKE, *dag, "--cores", "2", "--configfiles"]
    cluster = [*dag, *SLURM_LOCAL, "--configfiles", *files]
    variants = [
        ("local, --cores 2", [*local, *files]),
        ("SLURM, group run", [*SNAKEMAKE, "--profile", str(args.profile), *cluster]),
        ("SLURM, no groups", [*SNAKEMAKE, "--profile", str(plain), *cluster]),
        ("local, --cores 2, no preload server", [*local, *files, str(no_server)]),
    ]
    print(f"| {label} | wall s | Snakemake jobs | SLURM submissions | group jobs |")
    print("|---|---|---|---|---|")
    for index, (name, command) in enumerate(variants):
        directory, log = args.work / f"run{index}", args.work / f"run{index}.log"
        if args.after_training:
            seed_trained(args.after_training, methods, directory)
        rc, wall = run([*command, "--directory", str(directory)], log)
        if rc != 0:
            print(f"{name}: exit {rc}, see {log}", file=sys.stderr)
            return 1
        text = log.read_text()
        counts, steps = submissions(text), re.findall(r"^\d+ of (\d+) steps", text, re.M)
        print(
            f"| {name} | {wall:.0f} | {steps[-1] if steps else '?'} | {counts['submissions']} | "
            f"{counts['group_jobs']} |",
            flush=True,
        )
    for index in range(1, len(variants)):
        differing = differing_files(
            args.work / "run0/results/tables", args.work / f"run{index}/results/tables"
        )
        if differing:
            print(f"{variants[index][0]}: tables differ from the local run's: {differing}")
            return 1
    print(f"tables of the {len(variants)} runs: byte-identical")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
