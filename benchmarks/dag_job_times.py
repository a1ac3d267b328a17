"""Where the time of a DAG run went: job times per rule and per method, from Snakemake's
benchmark files (``results/benchmarks/<rule>/<dataset>/<method>/seed<k>.tsv``).

    python benchmarks/dag_job_times.py                      # the default run's results/
    python benchmarks/dag_job_times.py --results results/smoke --wall 2229

Each job's wall time (``s``) and CPU time (``cpu_time``) are summed; a method's share
counts every job of its runs (training, synthesis, scoring, its untrained row). Jobs
shared by all methods (preparation, oracles, tuples, tables) are listed as "shared".
With ``--wall`` (the run's measured wall-clock seconds) it also prints how busy the cores
were: sum of job wall times / (wall x cores). With ``--snakemake-log`` (the log of a run
through profiles/slurm) it counts the rule jobs, the SLURM submissions they took (a group
job is one submission for several rule jobs) and the wall time from the log's first to its
last timestamp. With ``--scontrol`` (files of ``scontrol show job -o``, dumped during the run:
the cluster forgets a job ``MinJobAge`` seconds after it ends) it sums the SLURM jobs that
ran in the run's directory (start to end, as the controller saw them) against the
benchmark wall of their rule jobs: the difference is what each submission cost beyond the
jobs' own commands (the plugin's ``snakemake`` processes inside the job, ``srun``, the
queue's start).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "slurm-local"))

from check_smoke import parse_scontrol  # noqa: E402


def served_cpu(results: Path) -> dict[Path, float]:
    """CPU seconds of the jobs the preload server ran, by benchmark file (relative path).

    A job forked by ``bench/preload_server.py`` is not a child of the job's shell, so
    Snakemake's benchmark file counts only the client's CPU; the server logs each job's
    (``results/logs/preload_server.log``, one JSON line per job, its ``--log`` path), and
    a rule's log ``results/logs/<x>.log`` has the benchmark ``results/benchmarks/<x>.tsv``.
    The last record of a log path wins (a rerun of that job).
    """
    path = results / "logs" / "preload_server.log"
    if not path.exists():
        return {}
    cpu = {}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        log = Path(record.get("log") or "")
        if log.suffix == ".log" and log.parts[:2] == ("results", "logs"):
            cpu[Path(*log.parts[2:]).with_suffix(".tsv")] = float(record["cpu_s"])
    return cpu


def read_jobs(benchmarks: Path) -> list[tuple[str, str, float, float]]:
    """(rule, method or 'shared', wall s, cpu s) of every benchmark file; a served job's
    CPU (:func:`served_cpu`) is added to its client's."""
    served = served_cpu(benchmarks.parent)
    jobs = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        parts = path.relative_to(benchmarks).parts
        rule = parts[0]
        method = parts[2] if len(parts) == 4 else "shared"
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        last = rows[-1]
        cpu = float(last.get("cpu_time") or 0.0) + served.get(path.relative_to(benchmarks), 0.0)
        jobs.append((rule, method, float(last["s"]), cpu))
    return jobs


def submissions(log: str) -> dict[str, float]:
    """Rule jobs, SLURM submissions, group jobs and wall seconds of a Snakemake log."""
    rule_jobs = re.findall(r"^ *rule \w+:\n(?:^ +.*\n)*? +jobid: \d+$", log, re.M)
    submitted = re.findall(r"^Job (\S+) has been submitted with SLURM jobid \d+", log, re.M)
    stamps = [
        datetime.strptime(" ".join(stamp.split()), "%a %b %d %H:%M:%S %Y")
        for stamp in re.findall(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]", log)
    ]
    return {
        "rule_jobs": len(rule_jobs),
        "submissions": len(submitted),
        "group_jobs": sum(not jobid.isdigit() for jobid in submitted),
        "wall_s": (max(stamps) - min(stamps)).total_seconds() if stamps else 0.0,
    }


