"""What preparation records about its inputs beyond accept/reject: duplicates, border, time.

Duplicate photos (the same picture saved twice, at two sizes or qualities) share a
difference hash (dHash) of a 9 x 8 grey thumbnail (area averaged, so the size does not
matter); each group is listed in meta.json, none is dropped. A crop that is mostly
replicated border (the face near the photo's edge, or a tiny photo) is counted and listed
likewise; its ``outside_fraction`` column says how much of it lies outside the photo.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

#: A crop with more than this fraction of its pixels outside the photo is "mostly border".
MOSTLY_BORDER = 0.5


def dhash(pixels: np.ndarray) -> str:
    """64-bit difference hash (hex) of an RGB uint8 image: signs of horizontal grey steps."""
    grey = Image.fromarray(pixels).convert("L").resize((9, 8), Image.Resampling.BOX)
    values = np.asarray(grey, np.int16)
    bits = (values[:, 1:] > values[:, :-1]).ravel()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def duplicate_groups(hashes: dict[str, str]) -> list[list[str]]:
    """Groups (of two or more origins) whose photos share a hash, in first-seen order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for origin, value in hashes.items():
        groups[value].append(origin)
    return [group for group in groups.values() if len(group) > 1]


def add_run(work: Path, seconds: float) -> list[float]:
    """Append this invocation's seconds to ``work/runs.json``; every invocation's seconds.

    The work folder is reset with the crops when crop settings change, so the sum is the
    time spent on the crops that exist. A killed invocation records nothing.
    """
    path = work / "runs.json"
    runs = json.loads(path.read_text()) if path.is_file() else []
    runs.append(round(seconds, 2))
    path.write_text(json.dumps(runs) + "\n")
    return runs
