"""The smoke DAG on the local SLURM cluster (tools/slurm-local/start.sh), checked against a
local smoke run made in the same call; `make test-slurm` runs it, `.ci/run` calls that.

    python tools/slurm-local/check_smoke.py --work /tmp/slurm-check

1. the smoke DAG locally (the reference tables);
2. the smoke DAG with ``--profile profiles/slurm``; once pose_ae's training has written a
   checkpoint, its SLURM job is cancelled (``scancel``), so this run fails;
3. the same command again: the cancelled training resumes from its checkpoint;
4. checks: every job but the target rule ``all`` was a SLURM job; the partition, CPUs,
   memory, time limit and GPUs each job got (``scontrol show job``) are the profile's
   (a group job's: its members'); the tables equal the local run's byte for byte; the
   training log says it resumed and its losses equal the local run's; a dry run of
   ``--forcerun score`` schedules score alone (groups do not drag synthesize along).

Exit status 1 and one line per problem when a check fails; a JSON summary (times, jobs,
the requests read back) in ``<work>/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", "workflow/Snakefile"]
SMOKE = [
    "--workflow-profile", "profiles/smoke",
    "--configfiles", "config/config.yaml", "config/smoke.yaml", "tools/slurm-local/check.yaml",
]  # fmt: skip
# No accounting database on the local cluster: the plugin polls squeue (MinJobAge 3600 s).
SLURM_LOCAL = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5"]
CANCELLED_RUN = ("train", "synthfaces_pose_ae_0")
CANCELLED_CHECKPOINT = "results/runs/synthfaces/pose_ae/seed0/checkpoints/last.pt"


def parse_scontrol(text: str) -> list[dict[str, str]]:
    """Jobs of ``scontrol show job -o`` (one line each, ``Key=Value`` fields)."""
    jobs = []
    for line in text.splitlines():
        if line.strip():
            jobs.append(dict(re.findall(r"(\S+?)=(\S*)", line)))
    return jobs


def rule_of(comment: str) -> tuple[str, str]:
    """(rule, wildcards) of the plugin's job comment ``rule_<rule>_wildcards_<values>``."""
    match = re.fullmatch(r"rule_(\w+?)(?:_wildcards_(.*))?", comment)
    if not match:
        raise ValueError(f"job comment {comment!r} is not the plugin's rule_<rule>_wildcards_...")
    return match.group(1), match.group(2) or ""


def minutes(limit: str) -> int:
    """Minutes of a SLURM time limit ``[D-]HH:MM:SS``."""
    days, _, clock = limit.rpartition("-")
    hours, mins, secs = (int(part) for part in clock.split(":"))
    return int(days or 0) * 1440 + hours * 60 + mins + (secs > 0)


def profile_requests(profile: dict, rule: str) -> dict:
    """The partition, runtime and mem_mb the profile sets for a rule."""
    resources = dict(profile.get("default-resources", {}))
    resources.update(profile.get("set-resources", {}).get(rule, {}))
    return {key: resources.get(key) for key in ("slurm_partition", "runtime", "mem_mb")}


def gpus_of(job: dict[str, str]) -> int:
    """GPUs a job asked for (``TresPerJob=gres:gpu:N``, or ``gres/gpu=N`` in its TRES)."""
    match = re.search(r"gres:gpu:(\d+)", job.get("TresPerJob", "")) or re.search(
        r"gres/gpu=(\d+)", job.get("TRES", "")
    )
    return int(match.group(1)) if match else 0


def job_problems(job: dict[str, str], profile: dict, threads: int, gpus: int) -> list[str]:
    """What a job got (scontrol) that differs from the profile's request for its rule."""
    rule, wildcards = rule_of(job.get("Comment", ""))
    want = profile_requests(profile, rule)
    cpus = int(profile.get("set-resources", {}).get(rule, {}).get("cpus_per_task", threads))
    got = {
        "slurm_partition": job.get("Partition"),
        "runtime": minutes(job.get("TimeLimit", "0:0:0")),
        "mem_mb": int(job.get("MinMemoryNode", "0M").rstrip("M")),
        "cpus_per_task": int(job.get("CPUs/Task", "0")),
        "gpu": gpus_of(job),
    }
    want = {**want, "cpus_per_task": cpus, "gpu": gpus}
    return [
        f"SLURM job {job['JobId']} ({rule} {wildcards}): {key} {got[key]!r}, profile {want[key]!r}"
        for key in want
        if got[key] != want[key]
    ]


