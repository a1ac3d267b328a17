"""dlib's pretrained face evaluators: HOG detector, 68-point landmarks and the 128-d ResNet embedding.

The model files ship in the ``face_recognition_models`` package. It is located with
``importlib.util.find_spec`` and never imported: its ``__init__`` needs ``pkg_resources``, which
setuptools 82 removed.

Every method works on a batch of uint8 RGB images ``[N, H, W, 3]`` and returns one entry per
image with a ``found`` mask: a face the detector misses is reported (NaN row, ``found=False``) and
counted by the metrics, never dropped.

Small images: the detector's smallest face is about 80 px, so an image whose shorter side is under
``MIN_SIDE`` (128) is first enlarged by the integer factor ``ceil(128 / side)`` with bicubic
interpolation (``cv2.INTER_CUBIC``); landmarks and embeddings are computed on the enlarged image and
points are mapped back to the input's pixels. The detector then runs with ``upsample`` pyramid
levels (default 1), so a 128 px image is searched at 2x (dlib upsample 1) and a 64 px image at 4x,
the scale of dlib upsample 2 on the raw 64 px image (``benchmarks/validate_head_pose.py
--resolution 64`` measures detection and landmark error at 64 px).

Coordinates follow the harness convention: x right, y down, pixel (row r, col c) has its centre at
(x=c+0.5, y=r+0.5), the same as SynthFaces' exact landmarks (dlib's integer pixel indices + 0.5).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.errors import BenchError, EvaluatorUnavailable

log = logging.getLogger(__name__)

EMBEDDING_NAME = "dlib-resnet"
LANDMARKS_NAME = "dlib-68"
EMBEDDING_DIM = 128
N_LANDMARKS = 68
MIN_SIDE = 128  # images with a shorter side are enlarged to at least this before detection
SHAPE_PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"
_INSTALL_HINT = (
    "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 "
    "opencv-python-headless==5.0.0.93 (the pins of pyproject.toml)"
)


def dlib_models_dir() -> str:
    """Folder holding dlib's ``.dat`` models inside the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EvaluatorUnavailable(
            f"the dlib evaluators need the package face_recognition_models; {_INSTALL_HINT}"
        )
    folder = os.path.join(spec.submodule_search_locations[0], "models")
    for name in (SHAPE_PREDICTOR_FILE, DESCRIPTOR_FILE):
        if not os.path.isfile(os.path.join(folder, name)):
            raise EvaluatorUnavailable(
                f"dlib model {name} not found in {folder}; reinstall it: "
                f"pip install --force-reinstall face-recognition-models==0.3.0"
            )
    return folder


def _import(module: str) -> Any:
    """Import ``dlib`` or ``cv2``, turning a missing package into an EvaluatorUnavailable."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise EvaluatorUnavailable(
            f"the dlib evaluators need the module {module!r} ({error}); {_INSTALL_HINT}"
        ) from error


def check_images(images: np.ndarray) -> np.ndarray:
    """Validate a uint8 RGB batch ``[N, H, W, 3]``; raise a BenchError saying what was given instead."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise BenchError(
            f"expected uint8 RGB images [N, H, W, 3], got dtype {images.dtype} shape {images.shape}; "
            "convert floats in [0, 1] with (x * 255).round().astype(np.uint8)"
        )
    return images


def enlarge_small(cv2: Any, image: np.ndarray, min_side: int) -> tuple[np.ndarray, int]:
    """``image`` enlarged bicubically by the integer ``ceil(min_side / its shorter side)``
    (1: unchanged) as a contiguous array, and that factor: detectors built for larger faces
    (dlib's HOG, MTCNN) search a small crop at one coarse level otherwise."""
    scale = max(1, math.ceil(min_side / min(image.shape[:2])))
    if scale > 1:
        size = (image.shape[1] * scale, image.shape[0] * scale)
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    return np.ascontiguousarray(image), scale


@dataclass(frozen=True)
class FaceBox:
    """A detection in the input image's pixel coordinates (edges, x right, y down) and its HOG score."""

    left: float
    top: float
    right: float
    bottom: float
    score: float


@dataclass(frozen=True)
class _Detection:
    """One image's detection on the working (possibly enlarged) image."""

    work: np.ndarray  # the working image, uint8 [h, w, 3]
    rect: Any  # dlib.rectangle on ``work``
    score: float
    scale: int  # enlargement factor of ``work`` over the input


