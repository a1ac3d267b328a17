"""Validate the dlib evaluators on SynthFaces renders with exact pose and landmarks.

Renders --n images (a new identity each; random expression, light and background; yaw uniform in
[-60, 60], pitch [-25, 25], roll [-15, 15]; fixed seed), runs ``DlibHeadPose`` and prints, per
|yaw| bucket, the detection rate, the head-pose MAE per angle on detected faces and the landmark
NME (points 17-67, mean point distance over the exact outer eye-corner distance, 36-45).

    python benchmarks/validate_head_pose.py --n 300 --resolution 128
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np

from bench.data.synthfaces import Identity, Renderer, Scene
from bench.evaluators.dlib_face import DlibFace
from bench.evaluators.head_pose import DlibHeadPose, estimate_head_pose

log = logging.getLogger("validate_head_pose")
YAW_BUCKETS = ((0, 15), (15, 30), (30, 45), (45, 60))
IDENTITY_SEED_BASE = 1_000_000  # identities not used to calibrate PITCH_OFFSET


def render_set(n: int, resolution: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images [N,H,W,3], exact landmarks [N,68,2] and true (yaw, pitch, roll) [N,3]."""
    renderer = Renderer(resolution, supersample=2)
    rng = np.random.default_rng(seed)
    images, landmarks, angles = [], [], []
    for i in range(n):
        scene = Scene.sample(rng, (-60.0, 60.0), (-25.0, 25.0), (-15.0, 15.0))
        render = renderer.render(Identity.from_seed(IDENTITY_SEED_BASE + seed * n + i), scene)
        images.append(render.image)
        landmarks.append(render.landmarks)
        angles.append((scene.yaw, scene.pitch, scene.roll))
    return np.stack(images), np.stack(landmarks), np.array(angles)


def landmark_nme(pred: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """Per-image NME [N] over points 17-67, normalised by the exact outer eye-corner distance."""
    iod = np.linalg.norm(exact[:, 36] - exact[:, 45], axis=1)
    return np.linalg.norm(pred[:, 17:] - exact[:, 17:], axis=2).mean(axis=1) / iod


def summarise(
    found: np.ndarray, angles: np.ndarray, truth: np.ndarray, nme: np.ndarray, mask: np.ndarray
) -> dict:
    """Detection rate, per-angle MAE and mean bias, and mean NME over the images in ``mask``."""
    used = mask & found
    error = angles[used] - truth[used]
    return {
        "n": int(mask.sum()),
        "detected": int(used.sum()),
        "detection_rate": float(used.sum() / max(mask.sum(), 1)),
        "mae_yaw_pitch_roll": np.abs(error).mean(axis=0).round(2).tolist() if used.any() else None,
        "bias_yaw_pitch_roll": error.mean(axis=0).round(2).tolist() if used.any() else None,
        "nme_17_67": round(float(nme[used].mean()), 4) if used.any() else None,
    }


def main() -> None:
    """Render, evaluate and print the table (and optionally write it as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    start = time.perf_counter()
    images, exact, truth = render_set(args.n, args.resolution, args.seed)
    render_s = time.perf_counter() - start
    face = DlibFace()
    start = time.perf_counter()
    points, found = face.landmarks(images)
    dlib_s = time.perf_counter() - start
    angles = estimate_head_pose(points, args.resolution)
    found &= np.isfinite(angles).all(axis=1)
    # The PnP model's own floor: exact landmarks, no dlib pitch offset.
    exact_angles = estimate_head_pose(exact, args.resolution, pitch_offset=0.0)
    nme = landmark_nme(points, exact)

    abs_yaw = np.abs(truth[:, 0])
    rows = {f"{lo}-{hi}": (abs_yaw >= lo) & (abs_yaw < hi) for lo, hi in YAW_BUCKETS}
    rows["all"] = np.ones(len(truth), dtype=bool)
    results = {name: summarise(found, angles, truth, nme, mask) for name, mask in rows.items()}
    everything = np.ones(len(truth), dtype=bool)
    results["exact-landmarks PnP"] = summarise(
        everything, exact_angles, truth, np.zeros(len(truth)), everything
    )
    results["meta"] = {
        "n": args.n, "resolution": args.resolution, "seed": args.seed, "evaluator": DlibHeadPose.name,
        "render_s": round(render_s, 1), "dlib_ms_per_image": round(1000 * dlib_s / args.n, 1),
    }  # fmt: skip

    print(
        f"{DlibHeadPose.name} on {args.n} SynthFaces renders at {args.resolution}px (seed {args.seed})"
    )
    print(
        f"{'|yaw|':>20} {'n':>4} {'detected':>9} {'MAE yaw':>8} {'pitch':>6} {'roll':>6} {'NME':>7}"
    )
    for name, row in results.items():
        if name == "meta":
            continue
        mae = row["mae_yaw_pitch_roll"] or [float("nan")] * 3
        nme_text = "-" if name.startswith("exact") else f"{row['nme_17_67']:.4f}"
        print(
            f"{name:>20} {row['n']:>4} {row['detection_rate']:>9.1%} "
            f"{mae[0]:>8.2f} {mae[1]:>6.2f} {mae[2]:>6.2f} {nme_text:>7}"
        )
    print(f"bias (estimate - truth) on detected faces: {results['all']['bias_yaw_pitch_roll']}")
    print(f"dlib landmarks: {results['meta']['dlib_ms_per_image']} ms/image")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