def log_jobs(log: str) -> tuple[dict[str, dict], dict[str, str], list[dict]]:
    """From a Snakemake log: each job's rule, threads, gpu resource and group (by Snakemake
    job id); the SLURM job id of each submitted job or group job; each group job's id and
    members (Snakemake job ids)."""
    jobs: dict[str, dict] = {}
    groups: list[dict] = []
    current = None
    for block in re.split(r"\n(?=\S)", log):
        if header := re.search(r"Group job (\S+) \(jobs in lexicogr\. order\):", block):
            groups.append({"id": header.group(1), "members": []})
        for indent, local, rule, body in re.findall(
            r"^( *)(local)?rule (\w+):\n((?:\1 +\S.*\n?)*)", block, re.M
        ):
            jobid = re.search(r"^\s+jobid: (\d+)$", body, re.M)
            if not jobid:
                continue
            threads = re.search(r"^\s+threads: (\d+)$", body, re.M)
            gpu = re.search(r"\bgpu=(\d+)", body)
            current = len(groups) - 1 if indent else None
            jobs[jobid.group(1)] = {
                "rule": rule,
                "local": bool(local),
                "threads": int(threads.group(1)) if threads else 1,
                "gpu": int(gpu.group(1)) if gpu else 0,
                "group": current,
            }
            if current is not None:
                groups[current]["members"].append(jobid.group(1))
    submitted = dict(re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+)", log))
    return jobs, submitted, groups


def differing_files(reference: Path, candidate: Path) -> list[str]:
    """Files of ``reference`` missing from ``candidate`` or not byte-identical there."""
    names = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    if not names:
        return [f"{reference}: no files to compare"]
    return [
        str(name)
        for name in names
        if not (candidate / name).is_file()
        or (candidate / name).read_bytes() != (reference / name).read_bytes()
    ]


def run(command: list[str], log: Path, cancel=None) -> tuple[int, float]:
    """Run a Snakemake command into ``log``; ``cancel()`` is polled every second while it
    runs. Returns (exit status, wall seconds)."""
    start = time.monotonic()
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
        while process.poll() is None:
            if cancel:
                cancel()
            time.sleep(1)
    return process.returncode, time.monotonic() - start


class Canceller:
    """scancel the pose_ae training job once it has written a checkpoint (once)."""

    def __init__(self, directory: Path) -> None:
        self.checkpoint = directory / CANCELLED_CHECKPOINT
        self.cancelled: str | None = None

    def __call__(self) -> None:
        if self.cancelled or not self.checkpoint.exists():
            return
        queue = subprocess.run(
            ["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"], capture_output=True, text=True
        ).stdout
        comment = f"rule_{CANCELLED_RUN[0]}_wildcards_{CANCELLED_RUN[1]}"
        for line in queue.splitlines():
            jobid, _, job_comment = line.partition(" ")
            if job_comment == comment:
                subprocess.run(["scancel", jobid], check=True)
                self.cancelled = jobid


def scontrol_job(slurm_id: str) -> dict[str, str]:
    """``scontrol show job`` of one job (MinJobAge keeps finished jobs for an hour)."""
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", slurm_id], capture_output=True, text=True
    )
    if shown.returncode != 0 or not shown.stdout.strip():
        raise RuntimeError(f"SLURM job {slurm_id}: scontrol show job: {shown.stderr.strip()}")
    return parse_scontrol(shown.stdout)[0]


