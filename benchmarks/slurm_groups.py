"""The smoke DAG's wall time and SLURM submissions with and without the group ``run``.

Runs, one after the other from empty directories (so their times compare within one
session): the smoke DAG locally (``--cores 2``; groups are a cluster setting, so a local
run has none), then through ``profiles/slurm`` on the running cluster of
``tools/slurm-local`` as it is (group ``run``) and with its ``groups:`` removed. Prints
one markdown row per run: wall seconds, Snakemake jobs (its "N of M steps", `all`
included), SLURM submissions, group jobs.

    tools/slurm-local/start.sh
    python benchmarks/slurm_groups.py --work /tmp/slurm-groups
    tools/slurm-local/stop.sh
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "slurm-local"))
sys.path.insert(0, str(REPO / "benchmarks"))

from check_smoke import SLURM_LOCAL, SMOKE, SNAKEMAKE, run  # noqa: E402
from dag_job_times import submissions  # noqa: E402


def profile_without_groups(profile: Path, out: Path) -> Path:
    """A copy of ``profile`` (a folder with config.yaml) with no ``groups:`` key."""
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    settings.pop("groups", None)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="an empty scratch folder")
    parser.add_argument("--profile", type=Path, default=REPO / "profiles" / "slurm")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    plain = profile_without_groups(args.profile, args.work / "profile-no-groups")
    variants = [
        ("local, --cores 2", [*SNAKEMAKE, *SMOKE, "--cores", "2"]),
        ("SLURM, group run", [*SNAKEMAKE, "--profile", str(args.profile), *SMOKE, *SLURM_LOCAL]),
        ("SLURM, no groups", [*SNAKEMAKE, "--profile", str(plain), *SMOKE, *SLURM_LOCAL]),
    ]
    print("| smoke DAG | wall s | Snakemake jobs | SLURM submissions | group jobs |")
    print("|---|---|---|---|---|")
    for index, (name, command) in enumerate(variants):
        directory, log = args.work / f"run{index}", args.work / f"run{index}.log"
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
