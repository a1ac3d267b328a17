"""Validate the head-pose evaluators on exact or labelled poses, binned by |yaw|.

Every head-pose evaluator of the harness is run on the same images: ``dlib68-pnp`` (dlib's
detector and 68 points, PnP), ``mtcnn5-pnp`` (MTCNN's 5 points, the same PnP; a profile
by its 5 points is flagged), ``mediapipe-facemesh-pnp`` (Face Mesh, the same PnP; n/a
without mediapipe) and ``prepare-dlib68-pnp`` (what real-data preparation stores: MTCNN
5-point alignment, dlib's 68 points in the crop, PnP, and the profile flag, whose faces
count as flagged instead of labelled; its roll is the photo's, ``photo_roll``). Per |yaw|
bin: detection rate, flagged count, MAE and bias per angle (yaw, pitch, roll) on the
faces each evaluator labels.

``--dataset synthfaces`` (default) renders ``--n`` SynthFaces images (a new identity each;
random expression, light and background; yaw uniform in +-``--max-yaw``, pitch +-25, roll
+-15; fixed seed) with exact pose and landmarks, and adds dlib's landmark NME and the PnP
floor on exact landmarks. ``--dataset aflw2000 --root DIR`` reads AFLW2000-3D
(``imageNNNNN.jpg`` + ``.mat``), the standard head-pose benchmark (Hopenet, FSA-Net and
6DRepNet report MAE on it), and checks the label convention: PnP on each file's own
``pt3d_68`` against its ``Pose_Para``. ``--write-aflw2000-like DIR`` writes SynthFaces
renders in AFLW2000-3D's layout (the test fixture; no real download is possible offline).

    python benchmarks/validate_head_pose.py --n 300 --resolution 128
    python benchmarks/validate_head_pose.py --write-aflw2000-like /tmp/aflw --n 120 --max-yaw 90
    python benchmarks/validate_head_pose.py --dataset aflw2000 --root /tmp/aflw
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.errors import EvaluatorUnavailable

log = logging.getLogger("validate_head_pose")
SYNTH_BINS = ((0, 15), (15, 30), (30, 45), (45, 60), (60, 90))
AFLW_BINS = ((0, 30), (30, 60), (60, 90))
EVALUATORS = ("dlib68-pnp", "mtcnn5-pnp", "mediapipe-facemesh-pnp", "prepare-dlib68-pnp")
IDENTITY_SEED_BASE = 1_000_000  # identities not used to calibrate PITCH_OFFSET

#: One image -> (yaw, pitch, roll) [3] (NaN where missed) and whether the fit was flagged.
Estimator = Callable[[np.ndarray], tuple[np.ndarray, bool]]


def render_set(
    n: int, resolution: int, seed: int, max_yaw: float = 60.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images [N,H,W,3], exact landmarks [N,68,2] and true (yaw, pitch, roll) [N,3]."""
    from bench.data.synthfaces import Identity, Renderer, Scene

    renderer = Renderer(resolution, supersample=2)
    rng = np.random.default_rng(seed)
    images, landmarks, angles = [], [], []
    for i in range(n):
        scene = Scene.sample(rng, (-max_yaw, max_yaw), (-25.0, 25.0), (-15.0, 15.0))
        render = renderer.render(Identity.from_seed(IDENTITY_SEED_BASE + seed * n + i), scene)
        images.append(render.image)
        landmarks.append(render.landmarks)
        angles.append((scene.yaw, scene.pitch, scene.roll))
    return np.stack(images), np.stack(landmarks), np.array(angles)


def read_aflw2000(root: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[str]]:
    """Images, labels [N,3] (harness convention), pt3d_68 [N,68,2] and the files' names."""
    from PIL import Image

    from bench.data.real.aflw2000 import list_aflw2000, read_label
    from bench.data.real.worker import to_rgb8

    listing = list_aflw2000(root, {})
    for origin, reason in listing.rejects + listing.skipped:
        log.warning("not used: %s (%s)", origin, reason)
    images, labels, points = [], [], []
    for source in listing.sources:
        with Image.open(source.file) as image:
            images.append(to_rgb8(image))
        label, pt3d = read_label(source.file.with_suffix(".mat"))
        labels.append(label)
        points.append(pt3d)
    return images, np.array(labels), np.array(points), [s.file.name for s in listing.sources]