def group_problems(job: dict[str, str], members: list[dict], profile: dict) -> list[str]:
    """A group job runs its members one after another or side by side: one partition (the
    members'), and at least the largest member's CPUs, memory and time limit."""
    wants = [profile_requests(profile, m["rule"]) for m in members]
    rules = sorted({m["rule"] for m in members})
    name = f"SLURM group job {job['JobId']} ({', '.join(rules)})"
    problems = [f"{name}: comment {job.get('Comment')!r} lacks {rule}" for rule in rules
                if rule not in job.get("Comment", "")]  # fmt: skip
    partitions = {w["slurm_partition"] for w in wants}
    if partitions != {job.get("Partition")}:
        problems.append(f"{name}: partition {job.get('Partition')}, profile {sorted(partitions)}")
    got = {
        "runtime": minutes(job.get("TimeLimit", "0:0:0")),
        "mem_mb": int(job.get("MinMemoryNode", "0M").rstrip("M")),
        "cpus_per_task": int(job.get("CPUs/Task", "0")),
    }
    least = {
        "runtime": max(w["runtime"] for w in wants),
        "mem_mb": max(w["mem_mb"] for w in wants),
        "cpus_per_task": max(m["threads"] for m in members),
    }
    return problems + [
        f"{name}: {key} {got[key]}, less than its largest member's {least[key]}"
        for key in least
        if got[key] < least[key]
    ]


def group_comment(group: dict, jobs: dict[str, dict]) -> str:
    """The plugin's comment for a group job: rule_<group id>_<its rules, sorted; 5 at most>
    (Snakemake's GroupJob.name)."""
    rules = sorted({jobs[m]["rule"] for m in group["members"]})
    if len(rules) > 5:
        rules = [*rules[:5], "..."]
    return f"rule_{group['id']}_{'_'.join(rules)}"


def request_problems(log: str, profile: dict) -> tuple[list[str], list[dict]]:
    """Every job of a Snakemake log but the target rule ran as a SLURM job (alone or in a
    group job), with the profile's requests."""
    jobs, submitted, groups = log_jobs(log)
    group_ids = [jobid for jobid in submitted if not jobid.isdigit()]
    problems = [
        f"Snakemake job {jobid} ({job['rule']}) was not submitted to SLURM"
        for jobid, job in jobs.items()
        if not job["local"] and job["group"] is None and jobid not in submitted
    ]
    problems += [
        f"Snakemake job {jobid} ({job['rule']}) ran as a local rule"
        for jobid, job in jobs.items()
        if job["local"] and job["rule"] != "all"
    ]
    if len(group_ids) != len(groups):
        problems.append(f"{len(groups)} group jobs in the log, {len(group_ids)} submitted")
    # The submissions do not follow the log's order: a group job is found by its comment,
    # the plugin's rule_<group name> (groups with the same rules are interchangeable here).
    unmatched = defaultdict(list)
    for group in groups:
        unmatched[group_comment(group, jobs)].append(group)
    readback = []
    for jobid, slurm_id in submitted.items():
        job = scontrol_job(slurm_id)
        comment = job.get("Comment", "").split("_wildcards_")[0]
        if jobid.isdigit():
            want = jobs[jobid]
            problems += job_problems(job, profile, want["threads"], want["gpu"])
        elif unmatched[comment]:
            members = [jobs[m] for m in unmatched[comment].pop()["members"]]
            problems += group_problems(job, members, profile)
        else:
            problems.append(f"SLURM group job {slurm_id}: no group {comment!r} in the log")
        keys = ("JobId", "JobState", "Partition", "CPUs/Task", "MinMemoryNode", "TimeLimit")
        readback.append({key: job.get(key) for key in (*keys, "TresPerJob", "Comment")})
    return problems, readback


def rerun_problems(command: list[str], work: Path) -> list[str]:
    """A single stage reruns alone under the profile's groups: a dry run of
    ``--forcerun score`` on the finished DAG schedules score jobs and no synthesize job."""
    dry = subprocess.run(
        [*command, "--forcerun", "score", "--dry-run"], cwd=REPO, capture_output=True, text=True
    )
    (work / "forcerun-score.log").write_text(dry.stdout + dry.stderr)
    rules = re.findall(r"^ *rule (\w+):$", dry.stdout + dry.stderr, re.M)
    if dry.returncode != 0 or "score" not in rules or "synthesize" in rules:
        return [f"--forcerun score: not score alone ({sorted(set(rules))}); see forcerun-score.log"]
    return []


