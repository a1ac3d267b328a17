"""Measure SynthFaces render throughput (images/s) with a new identity per image.

Each measurement runs N independent worker processes (not a multiprocessing.Pool, which scaled
erratically on the 2-core machine), each with OMP/OPENBLAS/MKL/NUMBA threads pinned to 1. Workers
warm up (numba JIT / cache load), wait for a common start time, render for --seconds and report;
the rate of a row is the sum of the per-process rates.

    python benchmarks/bench_synthfaces.py --resolutions 64 128 --processes 1 2 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
}


def worker(
    resolution: int, supersample: int, backend: str, seconds: float, start_at: float, seed: int
) -> dict:
    """Render new identities with random scenes for `seconds` after `start_at`; return counts."""
    import numpy as np

    from bench.data.synthfaces import Identity, Renderer, Scene

    renderer = Renderer(resolution, supersample=supersample, backend=backend)
    rng = np.random.default_rng(seed)
    warm_start = time.perf_counter()
    renderer.render(Identity.from_seed(seed), Scene.sample(rng))
    warmup = time.perf_counter() - warm_start
    time.sleep(max(0.0, start_at - time.time()))
    count = 0
    identity_seed = seed * 1_000_000
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        renderer.render(Identity.from_seed(identity_seed + count), Scene.sample(rng))
        count += 1
    elapsed = time.perf_counter() - start
    return {
        "count": count,
        "elapsed": elapsed,
        "rate": count / elapsed,
        "warmup_s": warmup,
        "backend": renderer.backend,
    }


def measure(resolution: int, processes: int, args: argparse.Namespace) -> dict:
    """Run `processes` independent workers at once and sum their rates."""
    env = {
        **os.environ,
        **THREAD_ENV,
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    start_at = time.time() + args.startup
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                json.dumps(
                    [resolution, args.supersample, args.backend, args.seconds, start_at, 1 + index]
                ),
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for index in range(processes)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark worker failed with exit code {proc.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "resolution": resolution,
        "processes": processes,
        "images_per_s": sum(r["rate"] for r in results),
        "per_process": [round(r["rate"], 1) for r in results],
        "warmup_s": max(r["warmup_s"] for r in results),
        "backend": results[0]["backend"],
    }


def main() -> None:
    """Parse options, run the grid of measurements and print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement time per row")
    parser.add_argument("--supersample", type=int, default=1)
    parser.add_argument("--backend", default="auto", choices=["auto", "numba", "numpy"])
    parser.add_argument(
        "--startup", type=float, default=4.0, help="seconds allowed for worker start and warm-up"
    )
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return
    rows = [measure(res, procs, args) for res in args.resolutions for procs in args.processes]
    print(
        f"SynthFaces throughput, new identity per image, supersample={args.supersample}, {args.seconds:g} s per row"
    )
    print(
        f"{'resolution':>10} {'backend':>7} {'procs':>5} {'images/s':>9}  per process   warm-up s"
    )
    for row in rows:
        print(
            f"{row['resolution']:>10} {row['backend']:>7} {row['processes']:>5} {row['images_per_s']:>9.0f}"
            f"  {row['per_process']!s:<13} {row['warmup_s']:.2f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
