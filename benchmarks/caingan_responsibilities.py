"""Do CainGAN's responsibilities r_i move away from uniform? (issue 19: Eq. (1) vs the mean).

Loads a trained caingan run (``model.pt``), embeds the K = 8 sources of the first N
pose-transfer test tuples targeted at their cross drivers' landmark drawings, and prints the
statistics of r_i and of the normalised weights r_i / sum_j r_j (uniform: 1 / K = 0.125),
plus how far Eq. (1)'s fused embedding lies from the plain mean (relative L2).

    python benchmarks/caingan_responsibilities.py results/runs/synthfaces/caingan/seed0-k8

(the K = 8 model of caingan's one model per K; a K = 1 model has one r_i per tuple, whose
normalised weight is 1 by definition)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bench.data.dataset import FaceData
from bench.methods.registry import get_method
from bench.protocols.pose_transfer import make_driver, read_tuples, resolve_tuples
from bench.train import load_trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, default=Path("results/data/synthfaces"))
    parser.add_argument("--tuples", type=int, default=100)
    parser.add_argument("--method", default="caingan", help="caingan or one of its variants")
    args = parser.parse_args()
    torch.set_num_threads(1)
    method = load_trained(args.run / "model.pt", get_method(args.method))
    test = FaceData.load(args.data, "test")
    tuples = read_tuples(args.data).iloc[: args.tuples]
    resolved = resolve_tuples(test, tuples)
    driver = make_driver(test, resolved.drivers["cross"], method.needs, None)
    with torch.inference_mode():
        sources = resolved.sources
        landmarks = method.draw_landmarks(sources)
        e, r = method.embedder(sources, landmarks, driver.landmark_image)
    k = r.shape[1]
    weights = r / r.sum(dim=1, keepdim=True)
    fused = (e * r).sum(dim=1) / r.sum(dim=1)
    mean = e.mean(dim=1)
    relative = ((fused - mean).flatten(1).norm(dim=1) / mean.flatten(1).norm(dim=1)).numpy()
    print(f"{args.run}: {len(tuples)} cross tuples, K = {k}")
    print(f"r_i: mean {r.mean():.3f}, std {r.std():.3f}, min {r.min():.3f}, max {r.max():.3f}")
    print(
        f"r_i / sum_j r_j: mean {weights.mean():.4f} (uniform {1 / k:.4f}), "
        f"std {weights.std():.4f}, min {weights.min():.4f}, max {weights.max():.4f}"
    )
    print(f"|Eq. (1) - mean| / |mean|: median {np.median(relative):.4f}, max {relative.max():.4f}")


if __name__ == "__main__":
    main()
