"""benchmarks/job_cpu_breakdown.py: a job's CPU charged to imports, model loading, data
loading or the work, by the outermost matching frame of the sampled stack."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import SimpleNamespace

from bench import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "job_cpu_breakdown.py"
spec = importlib.util.spec_from_file_location("job_cpu_breakdown", SCRIPT)
job_cpu_breakdown = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job_cpu_breakdown)


def frame(path, name):
    return SimpleNamespace(f_code=SimpleNamespace(co_filename=path, co_name=name))


def test_outermost_matching_frame_names_the_category():
    work = frame("/repo/bench/cli.py", "main")
    imports = frame("<frozen importlib._bootstrap>", "_find_and_load")
    torch_load = frame("/venv/torch/serialization.py", "load")
    np_load = frame("/venv/numpy/lib/_npyio_impl.py", "load")
    data = frame("/repo/bench/data/index.py", "load_images_cached")
    assert job_cpu_breakdown.category([work, frame("/repo/bench/train.py", "train")]) == "work"
    # generating a dataset is the prepare job's work, not loading
    generate = frame("/repo/bench/data/synthfaces/__init__.py", "generate")
    assert job_cpu_breakdown.category([work, generate]) == "work"
    assert job_cpu_breakdown.category([work, torch_load]) == "model loading"
    assert job_cpu_breakdown.category([work, np_load]) == "data loading"
    assert job_cpu_breakdown.category([work, data, torch_load]) == "data loading"
    # an import inside a data loader is charged to data loading, its caller
    assert job_cpu_breakdown.category([work, data, imports]) == "data loading"
    assert job_cpu_breakdown.category([work, imports, data]) == "imports"


def test_a_fresh_bench_start_is_mostly_imports():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--one", "methods"],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    seconds = dict(zip(job_cpu_breakdown.CATEGORIES, map(float, out.split()), strict=True))
    assert sum(seconds.values()) > 0.2
    assert seconds["imports"] > 0.5 * sum(seconds.values())