def make_estimator(name: str, resolution: int = 128) -> Estimator:
    """The named evaluator as a one-image estimator; EvaluatorUnavailable when it cannot run."""
    if name == "dlib68-pnp":
        from bench.evaluators.head_pose import DlibHeadPose

        model = DlibHeadPose()
        return lambda image: (model.estimate(image[None])[0][0], False)
    if name == "mtcnn5-pnp":
        return _mtcnn_estimator()
    if name == "mediapipe-facemesh-pnp":
        from bench.evaluators.mediapipe_face import MediaPipeHeadPose

        mesh = MediaPipeHeadPose()
        return lambda image: (mesh.estimate(image[None])[0][0], False)
    if name == "prepare-dlib68-pnp":
        from bench.data.real.align import AlignmentFailed, FaceAligner

        aligner = FaceAligner(resolution)

        def prepare(image: np.ndarray) -> tuple[np.ndarray, bool]:
            try:
                face = aligner.align(image)
            except AlignmentFailed:
                return np.full(3, np.nan), False
            return np.array([*face.pose[:2], face.photo_roll]), bool(face.pose_flag)

        return prepare
    raise ValueError(f"unknown evaluator {name!r}; known: {', '.join(EVALUATORS)}")


def _mtcnn_estimator() -> Estimator:
    """``mtcnn5-pnp``: the fitted angles of every detected face and whether its 5 points are a profile."""
    from bench.evaluators.mtcnn_face import MtcnnFace, estimate_head_pose_5

    face = MtcnnFace()

    def estimate(image: np.ndarray) -> tuple[np.ndarray, bool]:
        points, _ = face.landmarks(image[None])
        angles, flags = estimate_head_pose_5(points, image.shape[:2])
        return angles[0], bool(flags[0])

    return estimate


