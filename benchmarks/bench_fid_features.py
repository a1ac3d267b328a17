"""FID feature extraction: this harness vs ``python -m pytorch_fid`` on the same images and weights.

Both compute Inception pool3 statistics of the same ``--images`` PNGs (SynthFaces test crops,
repeated if there are fewer) with the same weights file, in one run, alternating
``--repeats`` times so that machine load affects both alike. pytorch-fid runs as its own CLI
(``--save-stats``, one folder); the harness runs ``InceptionFeatures.features`` +
``feature_statistics`` from a fresh process as well, so both pay start-up and PNG decoding.

Without the real weights (not downloadable here) it writes calibrated random weights in
pytorch-fid's layout: the same network and cost; the numbers are not FID.

    python benchmarks/bench_fid_features.py --data results/data/synthfaces --images 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HARNESS = """
import sys, numpy as np
from pathlib import Path
from PIL import Image
import torch
torch.set_num_threads(int(sys.argv[3]))
from bench.evaluators.inception import InceptionFeatures
from bench.metrics.fid import feature_statistics
files = sorted(Path(sys.argv[1]).glob("*.png"))
images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
mu, sigma = feature_statistics(InceptionFeatures().features(images, batch_size=int(sys.argv[2])))
np.savez(sys.argv[4], mu=mu, sigma=sigma)
"""


def write_images(data: Path, folder: Path, n: int) -> None:
    from bench.data.dataset import FaceData

    test = FaceData.load(data, "test")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(test.images[i % len(test.images)]).save(folder / f"{i:05d}.png")


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="results/data/synthfaces")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    from bench.evaluators.inception import WEIGHTS_FILENAME, calibrated_random_state_dict

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "images"
        write_images(Path(args.data), folder, args.images)
        home = os.environ.get("TORCH_HOME")
        real = home and (Path(home) / "hub" / "checkpoints" / WEIGHTS_FILENAME).is_file()
        if not real:
            home = str(tmp / "torch_home")
            weights = Path(home) / "hub" / "checkpoints" / WEIGHTS_FILENAME
            weights.parent.mkdir(parents=True)
            torch.save(calibrated_random_state_dict(), weights)
        env = {**os.environ, "TORCH_HOME": home, "OMP_NUM_THREADS": str(args.threads)}
        commands = {
            "pytorch_fid": [
                sys.executable, "-m", "pytorch_fid", "--save-stats", "--batch-size",
                str(args.batch_size), "--device", "cpu", "--num-workers", "0",
                str(folder), str(tmp / "cli.npz"),
            ],
            "harness": [
                sys.executable, "-c", HARNESS, str(folder), str(args.batch_size),
                str(args.threads), str(tmp / "harness.npz"),
            ],
        }  # fmt: skip
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                seconds[name].append(timed(command, env))
        cli, ours = np.load(tmp / "cli.npz"), np.load(tmp / "harness.npz")
        result = {
            "images": args.images,
            "threads": args.threads,
            "weights": "real" if real else "calibrated random (same network and cost)",
            "images_per_s": {n: args.images / min(s) for n, s in seconds.items()},
            "seconds": seconds,
            "max_abs_diff_mu": float(np.abs(cli["mu"] - ours["mu"]).max()),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
