"""CMU Multi-PIE: ``session0<s>/multiview/<subject>/<recording>/<camera>/<file>.png``.

File names are ``<subject>_<session>_<recording>_<camera digits>_<illumination>.png``
(e.g. ``001_01_01_051_07.png`` in camera folder ``05_1``). The 13 cameras within +-90
degrees of yaw at eye height are the 13 pose bins of DR-GAN; each camera's nominal yaw
is the pose label (``pose_source: multipie-camera``). Recordings map to expressions per
session, flashes to the ``light`` column. A clip is one (session, recording,
illumination) of a subject: its images differ only in camera, i.e. in pose, so it is also
the index's multi-view ``session`` (the Multi-PIE session number is ``mpie_session``). Subjects are
split as DR-GAN does: the first ``train_subjects`` ids train, the rest test.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench.data.real.listing import Listing
from bench.data.real.sources import SourceImage, media_files, require_dir, sorted_children
from bench.errors import DataError

#: Camera folder -> nominal yaw in degrees (the 13 eye-height cameras, left to right).
CAMERA_YAW = {
    "11_0": -90.0, "12_0": -75.0, "09_0": -60.0, "08_0": -45.0, "13_0": -30.0,
    "14_0": -15.0, "05_1": 0.0, "05_0": 15.0, "04_1": 30.0, "19_0": 45.0,
    "20_0": 60.0, "01_0": 75.0, "24_0": 90.0,
}  # fmt: skip
EXPRESSION_LABELS = ("neutral", "smile", "surprise", "squint", "disgust", "scream")
#: (session, recording) -> expression label.
RECORDING_EXPRESSION = {
    (1, 1): "neutral", (1, 2): "smile",
    (2, 1): "neutral", (2, 2): "surprise", (2, 3): "squint",
    (3, 1): "neutral", (3, 2): "smile", (3, 3): "disgust",
    (4, 1): "neutral", (4, 2): "neutral", (4, 3): "scream",
}  # fmt: skip
_FILE = re.compile(r"(\d{3})_(\d{2})_(\d{2})_(\d{3})_(\d{2})\.png")


def parse_file(file: Path, subject: str, session: int, recording: str, camera: str) -> int:
    """Check a file name against its folders; return its illumination number."""
    match = _FILE.fullmatch(file.name)
    expected = (subject, f"{session:02d}", recording, camera.replace("_", ""))
    if match is None or match.groups()[:4] != expected:
        raise DataError(
            f"{file}: expected Multi-PIE's name {'_'.join(expected)}_<illumination>.png "
            "for its folders"
        )
    return int(match[5])


def list_multipie(root: Path, settings: dict[str, Any]) -> Listing:
    """Images of the 13 poses for the configured sessions, expressions and illuminations."""
    require_dir(root, "Multi-PIE's session0<s>/multiview folders")
    illuminations = settings["illuminations"]
    rows = []
    skipped: Counter = Counter()
    for session in settings["sessions"]:
        base = root / f"session{session:02d}" / "multiview"
        if not base.is_dir():
            raise DataError(f"{base}: Multi-PIE session folder missing (multipie.sessions)")
        for subject_dir in sorted_children(base, dirs=True):
            for recording_dir in sorted_children(subject_dir, dirs=True):
                label = RECORDING_EXPRESSION.get((session, int(recording_dir.name)))
                if label is None or label not in settings["expressions"]:
                    skipped["expression"] += 1
                    continue
                for camera_dir in sorted_children(recording_dir, dirs=True):
                    if camera_dir.name not in CAMERA_YAW:
                        skipped[f"camera {camera_dir.name}"] += 1
                        continue
                    for file in media_files(camera_dir):
                        illumination = parse_file(
                            file, subject_dir.name, session, recording_dir.name, camera_dir.name
                        )
                        if illuminations is None or illumination in illuminations:
                            rows.append(
                                (
                                    subject_dir.name,
                                    session,
                                    int(recording_dir.name),
                                    illumination,
                                    camera_dir.name,
                                    label,
                                    file,
                                )
                            )
    subjects = sorted({r[0] for r in rows})
    if len(subjects) <= settings["train_subjects"] + 1:
        raise DataError(
            f"{root}: {len(subjects)} subjects, but multipie.train_subjects = "
            f"{settings['train_subjects']} leaves fewer than 2 for the test split"
        )
    train = set(subjects[: settings["train_subjects"]])
    clips: dict[tuple, int] = {}
    clips_of: Counter = Counter()  # clips numbered per subject in listing order
    numbers: Counter = Counter()
    sources = []
    for subject, session, recording, illumination, camera, label, file in sorted(rows):
        key = (subject, session, recording, illumination)
        if key not in clips:
            clips[key] = clips_of[subject]
            clips_of[subject] += 1
        clip = clips[key]
        name = f"mpie{subject}"
        numbers[name] += 1
        sources.append(
            SourceImage(
                file,
                name,
                numbers[name],
                clip,
                "train" if subject in train else "test",
                session=clip,  # a (session, recording, flash) under 13 cameras: one view set
                columns={
                    "nominal_yaw": CAMERA_YAW[camera],
                    "camera": camera,
                    "expression": EXPRESSION_LABELS.index(label),
                    "light": float(illumination),
                    "mpie_session": session,
                    "recording": recording,
                },
            )
        )
    notes = {"expression_labels": list(EXPRESSION_LABELS), "skipped_folders": dict(skipped)}
    return Listing(sources, notes=notes)
