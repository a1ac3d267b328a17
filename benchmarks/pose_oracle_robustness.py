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

import torch

from bench.data.dataset import FaceData
from bench.evaluators.synth_oracle import (
    ROBUSTNESS_CHECKS,
    add_noise,
    gaussian_blur,
    load_pose_oracle,
    pose_robustness,
)

CHECKS = {
    "clean": lambda x, g: x,
    **ROBUSTNESS_CHECKS,
    "blur_sigma3": lambda x, g: gaussian_blur(x, 3.0),
    "noise_0.1": lambda x, g: add_noise(x, 0.1, torch.randn(x.shape, generator=g)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a prepared SynthFaces folder")
    parser.add_argument("checkpoints", type=Path, nargs="+", help="synth-oracle-pose .pt files")
    args = parser.parse_args()
    test = FaceData.load(args.data, "test")
    print(f"{len(test)} test renders of {args.data}")
    print("| checkpoint | " + " | ".join(CHECKS) + " |")
    print("|---|" + "---|" * len(CHECKS))
    for path in args.checkpoints:
        errors = pose_robustness(load_pose_oracle(path), test, CHECKS)
        print(f"| {path} | " + " | ".join(f"{errors[name]:.2f}" for name in CHECKS) + " |")


if __name__ == "__main__":
    main()
