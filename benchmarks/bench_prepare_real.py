"""Measure real-data preparation time per image (MTCNN + 5-point crop + dlib 68 + solvePnP + PNG).

Writes the demo folder of real photos (``python -m bench.data.real demo-folder``: the
astronaut, Grace Hopper and scikit-image's LFW crops, JPEG views) and prepares it from
scratch with ``--workers`` processes, reporting wall seconds per image with and without
the per-process model loading. A second run on the finished folder measures resuming.

    python benchmarks/bench_prepare_real.py --resolutions 64 128 --workers 1 --faces 30
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path


def measure(root: Path, resolution: int, workers: int, scratch: Path) -> dict:
    """Prepare ``root`` at ``resolution``; seconds per image, model loading separated."""
    from bench.config import validate_config
    from bench.data.index import read_meta
    from bench.data.real.align import FaceAligner
    from bench.data.real.prepare import prepare_real

    began = time.perf_counter()
    FaceAligner(resolution)
    load = time.perf_counter() - began
    section = {"root": str(root), "resolution": resolution, "test_identities": 8}
    section["pairs"] = {"sets": 2, "per_set": 10}
    settings = validate_config({"folder": section})["folder"]
    out = scratch / f"prepared-{resolution}-{workers}"
    began = time.perf_counter()
    prepare_real("folder", out, settings, workers)
    total = time.perf_counter() - began
    meta = read_meta(out)
    began = time.perf_counter()
    prepare_real("folder", out, settings, workers)
    resumed = time.perf_counter() - began
    listed = meta["listed"]
    return {
        "resolution": resolution,
        "workers": workers,
        "images": listed,
        "accepted": meta["images"],
        "rejected": meta["rejected"],
        "seconds": round(total, 2),
        "seconds_per_image": round(total / listed, 4),
        "model_load_seconds": round(load, 2),
        "seconds_per_image_after_load": round((total - load) / listed, 4),
        "rerun_when_done_seconds": round(resumed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64])
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--faces", type=int, default=30, help="LFW crops besides the two photos")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from bench.data.real.demo import write_demo_folder

    scratch = Path(tempfile.mkdtemp(prefix="bench_prepare_real_"))
    try:
        root = write_demo_folder(scratch / "faces", n_lfw=args.faces)
        for resolution in args.resolutions:
            for workers in args.workers:
                print(json.dumps(measure(root, resolution, workers, scratch)), flush=True)
    finally:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
