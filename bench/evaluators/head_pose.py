"""Head pose (yaw, pitch, roll in degrees) from 68 iBUG landmarks: a 6-point PnP fit of a 3D model.

Six landmarks (30 nose tip, 8 chin, 36/45 outer eye corners, 48/54 mouth corners) are matched to
their 3D positions on the SynthFaces mean head (``MODEL_POINTS``, read from the template mesh's
landmark vertices; ``tests/test_dlib_evaluators.py`` checks they still agree) with
``cv2.solvePnP(SOLVEPNP_ITERATIVE)``, started from a frontal pose at the depth that matches the
landmarks' spread (without that start it falls into mirrored solutions 180 degrees off in roll).
The rotation is decomposed in the SynthFaces convention, R = R_z(roll) R_x(pitch) R_y(yaw): positive
yaw turns the face toward image-right, positive pitch tilts the chin up, positive roll tilts the
top of the head toward image-right.

Camera: pinhole, principal point at the image centre, focal length ``FOCAL_SCALE`` x the image
width. 8x is a plausible camera for a face crop cut from a wider video frame, and on SynthFaces
(rendered orthographically) it is within 0.1 degree MAE of 15x and 30x, while 4x underestimates
yaw by up to 12% and 1x (the usual "focal = width" guess) by up to 47%.

``PITCH_OFFSET`` is added to the raw pitch: dlib's 68-point predictor places the nose tip and chin
so that a frontal SynthFaces head reads about -5 degrees (measured on 200 renders at pitch 0,
yaw in [-45, 45], random identity, expression and light; see ``benchmarks/validate_head_pose.py``
for the resulting errors). dlib's landmarks also compress pitch (the raw estimate moves about 0.4
degree per degree of true pitch on SynthFaces), so pitch is the least reliable angle.
"""

from __future__ import annotations

import logging

import numpy as np

from bench.errors import BenchError
from bench.evaluators.dlib_face import DlibFace, _import

log = logging.getLogger(__name__)

NAME = "dlib68-pnp"
#: iBUG indices of the PnP points: nose tip, chin, outer eye corners (36, 45), mouth corners (48, 54).
POSE_LANDMARKS = (30, 8, 36, 45, 48, 54)
#: Their 3D positions on the SynthFaces mean head, in OpenCV axes (x right, y down, z away from the
#: camera), nose tip at the origin, units of 1/100 of the outer eye-corner distance.
MODEL_POINTS = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.0, 89.63, 32.37],
        [-50.0, -25.91, 55.70],
        [50.0, -25.91, 55.70],
        [-35.52, 33.64, 44.21],
        [35.52, 33.64, 44.21],
    ]
)
FOCAL_SCALE = 8.0
PITCH_OFFSET = 5.0  # degrees added to the raw PnP pitch (calibrated on SynthFaces, see above)
_OPENCV_TO_HEAD = np.diag([1.0, -1.0, -1.0])  # OpenCV camera axes <-> SynthFaces head frame


def rotation_to_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) degrees of R = R_z(roll) R_x(pitch) R_y(yaw) in SynthFaces' axes (y up, z to camera)."""
    yaw = np.degrees(np.arctan2(-rotation[2, 0], rotation[2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-rotation[2, 1], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(rotation[0, 1], rotation[1, 1]))
    return float(yaw), float(pitch), float(roll)


def _image_shape(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) from an int (square) or a (height, width) pair."""
    if isinstance(image_size, int | np.integer):
        return int(image_size), int(image_size)
    height, width = image_size
    return int(height), int(width)


def estimate_head_pose(
    landmarks: np.ndarray,
    image_size: int | tuple[int, int],
    focal_scale: float = FOCAL_SCALE,
    pitch_offset: float = PITCH_OFFSET,
) -> np.ndarray:
    """Yaw, pitch, roll ``[N, 3]`` in degrees from 68 landmarks ``[N, 68, 2]`` (x, y pixels); NaN rows stay NaN."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise BenchError(
            f"expected landmarks [N, 68, 2] (iBUG order, x/y pixels), got shape {landmarks.shape}"
        )
    return solve_head_pose(
        landmarks[:, list(POSE_LANDMARKS)], MODEL_POINTS, image_size, focal_scale, pitch_offset
    )


def solve_head_pose(
    points: np.ndarray,
    model_points: np.ndarray,
    image_size: int | tuple[int, int],
    focal_scale: float = FOCAL_SCALE,
    pitch_offset: float = PITCH_OFFSET,
) -> np.ndarray:
    """Yaw, pitch, roll ``[N, 3]`` (degrees) of ``model_points`` ``[P, 3]`` fitted to ``points`` ``[N, P, 2]``.

    The PnP fit every landmark head-pose estimator shares: OpenCV axes for the model, its
    first point the nose tip (where the frontal start is placed); a row with a NaN stays NaN.
    """
    cv2 = _import("cv2")
    points = np.asarray(points, dtype=np.float64)
    model_points = np.asarray(model_points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (len(model_points), 2):
        raise BenchError(
            f"expected points [N, {len(model_points)}, 2] (x/y pixels, the model's order), "
            f"got shape {points.shape}"
        )
    height, width = _image_shape(image_size)
    focal = focal_scale * width
    camera = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    model_spread = np.sqrt(((model_points - model_points.mean(0)) ** 2).sum(1).mean())
    angles = np.full((len(points), 3), np.nan)
    for i, row in enumerate(points):
        if not np.isfinite(row).all():
            continue
        spread = np.sqrt(((row - row.mean(0)) ** 2).sum(1).mean())
        if spread <= 0:
            continue
        depth = focal * model_spread / spread  # frontal start at the depth matching the 2D size
        nose = row[0]
        start = np.array([[(nose[0] - width / 2.0) * depth / focal], [(nose[1] - height / 2.0) * depth / focal], [depth]])  # fmt: skip
        ok, rvec, _ = cv2.solvePnP(
            model_points, np.ascontiguousarray(row), camera, None,
            np.zeros((3, 1)), start, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE,
        )  # fmt: skip
        if not ok:
            continue
        rotation_cv, _ = cv2.Rodrigues(rvec)
        angles[i] = rotation_to_angles(_OPENCV_TO_HEAD @ rotation_cv @ _OPENCV_TO_HEAD)
    angles[:, 1] += pitch_offset
    return angles


class DlibHeadPose:
    """Head-pose evaluator: dlib 68-point landmarks, then ``estimate_head_pose``; misses are NaN rows."""

    name = NAME

    def __init__(
        self,
        face: DlibFace | None = None,
        focal_scale: float = FOCAL_SCALE,
        pitch_offset: float = PITCH_OFFSET,
    ) -> None:
        self.face = face if face is not None else DlibFace()
        self.focal_scale = focal_scale
        self.pitch_offset = pitch_offset

    def estimate(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles ``[N, 3]`` (yaw, pitch, roll degrees; NaN where no face) and the ``found`` mask ``[N]``."""
        points, found = self.face.landmarks(images)
        angles = estimate_head_pose(
            points, images.shape[1:3], focal_scale=self.focal_scale, pitch_offset=self.pitch_offset
        )
        return angles, found & np.isfinite(angles).all(1)
