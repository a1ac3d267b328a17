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
#: Past these the 68-point pose is flagged and left n/a (see :func:`pose_flag`).
NOSE_RATIO_LIMIT = 0.4
MIN_EYE_MOUTH_ASPECT = 0.75
#: A shrinking crop first area-averages the photo to this multiple of its scale (:func:`warp_crop`).
PRESHRINK = 2.0
MAX_RELIABLE_YAW = 40.0
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
    photo_roll: float = 0.0  # roll of the face in the photo (the crop is de-rotated: ``pose``)
    pose_flag: str = ""  # why the 68-point pose is unreliable (a profile); "" when it is not


def similarity_to_template(points: np.ndarray, resolution: int) -> np.ndarray:
    """2x3 matrix of the least-squares similarity taking the 5 points onto the template."""
    cv2 = _import("cv2")
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(points, np.float64), TEMPLATE * resolution, method=cv2.LMEDS
    )
    if matrix is None:
        raise AlignmentFailed("5-point similarity transform failed (degenerate points)")
    return matrix


def nose_ratio(five_points: np.ndarray) -> float:
    """Where the nose tip lies along the eye line: 0 at the left eye, 1 at the right, 0.5 frontal."""
    points = np.asarray(five_points, np.float64)
    eyes = points[1] - points[0]
    return float((points[2] - points[0]) @ eyes / (eyes @ eyes))


def eye_mouth_aspect(five_points: np.ndarray) -> float:
    """Eye distance over the eye-to-mouth height: shrinks as cos(yaw) when the head turns."""
    points = np.asarray(five_points, np.float64)
    height = np.linalg.norm(points[:2].mean(0) - points[3:].mean(0))
    return float(np.linalg.norm(points[1] - points[0]) / height)


def pose_flag(five_points: np.ndarray, yaw: float) -> str:
    """Why the 68-point head pose of this face is unreliable, or "" (issue 22, defect 7).

    dlib's 68-point model is a frontal fit: on SynthFaces renders its yaw saturates near 40
    degrees (true 50-90 read as 27-50), and on AFLW2000-3D profiles it reads +71 as -21.
    Three signs of a profile, from MTCNN's 5 points and the fit: the nose tip near or past
    an eye (:func:`nose_ratio` outside [0.1, 0.9]; renders: 0.48-0.51 at yaw 0, 0.63-0.65
    at 15, 0.69-0.82 at 30, 0.89-0.95 at 40), eyes foreshortened (:func:`eye_mouth_aspect`
    below 0.75; renders, 5th-95th percentile: 0.88-1.19 at |yaw| < 15, 0.67-0.93 at 30-45,
    0.53-0.86 at 45-60, 0.29-0.64 beyond 75; 99 near-frontal LFW crops: 0.81-1.09, median
    0.92), or a fitted |yaw| above 40. On 256 detected renders with |yaw| up to 90 the
    unflagged yaw MAE is 4.0 degrees (max 25.3; without the aspect test 6.3, max 76.3),
    and 3 of 103 faces under 30 degrees are flagged.
    """
    ratio = nose_ratio(five_points)
    if abs(ratio - 0.5) > NOSE_RATIO_LIMIT:
        return f"profile: nose tip at {ratio:.2f} of the eye line (frontal 0.5)"
    aspect = eye_mouth_aspect(five_points)
    if aspect < MIN_EYE_MOUTH_ASPECT:
        return f"profile: eye distance {aspect:.2f} x the eye-mouth height (frontal about 1)"
    if abs(yaw) > MAX_RELIABLE_YAW:
        return f"profile: 68-point yaw {yaw:.1f} beyond its reliable {MAX_RELIABLE_YAW:.0f}"
    return ""


def warp_crop(image: np.ndarray, matrix: np.ndarray, resolution: int) -> np.ndarray:
    """The ``resolution`` crop of ``image`` under ``matrix``, low-passed where it shrinks.

    ``warpAffine`` samples bilinearly whatever flag it gets (``INTER_AREA`` acts as
    ``INTER_LINEAR``), so a photo shrunk many times over aliases. When the similarity
    shrinks by more than 2 (scale < 1/2), the photo is first area-averaged (``resize``,
    ``INTER_AREA``: each output pixel the mean of the input pixels it covers) to
    :data:`PRESHRINK` = 2 x the crop scale, and the warp then shrinks by 2. Measured on
    the astronaut and Grace Hopper enlarged 4x and 8x, cropped at 64 px: dlib-resnet
    distance to the original photo's embedding 0.260 (bilinear alone 0.272; area-averaged
    to 1 x the crop scale 0.314, too soft) and, with +-40 grey levels of pixel noise,
    0.266 (bilinear 0.367); 1 px stripes every 3 px shrunk 37x read 85 +- 2.9 grey levels
    (bilinear: +- 84). Pixel centres: ``x_small + 0.5 = (x + 0.5) * ratio``.
    """
    cv2 = _import("cv2")
    target = PRESHRINK * float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if target < 1.0:
        height, width = image.shape[:2]
        small_size = (max(1, round(width * target)), max(1, round(height * target)))
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
        rotation = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
        return Aligned(
            crop=np.ascontiguousarray(crop),
            landmarks=crop_points.astype(np.float32),
            visible=visible,
            pose=(float(pose[0]), float(pose[1]), float(pose[2])),
            probability=probability,
            align_source=source,
            outside_fraction=float((inside == 0).mean()),
            photo_roll=float((pose[2] - rotation + 180.0) % 360.0 - 180.0),
            pose_flag=pose_flag(five_points, float(pose[0])),
        )
