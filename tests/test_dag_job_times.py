"""benchmarks/dag_job_times.py: sums of Snakemake's benchmark files per rule and method, and
the subset estimate that issue budgets are stated with."""

from __future__ import annotations

import importlib.util

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
