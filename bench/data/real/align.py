"""Face alignment for real photos: MTCNN 5 points -> similarity crop -> dlib 68 points -> head pose.

Crops use the SynthFaces framing: the 5 points (eye centres, nose tip, mouth corners) are
mapped by a least-squares similarity transform onto :data:`TEMPLATE`, the mean positions of
those points on frontal SynthFaces renders, so real and synthetic crops frame a face alike.
A photo shrunk into the crop is area-averaged first (:func:`warp_crop`), so large photos
do not alias. dlib's 68-point shape predictor runs on the full-resolution photo inside a
box derived from the 5 points (no second detector), the points are mapped into the crop,
and the head pose comes from :func:`bench.evaluators.head_pose.estimate_head_pose` (``dlib68-pnp``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from bench.evaluators.dlib_face import SHAPE_PREDICTOR_FILE, _import, dlib_models_dir
from bench.evaluators.head_pose import NAME as POSE_ESTIMATOR
from bench.evaluators.head_pose import estimate_head_pose

log = logging.getLogger(__name__)

#: MTCNN's 5 points (left eye, right eye, nose tip, left and right mouth corner, in image
#: order) as fractions of the crop side: frontal SynthFaces renders' mean positions.
TEMPLATE = np.array(
    [[0.374, 0.420], [0.628, 0.420], [0.500, 0.514], [0.363, 0.643], [0.634, 0.643]]
)
#: The box given to dlib's shape predictor, in template (crop-fraction) coordinates:
#: left, top, right, bottom, calibrated against dlib's own HOG boxes on aligned photos.
DLIB_BOX = (0.254, 0.309, 0.742, 0.797)
POSE_SOURCE = POSE_ESTIMATOR
#: MTCNN's smallest face is 20 px: a shorter image side gives its pyramid no scale at all
#: (``torch.cat`` of an empty list inside ``detect``).
MIN_SIDE = 20


class AlignmentFailed(Exception):
    """One image could not be aligned; the message is the reject reason."""


@dataclass(frozen=True)
class Aligned:
    """One aligned face: the crop, its 68 points and visibility, head pose and the detector's data."""

    crop: np.ndarray  # uint8 [R, R, 3]
    landmarks: np.ndarray  # float32 [68, 2], crop pixels (pixel centres at +0.5)
    visible: np.ndarray  # bool [68]: inside the crop
    pose: tuple[float, float, float]  # yaw, pitch, roll degrees (dlib68-pnp)
    probability: float  # the detector's face probability (1.0 for annotated points)
    align_source: str  # "mtcnn", "annotation" or "centre"
    outside_fraction: float = 0.0  # share of crop pixels outside the photo (replicated border)


def similarity_to_template(points: np.ndarray, resolution: int) -> np.ndarray:
    """2x3 matrix of the least-squares similarity taking the 5 points onto the template."""
    cv2 = _import("cv2")
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(points, np.float64), TEMPLATE * resolution, method=cv2.LMEDS
    )
    if matrix is None:
        raise AlignmentFailed("5-point similarity transform failed (degenerate points)")
    return matrix