def check(work: Path, profile_path: Path) -> tuple[list[str], dict]:
    """Steps 1-4 of the module docstring; (problems, summary)."""
    local, cluster = work / "local", work / "slurm"
    profile = yaml.safe_load(profile_path.read_text())
    summary: dict = {}
    rc, summary["local_wall_s"] = run(
        [*SNAKEMAKE, *SMOKE, "--directory", str(local), "--cores", "2"], work / "local.log"
    )
    if rc != 0:
        return [f"local smoke run failed (exit {rc}); see {work / 'local.log'}"], summary
    command = [
        *SNAKEMAKE, "--profile", str(profile_path), *SMOKE, *SLURM_LOCAL,
        "--directory", str(cluster),
    ]  # fmt: skip
    canceller = Canceller(cluster)
    rc1, summary["slurm_first_wall_s"] = run(command, work / "slurm-1.log", canceller)
    rc2, summary["slurm_rerun_wall_s"] = run(command, work / "slurm-2.log")
    problems = []
    if not canceller.cancelled:
        problems.append(f"pose_ae's training ended before {CANCELLED_CHECKPOINT} appeared")
    elif rc1 == 0:
        problems.append(f"SLURM job {canceller.cancelled} was cancelled but the run succeeded")
    if rc2 != 0:
        return [*problems, f"SLURM rerun failed (exit {rc2}); see {work / 'slurm-2.log'}"], summary
    train_log = cluster / "results/logs/train/synthfaces/pose_ae/seed0.log"
    resumed = re.search(r"resuming pose_ae seed 0 from \S+ \(step (\d+)", train_log.read_text())
    summary["resumed_from_step"] = int(resumed.group(1)) if resumed else None
    if not resumed or resumed.group(1) == "0":
        problems.append(f"{train_log}: the cancelled training did not resume from a checkpoint")
    problems += rerun_problems(command, work)
    logs = [(work / f"slurm-{n}.log").read_text() for n in (1, 2)]
    summary["slurm_jobs"] = []
    for log in logs:
        log_problems, readback = request_problems(log, profile)
        problems += log_problems
        summary["slurm_jobs"] += readback
    differing = differing_files(local / "results/tables", cluster / "results/tables")
    problems += [f"results/tables/{name}: differs from the local smoke run's" for name in differing]
    # Resume is exact: the resumed run's losses are the uncancelled local run's.
    losses = Path(CANCELLED_CHECKPOINT).parents[1] / "train_log.csv"
    if (local / losses).read_bytes() != (cluster / losses).read_bytes():
        problems.append(f"{losses}: the resumed training's losses differ from the local run's")
    summary["tables_compared"] = len(list((local / "results/tables").rglob("*.*")))
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a new or empty folder")
    parser.add_argument("--profile", type=Path, default=REPO / "profiles" / "slurm")
    args = parser.parse_args(argv)
    if args.work.exists() and any(args.work.iterdir()):
        parser.error(f"--work {args.work}: not empty (the check needs fresh runs)")
    args.work.mkdir(parents=True, exist_ok=True)
    problems, summary = check(args.work.resolve(), args.profile.resolve() / "config.yaml")
    summary["problems"] = problems
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    jobs = summary.get("slurm_jobs", [])
    for job in jobs:
        print(" ".join(f"{key}={value}" for key, value in job.items()))
    times = {key: round(value, 1) for key, value in summary.items() if key.endswith("_s")}
    print(f"{len(jobs)} SLURM jobs; wall s {times}; tables {summary.get('tables_compared')}")
    for problem in problems:
        print("PROBLEM:", problem)
    print("slurm smoke check:", "FAILED" if problems else "passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
