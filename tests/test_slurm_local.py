"""tools/slurm-local/check_smoke.py (the SLURM smoke check `make test-slurm` runs) and
profiles/slurm: the parsing and comparisons it relies on, on recorded scontrol and Snakemake
output, and the profile's resources against the workflow's rules. The cluster run itself
needs root and a SLURM install: `make test-slurm` (.ci/run)."""

from __future__ import annotations

import importlib.util
import os
import re

import pytest
import yaml

from bench import REPO_ROOT

spec = importlib.util.spec_from_file_location(
    "check_smoke", REPO_ROOT / "tools" / "slurm-local" / "check_smoke.py"
)
check_smoke = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_smoke)

PROFILE = yaml.safe_load((REPO_ROOT / "profiles" / "slurm" / "config.yaml").read_text())
# `scontrol show job -o` of a training job on tools/slurm-local's cluster (abridged).
TRAIN_JOB = (
    "JobId=7 JobName=7a85c5c3 JobState=COMPLETED TimeLimit=12:00:00 Partition=gpu "
    "NumCPUs=1 CPUs/Task=1 TRES=cpu=1,node=1,billing=1,gres/gpu=1 MinMemoryNode=16000M "
    "Comment=rule_train_wildcards_synthfaces_pose_ae_0 TresPerJob=gres:gpu:1"
)
LOG = """\
rule prepare:
    output: results/data/synthfaces/meta.json
    jobid: 1
    threads: 2
    resources: tmpdir=<TBD>, mem_mb=16000, slurm_partition=cpu, runtime=120

rule train:
    jobid: 17
    wildcards: dataset=synthfaces, method=pose_ae, seed=0
    resources: tmpdir=<TBD>, mem_mb=16000, slurm_partition=gpu, runtime=720, gpu=1

localrule all:
    jobid: 0
Job 1 has been submitted with SLURM jobid 2 (log: x/2.log).
Job 17 has been submitted with SLURM jobid 7 (log: x/7.log).
"""


def test_scontrol_line_parses_into_fields():
    [job] = check_smoke.parse_scontrol(TRAIN_JOB + "\n\n")
    assert job["Partition"] == "gpu" and job["CPUs/Task"] == "1"
    assert job["TRES"] == "cpu=1,node=1,billing=1,gres/gpu=1"


def test_rule_of_comment_splits_rule_names_with_underscores():
    assert check_smoke.rule_of("rule_train_evaluator_wildcards_synthfaces_pose") == (
        "train_evaluator",
        "synthfaces_pose",
    )
    assert check_smoke.rule_of("rule_tables") == ("tables", "")
    with pytest.raises(ValueError, match="not the plugin's"):
        check_smoke.rule_of("(null)")


@pytest.mark.parametrize(
    ("limit", "expected"), [("12:00:00", 720), ("1-00:00:00", 1440), ("00:10:30", 11)]
)
def test_time_limit_minutes(limit, expected):
    assert check_smoke.minutes(limit) == expected


def test_training_job_matches_the_profile():
    [job] = check_smoke.parse_scontrol(TRAIN_JOB)
    assert check_smoke.job_problems(job, PROFILE, threads=1, gpus=1) == []


def test_each_wrong_request_is_named():
    job = check_smoke.parse_scontrol(TRAIN_JOB)[0] | {
        "Partition": "cpu",
        "TimeLimit": "01:00:00",
        "MinMemoryNode": "4000M",
        "CPUs/Task": "4",
        "TresPerJob": "",
        "TRES": "cpu=4",
    }
    problems = check_smoke.job_problems(job, PROFILE, threads=1, gpus=1)
    assert [re.search(r": (\w+) ", p).group(1) for p in problems] == [
        "slurm_partition",
        "runtime",
        "mem_mb",
        "cpus_per_task",
        "gpu",
    ]


def test_log_jobs_reads_rule_threads_gpu_and_slurm_ids():
    jobs, submitted, groups = check_smoke.log_jobs(LOG)
    assert jobs["1"] == {"rule": "prepare", "local": False, "threads": 2, "gpu": 0, "group": None}
    assert jobs["17"]["gpu"] == 1 and jobs["0"]["local"]
    assert submitted == {"1": "2", "17": "7"} and groups == []


