"""AFLW2000-3D: ``<root>/imageNNNNN.jpg`` with ``imageNNNNN.mat`` pose and 68-point labels.

Each ``.mat`` (3DDFA's fits, Zhu et al. 2016) holds ``Pose_Para`` (1 x 7: pitch, yaw, roll
in radians, then translation and scale) and ``pt3d_68`` (3 x 68: x, y image pixels and
depth). The angles are those of 3DDFA's ``R = Rx(pitch) Ry(yaw) Rz(roll)`` in a y-up model
frame, which maps to the harness convention (yaw toward image-right, chin up, top of the
head toward image-right positive) as yaw -> -yaw, pitch and roll unchanged
(:data:`LABEL_SIGNS`); ``benchmarks/validate_head_pose.py --dataset aflw2000`` checks this
on the files themselves (PnP on each file's own ``pt3d_68`` against its ``Pose_Para``).

The images are of 2,000 different faces without identity labels, so each image is its own
identity, all in the test split: an evaluation-only set for checking head-pose evaluators.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.real.listing import Listing
from bench.data.real.sources import SourceImage, natural_key, require_dir

#: Harness angle = sign x AFLW2000-3D angle, in (yaw, pitch, roll) order.
LABEL_SIGNS = np.array([-1.0, 1.0, 1.0])
_IMAGE = re.compile(r"image\d+\.jpg", re.IGNORECASE)


class LabelError(Exception):
    """A ``.mat`` label file that cannot be used; the message names the file."""


def read_label(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch, roll) degrees in the harness convention and ``pt3d_68`` as ``[68, 2]`` pixels."""
    from scipy.io import loadmat

    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        data = loadmat(path)
    except (OSError, ValueError, TypeError) as error:
        raise LabelError(f"unreadable label file: {path}: {error}") from error
    for key in ("Pose_Para", "pt3d_68"):
        if key not in data:
            raise LabelError(f"label file without {key}: {path}")
    pose = np.asarray(data["Pose_Para"], np.float64).ravel()
    points = np.asarray(data["pt3d_68"], np.float64)
    if pose.size < 3 or points.shape[0] < 2 or points.shape[-1] != 68:
        raise LabelError(
            f"label file with Pose_Para {data['Pose_Para'].shape} / pt3d_68 {points.shape} "
            f"(expected 1 x 7 and 3 x 68): {path}"
        )
    pitch, yaw, roll = np.degrees(pose[:3])
    return LABEL_SIGNS * np.array([yaw, pitch, roll]), points[:2].T.copy()


def list_aflw2000(root: Path, settings: dict[str, Any]) -> Listing:
    """Every ``imageNNNNN.jpg`` with its labels; a missing or bad ``.mat`` is a listing reject."""
    require_dir(root, "AFLW2000-3D's imageNNNNN.jpg and imageNNNNN.mat files")
    sources, rejects, skipped = [], [], []
    for path in sorted(root.iterdir(), key=natural_key):
        if path.is_dir() or path.name.startswith("."):
            skipped.append(
                (str(path), "hidden file or folder" if path.name.startswith(".") else "folder")
            )
            continue
        if path.suffix.lower() == ".mat" and path.with_suffix(".jpg").is_file():
            continue  # read with its image
        if not _IMAGE.fullmatch(path.name):
            skipped.append((str(path), "not an AFLW2000-3D imageNNNNN.jpg or its .mat"))
            continue
        try:
            angles, _ = read_label(path.with_suffix(".mat"))
        except FileNotFoundError:
            rejects.append((str(path), f"missing label file: {path.with_suffix('.mat')}"))
            continue
        except LabelError as error:
            rejects.append((str(path), str(error)))
            continue
        columns = {
            f"label_{a}": float(v) for a, v in zip(("yaw", "pitch", "roll"), angles, strict=True)
        }
        sources.append(SourceImage(path, path.stem, 1, 0, "test", columns=columns))
    return Listing(
        sources, rejects=rejects, skipped=skipped, notes={"label_signs": LABEL_SIGNS.tolist()}
    )
