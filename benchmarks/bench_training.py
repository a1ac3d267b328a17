"""Measure training throughput (images/s) of each trainable method on a prepared dataset.

Runs ``bench.train.train`` for ``--steps`` steps per method after ``--warmup`` steps
and reports images/s (batch size x frames per item / second) on the chosen device.
Use it on CPU or, with ``--device cuda``, on a GPU machine:

    python benchmarks/bench_training.py --data results/data/synthfaces --steps 50
    python benchmarks/bench_training.py --data results/data/synthfaces --scale paper --device cuda --amp
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from bench.data.dataset import FaceData
from bench.methods.registry import get_method, method_registry
from bench.train import TrainSettings, train


def measure(name: str, data: FaceData, args: argparse.Namespace) -> dict:
    """Images/s of ``name`` over ``args.steps`` steps, after ``args.warmup`` unmeasured steps."""
    spec = get_method(name)
    config = spec.resolved_config(args.scale)
    perceptual = config.get("perceptual")
    if (
        perceptual
        and perceptual.get("backbone") == "synth-oracle"
        and not perceptual.get("weights_path")
    ):
        # What the DAG passes: the perceptual oracle it trained for this dataset.
        perceptual["weights_path"] = str(
            args.perceptual_weights
            or args.data.parent.parent
            / "evaluators"
            / args.data.name
            / "synth-oracle-perceptual.pt"
        )
    settings = TrainSettings(
        device=args.device, amp=args.amp, channels_last=args.channels_last, checkpoint_every=10**9
    )
    with tempfile.TemporaryDirectory() as folder:
        train(spec, {**config, "steps": args.warmup}, data, Path(folder) / "warm", 0, settings)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        began = time.perf_counter()
        train(spec, {**config, "steps": args.steps}, data, Path(folder) / "run", 0, settings)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
    images = args.steps * config["batch_size"] * spec.cls.sampling_for(config).frames
    return {
        "method": name,
        "scale": args.scale,
        "batch_size": config["batch_size"],
        "frames": spec.cls.sampling_for(config).frames,
        "steps": args.steps,
        "seconds": round(seconds, 2),
        "images_per_s": round(images / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("results/data/synthfaces"))
    parser.add_argument("--methods", nargs="*", help="default: every trainable method")
    parser.add_argument("--scale", default="tiny", choices=["tiny", "paper"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument(
        "--perceptual-weights",
        type=Path,
        help="synth-oracle perceptual backbone (default: the DAG's "
        "results/evaluators/<dataset>/synth-oracle-perceptual.pt beside --data)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = FaceData.load(args.data, "train")
    registry = method_registry()
    names = args.methods or [n for n in registry if registry.get(n).cls.trainable]
    rows = [measure(name, data, args) for name in names]
    device = (
        torch.cuda.get_device_name()
        if torch.cuda.is_available() and args.device != "cpu"
        else f"cpu x{args.threads} threads"
    )
    print(f"training throughput on {device}, {data.name} {data.resolution}px, scale={args.scale}")
    print(f"{'method':<16} {'batch':>5} {'frames':>6} {'steps':>5} {'seconds':>8} {'images/s':>9}")
    for row in rows:
        print(
            f"{row['method']:<16} {row['batch_size']:>5} {row['frames']:>6} {row['steps']:>5} "
            f"{row['seconds']:>8.2f} {row['images_per_s']:>9.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
