"""benchmarks/dag_job_times.py: sums of Snakemake's benchmark files per rule and method, and
the subset estimate that issue budgets are stated with."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from bench import REPO_ROOT

spec = importlib.util.spec_from_file_location(
    "dag_job_times", REPO_ROOT / "benchmarks" / "dag_job_times.py"
)
dag_job_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dag_job_times)

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_job(root, parts, wall, cpu):
    path = root.joinpath("benchmarks", *parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:00\t1\t1\t1\t1\t0\t0\t90\t{cpu}\n")


@pytest.fixture()
def run(tmp_path):
    write_job(tmp_path, ("prepare", "synthfaces.tsv"), 10.0, 9.0)
    write_job(tmp_path, ("train", "synthfaces", "a", "seed0.tsv"), 60.0, 50.0)
    write_job(tmp_path, ("score", "synthfaces", "a", "seed0.tsv"), 10.0, 8.0)
    write_job(tmp_path, ("train", "synthfaces", "b", "seed0.tsv"), 120.0, 100.0)
    return tmp_path


def test_sums_per_rule_and_method_and_the_busy_fraction(run, capsys):
    dag_job_times.main(["--results", str(run), "--wall", "100", "--cores", "2"])
    out = capsys.readouterr().out
    assert out.startswith("4 jobs, 200 s of job wall time, 167 s CPU")
    assert "| train | 2 | 180 | 90.0% | 150 |" in out
    assert "| a | 2 | 70 | 35.0% | 58 |" in out
    assert "| shared | 1 | 10 | 5.0% | 9 |" in out
    assert "the cores ran jobs 100% of it" in out


def test_subset_estimate_counts_its_jobs_and_the_shared_ones(run, capsys):
    dag_job_times.main(["--results", str(run), "--wall", "200", "--cores", "2", "--subset", "a"])
    out = capsys.readouterr().out
    # busy = 200 / (200 x 2) = 0.5; subset = 70 + 10 s -> 80 / (2 x 0.5) = 80 s = 1.3 min
    assert "subset a + shared jobs: 80 s of job wall time, estimated 1.3 min wall" in out


def test_subset_naming_a_method_without_jobs_is_an_error(run):
    with pytest.raises(SystemExit, match="no jobs of zeta"):
        dag_job_times.main(["--results", str(run), "--wall", "100", "--subset", "zeta"])


# A run through profiles/slurm: a group job of two rule jobs, then one plain job.
SLURM_LOG = """\
[Sat Dec  5 08:51:07 2026] Group job run (jobs in lexicogr. order):
    [Sat Dec  5 08:51:07 2026]
    rule score:
        input: a.npz
        jobid: 30

    [Sat Dec  5 08:51:07 2026]
    rule synthesize:
        jobid: 22

Job 5f0c-aa has been submitted with SLURM jobid 31 (log: x/31.log).
[Sat Dec  5 08:52:10 2026]
rule tables:
    jobid: 40
Job 40 has been submitted with SLURM jobid 32 (log: x/32.log).
[Sat Dec  5 08:53:47 2026]
localrule all:
    jobid: 0
"""


def test_snakemake_log_counts_rule_jobs_submissions_and_wall(run, tmp_path, capsys):
    assert dag_job_times.submissions(SLURM_LOG) == {
        "rule_jobs": 3,
        "submissions": 2,
        "group_jobs": 1,
        "wall_s": 160.0,
    }
    log = tmp_path / "slurm.log"
    log.write_text(SLURM_LOG)
    dag_job_times.main(["--results", str(run), "--snakemake-log", str(log)])
    assert "3 rule jobs in 2 SLURM submissions (1 group jobs), 160 s" in capsys.readouterr().out


def test_a_served_jobs_cpu_comes_from_the_preload_servers_records(run, capsys):
    # The train job of 'a' ran in the preload server: its benchmark counts the client only.
    write_job(run, ("train", "synthfaces", "a", "seed0.tsv"), 60.0, 0.5)
    log = run / "logs" / "preload_server.log"
    log.parent.mkdir(parents=True)
    records = [
        {"job": 1, "code": 0, "log": "results/logs/train/synthfaces/a/seed0.log", "cpu_s": 9.0},
        {"job": 2, "code": 0, "log": "results/logs/train/synthfaces/a/seed0.log", "cpu_s": 49.5},
        {"job": 3, "code": 0, "log": None, "cpu_s": 7.0},  # no --log: no benchmark to add to
    ]
    log.write_text(
        "preloaded numpy in 0.1 s CPU\n" + "".join(json.dumps(r) + "\n" for r in records)
    )
    assert dag_job_times.served_cpu(run) == {Path("train/synthfaces/a/seed0.tsv"): 49.5}
    dag_job_times.main(["--results", str(run)])
    out = capsys.readouterr().out
    assert out.startswith("4 jobs, 200 s of job wall time, 167 s CPU")  # 0.5 + 49.5 = 50
    assert "| a | 2 | 70 | 35.0% | 58 |" in out


def scontrol_line(job, state, start, end, workdir, cpus=1):
    return (
        f"JobId={job} JobName=x UserId=root(0) JobState={state} Reason=None "
        f"StartTime={start} EndTime={end} Partition=cpu NumCPUs={cpus} WorkDir={workdir} "
        f"Comment=rule_train_wildcards_synthfaces_a_0\n"
    )


def test_scontrol_dumps_give_what_each_slurm_job_cost_beyond_its_rule_jobs(run, tmp_path, capsys):
    # The run directory is the parent of --results; 4 rule jobs, 200 s of benchmark wall.
    workdir = run.parent
    early, late = tmp_path / "dump1.txt", tmp_path / "dump2.txt"
    early.write_text(
        scontrol_line(1, "RUNNING", "2026-12-05T10:00:00", "2026-12-05T22:00:00", workdir)
        + scontrol_line(2, "PENDING", "2026-12-05T10:05:00", "2026-12-05T10:06:00", workdir)
        + scontrol_line(9, "COMPLETED", "2026-12-05T09:00:00", "2026-12-05T09:10:00", "/other")
    )
    late.write_text(  # job 1 ended; job 2 ran two CPUs for 130 s; job 3 is forgotten later
        scontrol_line(1, "COMPLETED", "2026-12-05T10:00:00", "2026-12-05T10:01:10", workdir)
        + scontrol_line(2, "COMPLETED", "2026-12-05T10:01:20", "2026-12-05T10:03:30", workdir, 2)
        + scontrol_line(3, "CANCELLED", "2026-12-05T10:04:00", "2026-12-05T10:04:20", workdir)
    )
    jobs = dag_job_times.slurm_jobs([early, late], workdir)
    assert sorted(jobs) == ["1", "2", "3"]  # the other directory's job is left out
    assert [dag_job_times.slurm_seconds(jobs[j]) for j in ("1", "2", "3")] == [70.0, 130.0, 20.0]
    pending_only = dag_job_times.slurm_jobs([early], workdir)
    assert pending_only == {}  # running and pending jobs' end times are estimates
    dag_job_times.main(["--results", str(run), "--scontrol", str(early), str(late)])
    out = capsys.readouterr().out
    # held 220 s (70 + 260 + 20 = 350 CPU-s) against 200 s of benchmark wall: 20 s / 3 jobs
    assert (
        "scontrol: 3 SLURM jobs (1 CANCELLED, 2 COMPLETED) held a node 220 s (350 CPU-seconds "
        "allocated); their 4 rule jobs' benchmark wall is 200 s, so a SLURM job cost 6.7 s "
        "beyond its commands on average (20 s in all)"
    ) in out