#: SLURM job states of a job that ran and is over.
ENDED = frozenset(
    {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED"}
)


def slurm_jobs(dumps: list[Path], workdir: Path) -> dict[str, dict[str, str]]:
    """Ended jobs of ``scontrol show job -o`` dumps whose WorkDir is ``workdir``, by JobId
    (a later dump's record of a job replaces an earlier one's)."""
    jobs: dict[str, dict[str, str]] = {}
    workdir = workdir.resolve()
    for dump in dumps:
        for fields in parse_scontrol(dump.read_text()):
            if not fields.get("JobId") or Path(fields.get("WorkDir", "")).resolve() != workdir:
                continue
            if fields.get("JobState") in ENDED:  # a pending job's times are estimates
                jobs[fields["JobId"]] = fields
    return jobs


def slurm_seconds(job: dict[str, str]) -> float:
    """Seconds from a SLURM job's StartTime to its EndTime."""
    start, end = (datetime.fromisoformat(job[key]) for key in ("StartTime", "EndTime"))
    return (end - start).total_seconds()


def slurm_overhead(jobs: dict[str, dict[str, str]], job_wall: float, rule_jobs: int) -> str:
    """One line: SLURM jobs, their seconds and CPU-seconds held, the benchmark wall of the
    ``rule_jobs`` rule jobs they ran, and the difference per SLURM job."""
    if not jobs:
        return "scontrol: no ended job ran in this run's directory"
    held = sum(slurm_seconds(job) for job in jobs.values())
    cpu_held = sum(slurm_seconds(job) * int(job.get("NumCPUs", 1)) for job in jobs.values())
    states = Counter(job.get("JobState", "?") for job in jobs.values())
    extra = held - job_wall
    return (
        f"scontrol: {len(jobs)} SLURM jobs ({', '.join(f'{n} {s}' for s, n in sorted(states.items()))}) "
        f"held a node {held:.0f} s ({cpu_held:.0f} CPU-seconds allocated); their {rule_jobs} "
        f"rule jobs' benchmark wall is {job_wall:.0f} s, so a SLURM job cost "
        f"{extra / len(jobs):.1f} s beyond its commands on average ({extra:.0f} s in all)"
    )


def table(title: str, sums: dict[str, list[float]], total: float) -> str:
    lines = [f"| {title} | jobs | wall s | share | CPU s |", "|---|---|---|---|---|"]
    for name, (count, wall, cpu) in sorted(sums.items(), key=lambda kv: -kv[1][1]):
        lines.append(
            f"| {name} | {int(count)} | {wall:.0f} | {100 * wall / total:.1f}% | {cpu:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--wall", type=float, help="measured wall-clock seconds of the run")
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument(
        "--subset",
        nargs="+",
        metavar="METHOD",
        help="also estimate the wall time of a DAG of only these methods (with --wall): "
        "their jobs plus the shared ones, at the busy fraction this run measured",
    )
    parser.add_argument(
        "--snakemake-log",
        type=Path,
        help="log of a run through profiles/slurm: rule jobs, SLURM submissions, wall",
    )
    parser.add_argument(
        "--scontrol",
        type=Path,
        nargs="+",
        metavar="DUMP",
        help="files of `scontrol show job -o` taken during a run through profiles/slurm: "
        "what each SLURM job cost beyond its rule jobs' benchmark wall",
    )
    args = parser.parse_args(argv)
    if args.snakemake_log:
        counts = submissions(args.snakemake_log.read_text())
        print(
            f"{args.snakemake_log}: {counts['rule_jobs']} rule jobs in "
            f"{counts['submissions']} SLURM submissions ({counts['group_jobs']} group jobs), "
            f"{counts['wall_s']:.0f} s from first to last log line\n"
        )
    jobs = read_jobs(args.results / "benchmarks")
    if not jobs:
        raise SystemExit(f"{args.results / 'benchmarks'}: no benchmark files; run the DAG first")
    by_rule: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    by_method: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for rule, method, wall, cpu in jobs:
        for key, sums in ((rule, by_rule), (method, by_method)):
            sums[key][0] += 1
            sums[key][1] += wall
            sums[key][2] += cpu
    total = sum(wall for _, _, wall, _ in jobs)
    print(
        f"{len(jobs)} jobs, {total:.0f} s of job wall time, {sum(j[3] for j in jobs):.0f} s CPU\n"
    )
    print(table("rule", by_rule, total) + "\n")
    if args.scontrol:
        workdir = args.results.resolve().parent
        print(slurm_overhead(slurm_jobs(args.scontrol, workdir), total, len(jobs)) + "\n")
    print(table("method", by_method, total))
    if args.wall:
        busy = total / (args.wall * args.cores)
        print(
            f"\nwall {args.wall:.0f} s on {args.cores} cores: the cores ran jobs {100 * busy:.0f}% of it"
        )
        if args.subset:
            unknown = sorted(set(args.subset) - set(by_method))
            if unknown:
                raise SystemExit(f"--subset: no jobs of {', '.join(unknown)} in this run")
            names = {*args.subset, "shared"}
            subset = sum(wall for _, method, wall, _ in jobs if method in names)
            print(
                f"subset {' '.join(args.subset)} + shared jobs: {subset:.0f} s of job wall time, "
                f"estimated {subset / (args.cores * busy) / 60:.1f} min wall on {args.cores} cores "
                f"(an estimate from this run's job times, not a measured run)"
            )


if __name__ == "__main__":
    main()
