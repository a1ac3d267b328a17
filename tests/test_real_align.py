"""Alignment of real photos: MTCNN and dlib find the one face; crops follow the SynthFaces framing."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from bench.data.real.align import TEMPLATE, AlignmentFailed, FaceAligner
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
