"""``mtcnn-5`` landmarks and ``mtcnn5-pnp`` head pose: facenet-pytorch's MTCNN, offline.

A second landmark and head-pose evaluator beside dlib's (issue 21): MTCNN (Zhang et al. 2016)
is a cascade of three CNNs whose last stage regresses five points with each box: the centres of
both eyes, the nose tip and both mouth corners, in image order (left = image-left). Its weights
ship inside the facenet-pytorch package (``facenet_pytorch/data/{p,r,o}net.pt``), so nothing is
downloaded. The highest-probability face of each image is kept, as dlib keeps its best HOG box.

Small images: MTCNN's smallest face is ``min_face_size`` = 20 px and its pyramid starts at that
scale, so a 64 px crop would be searched at a single coarse level. As :mod:`bench.evaluators.dlib_face`
does, an image whose shorter side is under ``MIN_SIDE`` (128) is first enlarged by the integer
factor ``ceil(128 / side)`` with bicubic interpolation; points are mapped back to the input's pixels.
On 150 renders at 64 px (|yaw| up to 60, seed 5) that finds 97.3% of the faces (96.0% without),
points 0.116 of the outer eye-corner distance off (0.121), at 18.3 ms of CPU per image (14.7).

Coordinates: MTCNN's points are continuous with 0 at the image's left/top edge, which is the
harness convention (pixel (r, c) has its centre at (c + 0.5, r + 0.5)), so the enlarged image's
points are divided by the factor only.

Pose (``mtcnn5-pnp``): the five points go through
:func:`bench.evaluators.head_pose.solve_head_pose`, the PnP fit of ``dlib68-pnp``, against the
matching points of the SynthFaces mean head (:data:`MODEL_POINTS_5`: eye centres = the means of
the iBUG eye contours 36-41 and 42-47, nose tip 30, mouth corners 48 and 54). Five points fix a
pose only while both eyes and mouth corners are in view; toward profile MTCNN still returns five
points, squeezed onto the visible half, and the fit reads 75-90 degrees of yaw as 40-65. Such a
face is flagged (:func:`profile_flag`): its eye distance is under ``MIN_EYE_MOUTH_ASPECT`` = 0.55 x
the eye-mouth height (:func:`bench.data.real.align.eye_mouth_aspect`, which shrinks as cos(yaw)).
A flagged face has a NaN pose and counts as a miss. The nose-tip test of ``align.pose_flag``
is not used: with five points the nose tip passes the near eye from about 35 degrees of yaw on
(the mean head's geometry), where the fit is still good. On 300 design renders (128 px, |yaw| up
to 90, seed 5; ``benchmarks/validate_head_pose.py`` validates on other identities) the flag
keeps 99%, 89%, 28% of the faces at |yaw| 0-30, 30-60, 60-90 (yaw MAE 3.4, 6.8, 32.3 degrees)
where the unflagged fit has 99%, 97%, 89% (3.4, 6.5, 19.9): past 60 degrees MTCNN often places
a frontal-looking set of points on a profile, which no test on the points can catch.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from bench.errors import EvaluatorUnavailable
from bench.evaluators.dlib_face import _import, check_images, enlarge_small
from bench.evaluators.head_pose import FOCAL_SCALE, solve_head_pose

log = logging.getLogger(__name__)

LANDMARKS_NAME = "mtcnn-5"
NAME = "mtcnn5-pnp"
N_POINTS = 5
MIN_SIDE = 128  # images with a shorter side are enlarged to at least this before detection
#: MTCNN's points (left eye, right eye, nose tip, left and right mouth corner) in the order of
#: :data:`MODEL_POINTS_5` (nose tip first: the PnP start is placed at it).
PNP_ORDER = (2, 0, 1, 3, 4)
#: Nose tip, left and right eye centre, left and right mouth corner on the SynthFaces mean head,
#: OpenCV axes, nose tip at the origin, units of 1/100 of the outer eye-corner distance (as
#: ``head_pose.MODEL_POINTS``; ``tests/test_mtcnn_face.py`` checks them against the template).
MODEL_POINTS_5 = np.array(
    [
        [0.0, 0.0, 0.0],
        [-35.29, -27.33, 49.80],
        [35.29, -27.33, 49.80],
        [-35.52, 33.64, 44.21],
        [35.52, 33.64, 44.21],
    ]
)
PITCH_OFFSET = 1.4  # degrees added to the raw PnP pitch: minus its bias on the 300 design renders
MIN_EYE_MOUTH_ASPECT = 0.55  # eye distance / eye-mouth height below this is a profile


def _mtcnn_class() -> type:
    """facenet-pytorch's MTCNN, or EvaluatorUnavailable naming the install."""
    try:
        from facenet_pytorch import MTCNN
    except ImportError as error:
        raise EvaluatorUnavailable(
            f"the {LANDMARKS_NAME} evaluator needs facenet-pytorch ({error}); "
            "pip install facenet-pytorch==2.5.3 (the pin of pyproject.toml)"
        ) from error
    return MTCNN


