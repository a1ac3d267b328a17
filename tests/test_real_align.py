"""Alignment of real photos: MTCNN and dlib find the one face; crops follow the SynthFaces framing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from bench.data.real.align import TEMPLATE, AlignmentFailed, FaceAligner, warp_crop
from bench.data.real.demo import packaged_faces
from bench.evaluators.dlib_face import DlibFace


@pytest.fixture(scope="module")
def aligner() -> FaceAligner:
    return FaceAligner(resolution=64)


def test_mtcnn_and_dlib_each_find_one_face_in_the_astronaut(aligner):
    boxes, probabilities = aligner.mtcnn.detect(data.astronaut())
    assert len(boxes) == 1 and probabilities[0] > 0.99
    face = DlibFace(upsample=0)
    assert sum(box is not None for box in face.detect(data.astronaut()[None])) == 1


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_aligned_crops_put_eyes_and_mouth_on_the_template(aligner, name):
    face = aligner.align(packaged_faces(n_lfw=0)[name])
    eyes = np.stack([face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)])
    assert np.abs(eyes - TEMPLATE[:2] * 64).max() < 3.0
    assert np.abs(face.landmarks[[48, 54]] - TEMPLATE[3:] * 64).max() < 4.0
    assert face.visible.all() and face.crop.shape == (64, 64, 3)
    assert abs(face.pose[0]) < 15 and face.align_source == "mtcnn"


def test_a_mirrored_photo_mirrors_the_estimated_yaw(aligner):
    photo = packaged_faces(n_lfw=0)["grace_hopper"]
    yaw = aligner.align(photo).pose[0]
    mirrored = aligner.align(np.ascontiguousarray(photo[:, ::-1])).pose[0]
    assert abs(yaw + mirrored) < 3.0


def test_a_photo_without_a_face_is_an_alignment_failure(aligner):
    with pytest.raises(AlignmentFailed, match="no face detected"):
        aligner.align(data.coffee())


def stripes(size: int, period: int = 3) -> np.ndarray:
    """A photo of one-pixel bright lines every ``period`` pixels: all high frequency."""
    column = np.where(np.arange(size) % period == 0, 255, 0).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(column[None, :, None], (size, size, 3)))


@pytest.mark.parametrize("shrink", [50.0, 37.3])
def test_a_large_photo_is_low_passed_before_the_crop(shrink):
    """Error against the photo area-averaged to the crop scale (block means): 1/3 of 255 here."""
    import cv2

    photo = stripes(1600)
    scale = 1.0 / shrink
    matrix = np.array([[scale, 0.0, 0.5 * scale - 0.5], [0.0, scale, 0.5 * scale - 0.5]])
    resolution = int(1600 * scale)
    reference = cv2.resize(photo, (resolution, resolution), interpolation=cv2.INTER_AREA)
    crop = warp_crop(photo, matrix, resolution)
    sampled = cv2.warpAffine(photo, matrix, (resolution, resolution), flags=cv2.INTER_AREA)
    error = np.abs(crop.astype(float) - reference)[1:-1, 1:-1].mean()
    aliased = np.abs(sampled.astype(float) - reference)[1:-1, 1:-1].mean()
    assert aliased > 40 and error < 3, (aliased, error)  # 255/3 = 85 is the true mean


@pytest.mark.parametrize("enlarge", [4, 8])
def test_a_photo_enlarged_by_pixel_replication_gives_the_same_crop(aligner, enlarge):
    """Area averaging undoes a k x k replication exactly; bilinear sampling (the old warp,
    mean error 6.8 and 7.1 grey levels at 4x and 8x) does not."""
    photo = packaged_faces(n_lfw=0)["astronaut"]
    points, _ = aligner.five_points(photo)
    size = (photo.shape[1] * enlarge, photo.shape[0] * enlarge)
    large = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.NEAREST))
    crop = aligner.align(photo, points).crop.astype(float)
    large_crop = aligner.align(large, (points + 0.5) * enlarge - 0.5).crop
    assert np.abs(large_crop - crop).mean() < 0.01