def run_estimator(estimate: Estimator, images: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Angles [N,3], found [N], flagged [N] and milliseconds per image."""
    start = time.perf_counter()
    results = [estimate(np.ascontiguousarray(image)) for image in images]
    seconds = time.perf_counter() - start
    angles = np.array([angles for angles, _ in results], np.float64)
    flagged = np.array([flag for _, flag in results], bool)
    found = np.isfinite(angles).all(1)
    return angles, found, flagged, 1000 * seconds / max(len(images), 1)


def summarise(
    angles: np.ndarray, truth: np.ndarray, found: np.ndarray, flagged: np.ndarray, mask: np.ndarray
) -> dict:
    """Detection, flags, and MAE / bias per angle on the labelled (found, unflagged) faces."""
    labelled = mask & found & ~flagged
    error = angles[labelled] - truth[labelled]
    caught = angles[mask & found & flagged] - truth[mask & found & flagged]
    return {
        "n": int(mask.sum()),
        "detected": int((mask & found).sum()),
        "detection_rate": float((mask & found).sum() / max(mask.sum(), 1)),
        "flagged": int((mask & found & flagged).sum()),
        "labelled": int(labelled.sum()),
        "mae_yaw_pitch_roll": np.abs(error).mean(0).round(2).tolist() if len(error) else None,
        "bias_yaw_pitch_roll": error.mean(0).round(2).tolist() if len(error) else None,
        "flagged_mae_yaw_pitch_roll": np.abs(caught).mean(0).round(2).tolist()
        if len(caught)
        else None,
    }


def evaluate_all(
    images: list[np.ndarray], truth: np.ndarray, names: list[str], bins: tuple, resolution: int
) -> dict:
    """Per evaluator: per-bin summaries (or the n/a reason) and timing."""
    abs_yaw = np.abs(truth[:, 0])
    masks = {f"{lo}-{hi}": (abs_yaw >= lo) & (abs_yaw < hi) for lo, hi in bins}
    masks[f"{bins[-1][0]}-{bins[-1][1]}"] |= abs_yaw == bins[-1][1]
    masks["all"] = np.ones(len(truth), bool)
    results = {}
    for name in names:
        try:
            estimate = make_estimator(name, resolution)
        except EvaluatorUnavailable as error:
            results[name] = {"n/a": str(error)}
            continue
        angles, found, flagged, ms = run_estimator(estimate, images)
        results[name] = {k: summarise(angles, truth, found, flagged, m) for k, m in masks.items()}
        results[name]["ms_per_image"] = round(ms, 1)
    return results


def print_table(results: dict) -> None:
    """One line per evaluator and |yaw| bin."""
    print(
        f"{'evaluator':>24} {'|yaw|':>6} {'n':>4} {'detected':>9} {'flagged':>8} "
        f"{'MAE yaw':>8} {'pitch':>6} {'roll':>6}"
    )
    for name, rows in results.items():
        if "n/a" in rows:
            print(f"{name:>24}  n/a: {rows['n/a']}")
            continue
        for key, row in rows.items():
            if not isinstance(row, dict):
                continue
            mae = row["mae_yaw_pitch_roll"] or [float("nan")] * 3
            print(
                f"{name:>24} {key:>6} {row['n']:>4} {row['detection_rate']:>9.1%} "
                f"{row['flagged']:>8} {mae[0]:>8.2f} {mae[1]:>6.2f} {mae[2]:>6.2f}"
            )


def label_check(points: np.ndarray, labels: np.ndarray, sizes: list[tuple[int, int]]) -> dict:
    """MAE per angle between the labels and PnP on each file's own 2D landmarks."""
    from bench.evaluators.head_pose import estimate_head_pose

    fitted = np.concatenate(
        [
            estimate_head_pose(p[None], size, pitch_offset=0.0)
            for p, size in zip(points, sizes, strict=True)
        ]
    )
    ok = np.isfinite(fitted).all(1)
    return {
        "n": int(ok.sum()),
        "mae_yaw_pitch_roll": np.abs(fitted[ok] - labels[ok]).mean(0).round(2).tolist(),
        "sign_agreement_yaw_pitch_roll": (np.sign(fitted[ok]) == np.sign(labels[ok]))
        .mean(0)
        .round(3)
        .tolist(),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["synthfaces", "aflw2000"], default="synthfaces")
    parser.add_argument("--root", type=Path, help="AFLW2000-3D folder (--dataset aflw2000)")
    parser.add_argument("--write-aflw2000-like", type=Path, metavar="DIR")
    parser.add_argument("--evaluators", nargs="+", default=list(EVALUATORS))
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--max-yaw", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Write an AFLW-like folder, or evaluate and print the table (and optionally the JSON)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("bench.evaluators").setLevel(logging.ERROR)  # per-image misses: counted
    if args.write_aflw2000_like:
        from bench.data.real.layouts import write_aflw2000

        images, exact, truth = render_set(args.n, args.resolution, args.seed, args.max_yaw)
        write_aflw2000(args.write_aflw2000_like, list(images), truth, exact)
        print(f"wrote {args.n} AFLW2000-3D-style renders to {args.write_aflw2000_like}")
        return {}
    if args.dataset == "aflw2000":
        if args.root is None:
            raise SystemExit("--dataset aflw2000 needs --root DIR (imageNNNNN.jpg + .mat)")
        images, truth, points, _ = read_aflw2000(args.root)
        sizes = [image.shape[:2] for image in images]
        results = evaluate_all(images, truth, args.evaluators, AFLW_BINS, args.resolution)
        results["labels vs PnP on pt3d_68"] = label_check(points, truth, sizes)
    else:
        images, exact, truth = render_set(args.n, args.resolution, args.seed, args.max_yaw)
        results = evaluate_all(list(images), truth, args.evaluators, SYNTH_BINS, args.resolution)
        results["exact-landmarks PnP"] = label_check(exact, truth, [images.shape[1:3]] * len(truth))
    print(f"{args.dataset}: {len(truth)} images ({args.root or f'seed {args.seed}'})")
    print_table({k: v for k, v in results.items() if k in args.evaluators})
    for key in ("labels vs PnP on pt3d_68", "exact-landmarks PnP"):
        if key in results:
            print(f"{key}: {results[key]}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