class MtcnnFace:
    """MTCNN's best face per image: 5 points ``[N, 5, 2]`` (NaN rows where no face) and ``found``."""

    name = LANDMARKS_NAME

    def __init__(self, min_side: int = MIN_SIDE, device: str = "cpu") -> None:
        import torch

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self._torch = torch
        self._cv2 = _import("cv2")
        self.min_side = int(min_side)
        self.mtcnn = _mtcnn_class()(keep_all=True, device=device)

    def __repr__(self) -> str:
        return f"MtcnnFace(min_side={self.min_side})"

    def _points_one(self, image: np.ndarray) -> np.ndarray | None:
        """The most probable face's 5 points in the input's pixels, or None."""
        work, scale = enlarge_small(self._cv2, image, self.min_side)
        with self._torch.inference_mode():
            boxes, probabilities, points = self.mtcnn.detect(work, True)
        if boxes is None:
            return None
        best = int(np.argmax(np.asarray(probabilities, np.float64)))
        return np.asarray(points[best], np.float64) / scale

    def landmarks(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """5 points ``[N, 5, 2]`` (x, y pixels; NaN where no face) and the ``found`` mask ``[N]``."""
        images = check_images(images)
        points = np.full((len(images), N_POINTS, 2), np.nan)
        found = np.zeros(len(images), dtype=bool)
        for i, image in enumerate(images):
            five = self._points_one(image)
            if five is not None:
                points[i], found[i] = five, True
        if not found.all():
            missing, total = int((~found).sum()), len(found)
            log.info(
                "%s: no face found in %d of %d images (NaN rows, counted)",
                self.name,
                missing,
                total,
            )
        return points, found


def profile_flag(five_points: np.ndarray) -> str:
    """Why MTCNN's 5 points ``[5, 2]`` cannot support a pose (a profile), or ""."""
    from bench.data.real.align import eye_mouth_aspect

    aspect = eye_mouth_aspect(five_points)
    if aspect < MIN_EYE_MOUTH_ASPECT:
        return f"profile: eye distance {aspect:.2f} x the eye-mouth height (frontal about 1)"
    return ""


def estimate_head_pose_5(
    points: np.ndarray,
    image_size: int | tuple[int, int],
    focal_scale: float = FOCAL_SCALE,
    pitch_offset: float = PITCH_OFFSET,
) -> tuple[np.ndarray, list[str]]:
    """Yaw, pitch, roll ``[N, 3]`` from MTCNN's 5 points ``[N, 5, 2]`` (NaN rows stay NaN) and
    each row's profile flag ("" where the points support a pose; :func:`usable_pose` drops the rest)."""
    points = np.asarray(points, np.float64)
    if points.ndim != 3 or points.shape[1:] != (N_POINTS, 2):
        raise ValueError(f"expected MTCNN points [N, 5, 2], got shape {points.shape}")
    angles = solve_head_pose(
        points[:, list(PNP_ORDER)], MODEL_POINTS_5, image_size, focal_scale, pitch_offset
    )
    flags = [""] * len(points)
    for i, row in enumerate(points):
        if np.isfinite(angles[i]).all():
            flags[i] = profile_flag(row)
    return angles, flags


def usable_pose(angles: np.ndarray, flags: list[str]) -> np.ndarray:
    """``angles`` with the flagged (profile) rows set to NaN: they count as misses."""
    angles = np.array(angles, np.float64)
    angles[[bool(flag) for flag in flags]] = np.nan
    return angles


class MtcnnHeadPose:
    """Head-pose evaluator: MTCNN's 5 points, the shared PnP; misses and profiles are NaN rows."""

    name = NAME

    def __init__(
        self,
        face: MtcnnFace | None = None,
        focal_scale: float = FOCAL_SCALE,
        pitch_offset: float = PITCH_OFFSET,
    ) -> None:
        self.face = face if face is not None else MtcnnFace()
        self.focal_scale = focal_scale
        self.pitch_offset = pitch_offset

    def estimate(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Angles ``[N, 3]`` (NaN where no face or a profile), ``found`` ``[N]`` and the flags."""
        points, found = self.face.landmarks(images)
        angles, flags = estimate_head_pose_5(
            points, images.shape[1:3], self.focal_scale, self.pitch_offset
        )
        angles = usable_pose(angles, flags)
        return angles, found & np.isfinite(angles).all(1), flags
