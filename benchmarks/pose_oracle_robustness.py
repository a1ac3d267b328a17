"""Pose error of SynthFaces pose oracles on damaged test renders.

    python benchmarks/pose_oracle_robustness.py --data results/data/synthfaces \\
        results/evaluators/synthfaces/synth-oracle-pose.pt [other-pose-oracle.pt ...]

Prints, per checkpoint, the mean absolute pose error (degrees; mean of yaw, pitch, roll)
on every test render, clean and under each of the oracle's fixed robustness checks plus
a stronger blur and noise. A regressor that is accurate on clean renders but not on
blurred ones scores the blur of a synthesis, not its pose; the README's figures for
`evaluators.synth_oracle.pose.degrade` come from this script.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.data.dataset import FaceData, to_float_images
from bench.evaluators.synth_oracle import (
    ROBUSTNESS_CHECKS,
    SynthOracle,
    _load_part,
    gaussian_blur,
)
from bench.metrics.pose import pose_error_degrees

CHECKS = {
    "clean": lambda x, g: x,
    **ROBUSTNESS_CHECKS,
    "blur_sigma3": lambda x, g: gaussian_blur(x, 3.0),
    "noise_0.1": lambda x, g: (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0.0, 1.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a prepared SynthFaces folder")
    parser.add_argument("checkpoints", type=Path, nargs="+", help="synth-oracle-pose .pt files")
    args = parser.parse_args()
    test = FaceData.load(args.data, "test")
    images, target = to_float_images(test.images), test.poses.astype(np.float64)
    print(f"{len(test)} test renders of {args.data}")
    print("| checkpoint | " + " | ".join(CHECKS) + " |")
    print("|---|" + "---|" * len(CHECKS))
    for path in args.checkpoints:
        net, quality = _load_part(path, "pose")
        oracle = SynthOracle(net, net, quality)
        cells = []
        for check in CHECKS.values():
            damaged = check(images, torch.Generator().manual_seed(0))
            cells.append(f"{pose_error_degrees(oracle.pose(damaged), target)['mean'].mean():.2f}")
        print(f"| {path} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
