"""Write face images in each real dataset's exact on-disk layout (test fixtures, benchmarks).

Every writer takes ``{identity name: [RGB uint8 images]}`` (or clips of frames) and
produces the folders, file names, formats (JPEG, PNG, mp4) and annotation files of the
real dataset, so the loaders are exercised on the same layout they read in production.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.pairs import make_pairs, write_pairs
from bench.data.real.multipie import CAMERA_YAW

Faces = dict[str, list[np.ndarray]]


def save_jpeg(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, quality=92)


def write_lfw(root: Path, people: Faces, sets: int = 2, per_set: int = 5, seed: int = 0) -> Path:
    """``root/lfw/<name>/<name>_<NNNN>.jpg`` and ``root/pairs.txt`` drawn over ``people``."""
    for name, images in people.items():
        for number, image in enumerate(images, start=1):
            save_jpeg(root / "lfw" / name / f"{name}_{number:04d}.jpg", image)
    pairs = make_pairs({n: len(v) for n, v in people.items()}, sets, per_set, seed)
    write_pairs(root / "pairs.txt", pairs, sets, per_set)
    return root / "lfw"


def write_celeba(
    root: Path, people: Faces, points: dict[str, list[np.ndarray]], test: set[str]
) -> Path:
    """CelebA's official layout: ``Img/img_align_celeba/``, ``Anno/`` and ``Eval/`` files."""
    identities, partition, landmarks = [], [], []
    number = 0
    for identity, (name, images) in enumerate(people.items(), start=1):
        for image, five in zip(images, points[name], strict=True):
            number += 1
            file = f"{number:06d}.jpg"
            save_jpeg(root / "Img" / "img_align_celeba" / file, image)
            identities.append(f"{file} {identity}")
            partition.append(f"{file} {2 if name in test else 0}")
            landmarks.append(file + " " + " ".join(f"{v:.0f}" for v in np.ravel(five)))
    header = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
    header += "leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
    (root / "Anno").mkdir(parents=True, exist_ok=True)
    (root / "Eval").mkdir(parents=True, exist_ok=True)
    (root / "Anno" / "identity_CelebA.txt").write_text("\n".join(identities) + "\n")
    (root / "Eval" / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    (root / "Anno" / "list_landmarks_align_celeba.txt").write_text(
        f"{len(landmarks)}\n{header}\n" + "\n".join(landmarks) + "\n"
    )
    return root


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> None:
    """An mp4 (``mp4v``) or avi (``MJPG``) of RGB frames (resized to the first's size) via OpenCV."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    for frame in frames:  # every frame at the first frame's size
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()


def write_voxceleb2(root: Path, speakers: dict[str, list[list[np.ndarray]]]) -> Path:
    """``root/id<speaker>/<video>/<clip>.mp4``: one video per speaker, one mp4 per clip."""
    for number, (_, clips) in enumerate(speakers.items()):
        for clip, frames in enumerate(clips, start=1):
            write_video(root / f"id{number:05d}" / f"video{number:03d}" / f"{clip:05d}.mp4", frames)
    return root


def write_multipie(
    root: Path, subjects: dict[str, dict[str, np.ndarray]], session: int = 1
) -> Path:
    """``session0<s>/multiview/<subject>/01/<camera>/<subject>_<s>_01_<cam>_07.png`` (PNG)."""
    for number, (_, views) in enumerate(subjects.items(), start=1):
        subject = f"{number:03d}"
        for camera, image in views.items():
            folder = root / f"session{session:02d}" / "multiview" / subject / "01" / camera
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{subject}_{session:02d}_01_{camera.replace('_', '')}_07.png"
            Image.fromarray(image).save(folder / name)
    return root


def multipie_cameras(max_abs_yaw: float) -> dict[str, float]:
    """The Multi-PIE cameras whose nominal yaw is within ``max_abs_yaw``."""
    return {c: y for c, y in CAMERA_YAW.items() if abs(y) <= max_abs_yaw}


def write_folder(root: Path, people: dict[str, list[list[np.ndarray]]]) -> Path:
    """``root/<identity>/clip<k>/<NNN>.jpg``."""
    for name, clips in people.items():
        for clip, images in enumerate(clips):
            for number, image in enumerate(images):
                save_jpeg(root / name / f"clip{clip}" / f"{number:03d}.jpg", image)
    return root


def write_aflw2000(
    root: Path, images: list[np.ndarray], angles: np.ndarray, landmarks: np.ndarray
) -> Path:
    """``root/imageNNNNN.jpg`` and ``.mat`` (``Pose_Para``, ``pt3d_68``) as AFLW2000-3D ships them.

    ``angles`` ``[N, 3]`` are harness (yaw, pitch, roll) degrees, stored in AFLW2000-3D's
    convention (pitch, yaw, roll radians; :data:`~bench.data.real.aflw2000.LABEL_SIGNS`);
    ``landmarks`` ``[N, 68, 2]`` become ``pt3d_68`` (3 x 68, depth 0).
    """
    from scipy.io import savemat

    from bench.data.real.aflw2000 import LABEL_SIGNS

    root.mkdir(parents=True, exist_ok=True)
    for number, (image, angle, points) in enumerate(zip(images, angles, landmarks, strict=True)):
        stem = root / f"image{number:05d}"
        save_jpeg(stem.with_suffix(".jpg"), image)
        yaw, pitch, roll = np.radians(np.asarray(angle, np.float64) * LABEL_SIGNS)
        pose = np.array([[pitch, yaw, roll, 0.0, 0.0, 0.0, 1.0]])
        pt3d = np.vstack([np.asarray(points, np.float64).T, np.zeros((1, 68))])
        savemat(stem.with_suffix(".mat"), {"Pose_Para": pose, "pt3d_68": pt3d})
    return root