# A group job as Snakemake 9 logs it: the members' blocks indented under the header.
GROUP_LOG = """\
[Sat Dec  5 08:51:07 2026] Group job run (jobs in lexicogr. order):
    [Sat Dec  5 08:51:07 2026]
    rule score:
        input: results/runs/synthfaces/pose_ae/seed0/pose_transfer/outputs.npz
        jobid: 30
        resources: tmpdir=<TBD>, mem_mb=8000, slurm_partition=cpu, runtime=120

    [Sat Dec  5 08:51:07 2026]
    rule synthesize:
        jobid: 22
        resources: tmpdir=<TBD>, mem_mb=8000, slurm_partition=cpu, runtime=120

[Sat Dec  5 08:51:08 2026]
rule tables:
    jobid: 40
    resources: tmpdir=<TBD>, mem_mb=4000, slurm_partition=cpu, runtime=60
Job 5f0c-aa has been submitted with SLURM jobid 31 (log: x/31.log).
Job 40 has been submitted with SLURM jobid 32 (log: x/32.log).
"""
GROUP_JOB = (
    "JobId=31 JobState=COMPLETED TimeLimit=04:00:00 Partition=cpu CPUs/Task=1 "
    "MinMemoryNode=8000M Comment=rule_run_score_synthesize_wildcards_synthfaces_pose_ae_0"
)


def test_log_jobs_reads_group_members():
    jobs, submitted, groups = check_smoke.log_jobs(GROUP_LOG)
    assert groups == [{"id": "run", "members": ["30", "22"]}]
    # the plugin names the SLURM job after the group and its sorted rules
    assert check_smoke.group_comment(groups[0], jobs) == "rule_run_score_synthesize"
    assert jobs["30"]["group"] == 0 and jobs["40"]["group"] is None
    assert submitted == {"5f0c-aa": "31", "40": "32"}


def test_group_job_needs_its_largest_members_requests():
    [job] = check_smoke.parse_scontrol(GROUP_JOB)
    jobs, _, groups = check_smoke.log_jobs(GROUP_LOG)
    members = [jobs[m] for m in groups[0]["members"]]
    assert check_smoke.group_problems(job, members, PROFILE) == []
    short = job | {"TimeLimit": "01:00:00", "Partition": "gpu", "Comment": "rule_run_score"}
    problems = check_smoke.group_problems(short, members, PROFILE)
    assert len(problems) == 3
    assert "lacks synthesize" in problems[0] and "partition gpu" in problems[1]
    assert "runtime 60, less than its largest member's 120" in problems[2]


def test_differing_files_names_changed_and_missing_tables(tmp_path):
    reference, candidate = tmp_path / "a", tmp_path / "b"
    for folder in (reference, candidate):
        folder.mkdir()
        (folder / "same.csv").write_text("x,1\n")
    (reference / "changed.csv").write_text("x,1\n")
    (candidate / "changed.csv").write_text("x,2\n")
    (reference / "missing.md").write_text("|x|\n")
    assert check_smoke.differing_files(reference, candidate) == ["changed.csv", "missing.md"]
    assert check_smoke.differing_files(candidate / "none", reference)[0].endswith(
        "no files to compare"
    )


def test_profile_names_only_rules_of_the_workflow_and_documented_resources():
    rules = set()
    for path in (REPO_ROOT / "workflow" / "rules").glob("*.smk"):
        rules |= set(re.findall(r"^rule (\w+):", path.read_text(), re.M))
    documented = {"slurm_partition", "slurm_account", "runtime", "mem_mb", "cpus_per_task", "gpu"}
    assert set(PROFILE["set-resources"]) <= rules
    for resources in [PROFILE["default-resources"], *PROFILE["set-resources"].values()]:
        assert set(resources) <= documented


