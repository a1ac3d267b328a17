"""MediaPipe Face Mesh: 468 landmarks and head pose by the same PnP fit as ``dlib68-pnp``.

A second head-pose estimator beside dlib's 68-point one (issue 22): Face Mesh is a
regression network trained on faces up to near profile, so it keeps tracking where dlib's
frontal shape model saturates. Its model ships inside the mediapipe wheel
(``mediapipe/modules/face_landmark/face_landmark.tflite``); nothing is downloaded.

Install: mediapipe 0.10.14 is the last release whose wheel still ships the Face Mesh
model and runs with numpy 2 (0.10.21 needs numpy < 2; 0.10.30 and later ship no model
and want a downloaded ``.task`` file). Its declared dependencies would add jax, jaxlib,
protobuf and opencv-contrib-python 5.1 beside the pinned opencv-python-headless 5.0 (two
packages owning ``cv2``), so it is not a pinned dependency: install it without them,
``pip install --no-deps mediapipe==0.10.14 absl-py attrs flatbuffers protobuf==4.25.9``.
Without it the evaluator is n/a with that reason.

Pose: the six Face Mesh points that correspond to ``POSE_LANDMARKS`` (nose tip, chin, outer
eye corners, mouth corners) go through :func:`bench.evaluators.head_pose.estimate_head_pose`
with the SynthFaces mean head, so both estimators share one 3D model and one camera;
``PITCH_OFFSET`` cancels this detector's own pitch bias, -6.7 degrees on 150 SynthFaces
renders (``benchmarks/validate_head_pose.py --evaluators mediapipe-facemesh-pnp --n 150
--seed 5``; identities other than the validation set's seed 0).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from bench.errors import EvaluatorUnavailable
from bench.evaluators.dlib_face import check_images
from bench.evaluators.head_pose import FOCAL_SCALE, estimate_head_pose

NAME = "mediapipe-facemesh-pnp"
N_MESH = 468
#: Face Mesh indices of the iBUG points in ``POSE_LANDMARKS`` (30 nose tip, 8 chin, 36 and
#: 45 outer eye corners in image order, 48 and 54 mouth corners in image order).
MESH_OF_IBUG = {30: 1, 8: 152, 36: 33, 45: 263, 48: 61, 54: 291}
PITCH_OFFSET = 6.7  # degrees added to the raw PnP pitch: minus its bias on 150 renders (seed 5)
INSTALL_HINT = (
    "pip install --no-deps mediapipe==0.10.14 absl-py attrs flatbuffers protobuf==4.25.9 "
    "(its wheel ships the Face Mesh model; see bench/evaluators/mediapipe_face.py)"
)


def _face_mesh_module() -> Any:
    """``mediapipe.solutions.face_mesh``, or EvaluatorUnavailable saying what to install."""
    try:
        return importlib.import_module("mediapipe.python.solutions.face_mesh")
    except ImportError as error:
        raise EvaluatorUnavailable(
            f"the {NAME} evaluator needs mediapipe with its Face Mesh model ({error}); "
            + INSTALL_HINT
        ) from error


def ibug_pose_points(mesh: np.ndarray) -> np.ndarray:
    """A ``[N, 68, 2]`` array with the six pose points from Face Mesh ``[N, 468, 2]``, NaN elsewhere."""
    points = np.full((len(mesh), 68, 2), np.nan)
    for ibug, index in MESH_OF_IBUG.items():
        points[:, ibug] = mesh[:, index]
    return points


class MediaPipeFace:
    """Face Mesh on single images (``static_image_mode``): 468 points per image or a miss."""

    name = NAME

    def __init__(self, min_detection_confidence: float = 0.5) -> None:
        face_mesh = _face_mesh_module()
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=False,
            min_detection_confidence=min_detection_confidence,
        )

    def landmarks(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ``[N, 468, 2]`` in pixels (centre convention, NaN where missed) and ``found``."""
        images = check_images(images)
        height, width = images.shape[1:3]
        points = np.full((len(images), N_MESH, 2), np.nan)
        found = np.zeros(len(images), bool)
        for i, image in enumerate(images):
            result = self._mesh.process(np.ascontiguousarray(image))
            if not result.multi_face_landmarks:
                continue
            marks = result.multi_face_landmarks[0].landmark
            # normalised coordinates: 0 and 1 are the image edges, so x * width is the corner
            # convention already equal to the harness' pixel-centre one (centre of pixel 0 = 0.5)
            points[i] = [(m.x * width, m.y * height) for m in marks[:N_MESH]]
            found[i] = True
        return points, found


class MediaPipeHeadPose:
    """Head-pose evaluator: Face Mesh points, then the shared 6-point PnP; misses are NaN rows."""

    name = NAME

    def __init__(
        self,
        face: MediaPipeFace | None = None,
        focal_scale: float = FOCAL_SCALE,
        pitch_offset: float = PITCH_OFFSET,
    ) -> None:
        self.face = face if face is not None else MediaPipeFace()
        self.focal_scale = focal_scale
        self.pitch_offset = pitch_offset

    def estimate(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Angles ``[N, 3]`` (yaw, pitch, roll degrees; NaN where no face) and ``found`` ``[N]``."""
        mesh, found = self.face.landmarks(images)
        angles = estimate_head_pose(
            ibug_pose_points(mesh),
            images.shape[1:3],
            focal_scale=self.focal_scale,
            pitch_offset=self.pitch_offset,
        )
        return angles, found & np.isfinite(angles).all(1)
