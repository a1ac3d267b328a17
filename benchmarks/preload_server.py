"""A local DAG with and without the preload server: wall time, CPU and jobs, paired.

Runs the DAG from empty folders, alternating without / with ``bench/preload_server.py``
(``runtime.preload_server``), ``--runs`` pairs, one after the other (so a drift of the
machine's speed hits both). CPU is the user + system time of everything the Snakemake
process waited for (its jobs, the server and the server's children), read from
``getrusage(RUSAGE_CHILDREN)`` around each run. Prints one markdown row per run and the
median of the paired ratios with / without:

    python benchmarks/preload_server.py --work /tmp/preload-bench            # smoke DAG
    python benchmarks/preload_server.py --work /tmp/preload-bench --profile profiles/default \\
        --configfiles config/config.yaml --runs 1                               # the default
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_dag(command: list[str], log: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one Snakemake run; an exit status other than 0 stops the script."""
    cpu, start = children_cpu(), time.monotonic()
    with log.open("w") as handle:
        status = subprocess.run(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
    wall = time.monotonic() - start
    if status.returncode != 0:
        raise SystemExit(f"exit {status.returncode}: {' '.join(command)}; see {log}")
    return wall, children_cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="an empty scratch folder")
    parser.add_argument("--runs", type=int, default=2, help="pairs (without, with)")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--profile", default="profiles/smoke", help="workflow profile")
    parser.add_argument(
        "--configfiles", nargs="+", default=["config/config.yaml", "config/smoke.yaml"]
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    off = args.work / "no_preload_server.yaml"
    off.write_text("runtime: {preload_server: false}\n")
    base = [sys.executable, "-m", "snakemake", "--snakefile", "workflow/Snakefile"]
    base += ["--workflow-profile", args.profile, "--cores", args.cores]
    variants = {
        "without": [*base, "--configfiles", *args.configfiles, str(off)],
        "with": [*base, "--configfiles", *args.configfiles],
    }
    print("| run | preload server | wall s | CPU s |\n|---|---|---|---|")
    results: dict[str, list[tuple[float, float]]] = {"without": [], "with": []}
    for index in range(args.runs):
        for name, command in variants.items():
            directory = args.work / f"{name}{index}"
            wall, cpu = run_dag(
                [*command, "--directory", str(directory)], directory.with_suffix(".log")
            )
            results[name].append((wall, cpu))
            print(f"| {index} | {name} | {wall:.0f} | {cpu:.0f} |", flush=True)
    for column, label in ((0, "wall"), (1, "CPU")):
        ratios = [
            w[column] / wo[column]
            for w, wo in zip(results["with"], results["without"], strict=True)
        ]
        print(
            f"\n{label}: with / without, median of {len(ratios)} pairs: {statistics.median(ratios):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