def test_group_jobs_are_paired_by_name_not_log_order(monkeypatch):
    # Two group jobs whose submissions come in the other order than the log lists them.
    log = GROUP_LOG.replace(
        "[Sat Dec  5 08:51:08 2026]\nrule tables:",
        "[Sat Dec  5 08:51:07 2026] Group job run (jobs in lexicogr. order):\n"
        "    [Sat Dec  5 08:51:07 2026]\n    rule represent:\n        jobid: 33\n"
        "        resources: tmpdir=<TBD>, mem_mb=8000, slurm_partition=cpu, runtime=120\n\n"
        "[Sat Dec  5 08:51:08 2026]\nrule tables:",
    ).replace(
        "Job 5f0c-aa has been submitted",
        "Job 77d1-bb has been submitted with SLURM jobid 30 (log: x/30.log).\n"
        "Job 5f0c-aa has been submitted",
    )
    shown = {
        "30": "JobId=30 TimeLimit=02:00:00 Partition=cpu CPUs/Task=1 MinMemoryNode=8000M "
        "Comment=rule_run_represent",
        "31": GROUP_JOB,
        "32": "JobId=32 TimeLimit=01:00:00 Partition=cpu CPUs/Task=1 MinMemoryNode=4000M "
        "Comment=rule_tables",
    }
    monkeypatch.setattr(
        check_smoke, "scontrol_job", lambda i: check_smoke.parse_scontrol(shown[i])[0]
    )
    problems, readback = check_smoke.request_problems(log, PROFILE)
    assert problems == [] and len(readback) == 3
    shown["30"] = shown["30"].replace("rule_run_represent", "rule_run_sweep")
    problems, _ = check_smoke.request_problems(log, PROFILE)
    assert problems == ["SLURM group job 30: no group 'rule_run_sweep' in the log"]


def load_slurm_groups():
    """benchmarks/slurm_groups.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "slurm_groups", REPO_ROOT / "benchmarks" / "slurm_groups.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slurm_groups_benchmark_drops_only_the_groups(tmp_path):
    """benchmarks/slurm_groups.py compares the profile with a copy that has no groups:
    that copy must keep every other setting (partitions, resources, status polling)."""
    slurm_groups = load_slurm_groups()
    out = slurm_groups.profile_without_groups(REPO_ROOT / "profiles" / "slurm", tmp_path / "p")
    plain = yaml.safe_load((out / "config.yaml").read_text())
    assert "groups" in PROFILE and "groups" not in plain
    assert plain == {key: value for key, value in PROFILE.items() if key != "groups"}


def test_slurm_groups_after_training_copies_only_the_trainings_and_shared_folders(tmp_path):
    """--after-training seeds each run folder with a default run's data, evaluators and the
    chosen methods' `train` outputs (times kept, so `--rerun-triggers mtime` skips the
    trainings) and nothing the stages after training write; an untrained method is an error."""
    slurm_groups = load_slurm_groups()
    results = tmp_path / "results"
    for path in (
        "data/synthfaces/meta.json",
        "evaluators/synthfaces/synth-oracle-pose.pt",
        "reference/synthfaces/pose_transfer.npz",
        "runs/synthfaces/pose_ae/seed0/model.pt",
        "runs/synthfaces/pose_ae/seed0/train.json",
        "runs/synthfaces/pose_ae/seed0/samples/step_000010.png",
        "runs/synthfaces/pose_ae/seed0/pose_transfer/metrics.json",
        "runs/synthfaces/pose_ae/seed0/checkpoints/last.pt",
        "runs/synthfaces/pose_ae/seed0-untrained/model.pt",
        "runs/synthfaces/ipgan/seed0/model.pt",
        "tables/synthfaces_pose_transfer.csv",
    ):
        (results / path).parent.mkdir(parents=True, exist_ok=True)
        (results / path).write_text(path)
    os.utime(results / "runs/synthfaces/pose_ae/seed0/model.pt", (1e9, 1e9))
    out = tmp_path / "run0"
    assert slurm_groups.seed_trained(results, ["pose_ae"], out) == 2
    copied = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert copied == [
        "results/data/synthfaces/meta.json",
        "results/evaluators/synthfaces/synth-oracle-pose.pt",
        "results/reference/synthfaces/pose_transfer.npz",
        "results/runs/synthfaces/pose_ae/seed0-untrained/model.pt",
        "results/runs/synthfaces/pose_ae/seed0/model.pt",
        "results/runs/synthfaces/pose_ae/seed0/samples/step_000010.png",
        "results/runs/synthfaces/pose_ae/seed0/train.json",
    ]
    assert (out / "results/runs/synthfaces/pose_ae/seed0/model.pt").stat().st_mtime == 1e9
    with pytest.raises(SystemExit, match="no trained runs of 'fshm'"):
        slurm_groups.seed_trained(results, ["fshm"], tmp_path / "run1")
