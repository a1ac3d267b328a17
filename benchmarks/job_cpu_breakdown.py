"""Where a DAG job's CPU goes: imports, data loading, model loading, the work itself.

    python benchmarks/job_cpu_breakdown.py --directory /tmp/me/smoke \
        --workflow-profile profiles/smoke

Reruns one job of each rule of a finished run (its exact shell command, from a dry run
with ``--forceall --printshellcmds --cores 1``, so a job's own workers stay in-process) inside this process while a sampler thread reads the
main thread's CPU clock every 5 ms and charges each slice to the outermost matching frame
of the main thread's stack: importlib (imports), ``torch.load`` / ``np.load`` /
``bench/data/index.py``'s readers (loading; a ``torch.load`` is model loading), else
the work. Interpreter
start-up before this script runs is not counted (``python -c pass`` costs about 20 ms).
The rerun writes the job's outputs again in ``--directory`` (same inputs, same bytes):
use a scratch run, never ``results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import runpy
import shlex
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATEGORIES = ("imports", "model loading", "data loading", "work")
# The dataset readers (index, meta, images, landmarks); generating data (prepare) is work.
DATA_READERS = (os.path.join("bench", "data", "index.py"),)


def category(frames: list) -> str:
    """The category of a stack (outermost frame first): the first frame that matches."""
    for frame in frames:
        path, name = frame.f_code.co_filename, frame.f_code.co_name
        if "importlib._bootstrap" in path:
            return "imports"
        if name == "load" and ("torch/serialization" in path or "numpy/lib" in path):
            return "model loading" if "torch" in path else "data loading"
        if path.endswith(DATA_READERS) and name.startswith(("read_", "load_", "cached_")):
            return "data loading"
    return "work"


def stack(frame) -> list:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames[::-1]


def sample_cpu(argv: list[str], interval: float = 0.005) -> dict[str, float]:
    """CPU seconds of ``python -m bench <argv>`` in this process, per category."""
    main = threading.main_thread().ident
    clock = time.pthread_getcpuclockid(main)
    seconds: dict[str, float] = defaultdict(float)
    done = threading.Event()

    def sampler() -> None:
        last = time.clock_gettime(clock)
        while not done.wait(interval):
            frame = sys._current_frames().get(main)
            now = time.clock_gettime(clock)
            seconds[category(stack(frame))] += now - last
            last = now

    thread = threading.Thread(target=sampler, daemon=True)
    sys.argv = ["bench", *argv]
    thread.start()
    try:
        with contextlib.suppress(SystemExit):
            runpy.run_module("bench", run_name="__main__", alter_sys=True)
    finally:
        done.set()
        thread.join()
    return dict(seconds)


def shell_commands(directory: Path, workflow_profile: str) -> dict[str, list[str]]:
    """The first job's ``python -m bench`` arguments of each rule of a finished run."""
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow/Snakefile"),
         "--workflow-profile", workflow_profile, "--directory", str(directory),
         "--forceall", "--dry-run", "--printshellcmds", "--cores", "1"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    commands: dict[str, list[str]] = {}
    rule = None
    for line in dry.stdout.splitlines():
        if match := re.match(r" *(?:local)?rule (\w+):$", line):
            rule = match.group(1)
        elif rule and (match := re.match(r"Shell command: \S*python\S* -m bench (.*)$", line)):
            commands.setdefault(rule, shlex.split(match.group(1)))
    if not commands:
        raise SystemExit(f"{directory}: the dry run printed no `python -m bench` commands")
    return commands


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--directory", type=Path, required=True, help="a finished scratch run")
    parser.add_argument("--workflow-profile", default="profiles/smoke")
    parser.add_argument("--rules", nargs="+", help="only these rules")
    args = parser.parse_args(argv)
    commands = shell_commands(args.directory.resolve(), args.workflow_profile)
    os.chdir(args.directory)
    header = "| rule | CPU s | " + " | ".join(CATEGORIES) + " |"
    print(header + "\n" + "|---" * (len(CATEGORIES) + 2) + "|")
    for rule, command in commands.items():
        if args.rules and rule not in args.rules:
            continue
        # Each rule in a fresh interpreter: imports are only paid once per process.
        out = subprocess.run(
            [sys.executable, __file__, "--one", *command],
            capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]  # fmt: skip
        seconds = dict(zip(CATEGORIES, map(float, out.split()), strict=True))
        total = sum(seconds.values())
        shares = " | ".join(f"{100 * seconds[c] / total:.0f}%" for c in CATEGORIES)
        print(f"| {rule} | {total:.2f} | {shares} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        result = sample_cpu(sys.argv[2:])
        print(" ".join(f"{result.get(c, 0.0):.4f}" for c in CATEGORIES))
    else:
        main()