def warp_crop(image: np.ndarray, matrix: np.ndarray, resolution: int) -> np.ndarray:
    """The ``resolution`` crop of ``image`` under ``matrix``, low-passed where it shrinks.

    ``warpAffine`` samples bilinearly whatever flag it gets (``INTER_AREA`` acts as
    ``INTER_LINEAR``), so a photo shrunk many times over aliases. When the similarity
    shrinks (scale < 1), the photo is first area-averaged to that scale with ``resize``
    (``INTER_AREA``: each output pixel the mean of the input pixels it covers) and the warp
    then only rotates and shifts. Pixel centres: ``x_small + 0.5 = (x + 0.5) * ratio``.
    """
    cv2 = _import("cv2")
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 1.0:
        height, width = image.shape[:2]
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
        ratio = np.array([small_size[0] / width, small_size[1] / height])
        linear = matrix[:, :2] / ratio  # columns divided: x = (x_small + 0.5) / ratio - 0.5
        matrix = np.column_stack([linear, matrix[:, :2] @ (0.5 / ratio - 0.5) + matrix[:, 2]])
    return cv2.warpAffine(
        image,
        matrix,
        (resolution, resolution),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def choose_face(
    boxes: np.ndarray, probabilities: np.ndarray, image_shape: tuple[int, ...], choice: str
) -> int:
    """Index of the face to keep: the largest box, or the one nearest the image centre."""
    if choice == "centre":
        centre = np.array([image_shape[1], image_shape[0]]) / 2.0
        middles = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        return int(np.argmin(((middles - centre) ** 2).sum(1)))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return int(np.argmax(areas))


class FaceAligner:
    """MTCNN detector, dlib shape predictor and the crop geometry; one per worker process."""

    def __init__(
        self, resolution: int, min_probability: float = 0.9, choice: str = "largest"
    ) -> None:
        import torch
        from facenet_pytorch import MTCNN

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        self.resolution = int(resolution)
        self.min_probability = float(min_probability)
        self.choice = choice
        self.mtcnn = MTCNN(keep_all=True, device="cpu")
        self._cv2 = _import("cv2")
        self._dlib = _import("dlib")
        self.predictor = self._dlib.shape_predictor(
            os.path.join(dlib_models_dir(), SHAPE_PREDICTOR_FILE)
        )

    def five_points(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The chosen face's 5 points ``[5, 2]`` and probability; AlignmentFailed if none."""
        boxes, probabilities, points = self.mtcnn.detect(image, landmarks=True)
        if boxes is None:
            raise AlignmentFailed("no face detected (MTCNN)")
        boxes = np.asarray(boxes.tolist(), np.float64)
        probabilities = np.asarray(probabilities.tolist(), np.float64)
        points = np.asarray(points.tolist(), np.float64)
        keep = probabilities >= self.min_probability
        if not keep.any():
            raise AlignmentFailed(
                f"low face probability (MTCNN best {probabilities.max():.3f} "
                f"< {self.min_probability})"
            )
        boxes, probabilities, points = boxes[keep], probabilities[keep], points[keep]
        best = choose_face(boxes, probabilities, image.shape, self.choice)
        return points[best], float(probabilities[best])

    def landmarks_68(self, image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """dlib's 68 points ``[68, 2]`` on the photo, in the photo's pixel coordinates."""
        inverse = self._cv2.invertAffineTransform(matrix)
        left, top, right, bottom = DLIB_BOX
        corners = np.array([[left, top], [right, top], [left, bottom], [right, bottom]])
        corners = corners * self.resolution @ inverse[:, :2].T + inverse[:, 2]
        (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
        rect = self._dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))
        shape = self.predictor(np.ascontiguousarray(image), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64) + 0.5

    def align(
        self, image: np.ndarray, five_points: np.ndarray | None = None, source: str = "annotation"
    ) -> Aligned:
        """Align one uint8 RGB photo; given ``five_points`` (labelled ``source``) skip MTCNN."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise AlignmentFailed(f"expected a uint8 RGB image, got {image.dtype} {image.shape}")
        if five_points is None:
            if min(image.shape[:2]) < MIN_SIDE:  # MTCNN's pyramid has no scale below 20 px
                height, width = image.shape[:2]
                raise AlignmentFailed(
                    f"image too small ({width}x{height} px; MTCNN needs a shorter side of at "
                    f"least {MIN_SIDE} px)"
                )
            five_points, probability = self.five_points(image)
            source = "mtcnn"
        else:
            probability = 1.0
        matrix = similarity_to_template(five_points, self.resolution)
        size = (self.resolution, self.resolution)
        crop = warp_crop(image, matrix, self.resolution)
        inside = self._cv2.warpAffine(
            np.full(image.shape[:2], 255, np.uint8), matrix, size, flags=self._cv2.INTER_NEAREST
        )
        points = self.landmarks_68(image, matrix)
        # pixel-centre convention: shift to corner coordinates, transform, shift back
        crop_points = (points - 0.5) @ matrix[:, :2].T + matrix[:, 2] + 0.5
        pose = estimate_head_pose(crop_points[None], self.resolution)[0]
        if not np.isfinite(pose).all():
            raise AlignmentFailed("head pose (solvePnP on dlib's 68 points) failed")
        visible = ((crop_points >= 0) & (crop_points < self.resolution)).all(1)
        return Aligned(
            crop=np.ascontiguousarray(crop),
            landmarks=crop_points.astype(np.float32),
            visible=visible,
            pose=(float(pose[0]), float(pose[1]), float(pose[2])),
            probability=probability,
            align_source=source,
            outside_fraction=float((inside == 0).mean()),
        )