class DlibFace:
    """dlib HOG detector + 68-point shape predictor + ResNet descriptor (128-d; same person below ~0.6 L2)."""

    name = EMBEDDING_NAME
    landmarks_name = LANDMARKS_NAME

    def __init__(self, upsample: int = 1, min_side: int = MIN_SIDE) -> None:
        if upsample < 0:
            raise BenchError(f"upsample must be >= 0 (dlib pyramid levels), got {upsample}")
        self.upsample = int(upsample)
        self.min_side = int(min_side)
        self._dlib = _import("dlib")
        self._cv2 = _import("cv2")
        folder = dlib_models_dir()
        self.detector = self._dlib.get_frontal_face_detector()
        self.predictor = self._dlib.shape_predictor(os.path.join(folder, SHAPE_PREDICTOR_FILE))
        self.descriptor = self._dlib.face_recognition_model_v1(
            os.path.join(folder, DESCRIPTOR_FILE)
        )
        log.debug("loaded dlib models from %s", folder)

    def __repr__(self) -> str:
        return f"DlibFace(upsample={self.upsample}, min_side={self.min_side})"

    def _detect_one(self, image: np.ndarray) -> _Detection | None:
        """Enlarge a small image, run the HOG detector and keep the highest-scoring face."""
        work, scale = enlarge_small(self._cv2, image, self.min_side)
        rects, scores, _ = self.detector.run(work, self.upsample, 0.0)
        if len(rects) == 0:
            return None
        best = int(np.argmax(scores))
        return _Detection(work=work, rect=rects[best], score=float(scores[best]), scale=scale)

    def _shape_points(self, detection: _Detection) -> tuple[Any, np.ndarray]:
        """dlib full_object_detection and its 68 points in the input image's pixel coordinates."""
        shape = self.predictor(detection.work, detection.rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return shape, (points + 0.5) / detection.scale

    def detect(self, images: np.ndarray) -> list[FaceBox | None]:
        """Highest-scoring face box per image, or None where no face is found."""
        boxes: list[FaceBox | None] = []
        for image in check_images(images):
            detection = self._detect_one(image)
            if detection is None:
                boxes.append(None)
                continue
            r, s = detection.rect, detection.scale
            boxes.append(
                FaceBox(r.left() / s, r.top() / s, (r.right() + 1) / s, (r.bottom() + 1) / s, detection.score)
            )  # fmt: skip
        return boxes

    def landmarks(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """68 iBUG points ``[N, 68, 2]`` (x, y pixels; NaN where no face) and the ``found`` mask ``[N]``."""
        images = check_images(images)
        points = np.full((len(images), N_LANDMARKS, 2), np.nan)
        found = np.zeros(len(images), dtype=bool)
        for i, image in enumerate(images):
            detection = self._detect_one(image)
            if detection is not None:
                _, points[i] = self._shape_points(detection)
                found[i] = True
        _log_missing(LANDMARKS_NAME, found)
        return points, found

    def embed(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """128-d identity descriptors ``[N, 128]`` (NaN rows where no face) and the ``found`` mask ``[N]``."""
        images = check_images(images)
        embeddings = np.full((len(images), EMBEDDING_DIM), np.nan)
        found = np.zeros(len(images), dtype=bool)
        for i, image in enumerate(images):
            detection = self._detect_one(image)
            if detection is not None:
                shape, _ = self._shape_points(detection)
                embeddings[i] = np.asarray(
                    self.descriptor.compute_face_descriptor(detection.work, shape)
                )
                found[i] = True
        _log_missing(EMBEDDING_NAME, found)
        return embeddings, found

    def analyse(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Landmarks ``[N, 68, 2]``, descriptors ``[N, 128]`` and ``found`` ``[N]`` from one detection per image.

        The same as :meth:`landmarks` and :meth:`embed` together, at the cost of one detection.
        """
        images = check_images(images)
        points = np.full((len(images), N_LANDMARKS, 2), np.nan)
        embeddings = np.full((len(images), EMBEDDING_DIM), np.nan)
        found = np.zeros(len(images), dtype=bool)
        for i, image in enumerate(images):
            detection = self._detect_one(image)
            if detection is not None:
                shape, points[i] = self._shape_points(detection)
                embeddings[i] = np.asarray(
                    self.descriptor.compute_face_descriptor(detection.work, shape)
                )
                found[i] = True
        _log_missing(EMBEDDING_NAME, found)
        return points, embeddings, found


def _log_missing(name: str, found: np.ndarray) -> None:
    """Log how many images had no detected face (they stay in the output as NaN rows)."""
    missing = int((~found).sum())
    if missing:
        log.info(
            "%s: no face found in %d of %d images (NaN rows, counted)", name, missing, len(found)
        )
