"""CelebA: ``img_align_celeba/`` or ``img_celeba/`` with its identity, partition and landmark files.

Files are looked up in the root and in the official ``Anno/``, ``Eval/`` and ``Img/``
subfolders. ``list_eval_partition.txt`` gives train (0), validation (1) and test (2);
validation goes where ``validation`` says. An identity listed in two splits is moved to
the split holding most of its images (counted in meta.json), since test identities must
never be seen in training. With ``align_with: annotation`` the annotated 5 points
(``list_landmarks_align_celeba.txt`` or ``list_landmarks_celeba.txt``) align the crop
instead of MTCNN.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench.data.real.listing import Listing
from bench.data.real.sources import SourceImage, annotation_lines, split_fields
from bench.errors import DataError

LANDMARK_FILES = {
    "img_align_celeba": "list_landmarks_align_celeba.txt",
    "img_celeba": "list_landmarks_celeba.txt",
}
PARTITIONS = {"0": "train", "1": "validation", "2": "test"}


def find_file(
    root: Path, name: str, folders: tuple[str, ...] = ("", "Anno", "Eval", "Img")
) -> Path:
    """``name`` in the root or one of the official subfolders."""
    for folder in folders:
        if (root / folder / name).exists():
            return root / folder / name
    raise DataError(
        f"{root}: CelebA's {name} not found (looked in the root and {', '.join(folders[1:])}/)"
    )


def read_identities(path: Path) -> dict[str, tuple[int, int]]:
    """``identity_CelebA.txt``: image -> (identity, line)."""
    out = {}
    for number, line in annotation_lines(path):
        image, identity = split_fields(path, number, line, 2, "<image> <identity>", 1)
        out[image] = (int(identity), number)
    return out


def read_partition(path: Path) -> dict[str, str]:
    """``list_eval_partition.txt``: image -> train, validation or test."""
    out = {}
    for number, line in annotation_lines(path):
        image, part = split_fields(path, number, line, 2, "<image> <0|1|2>")
        if part not in PARTITIONS:
            raise DataError(f"{path}: line {number}: partition must be 0, 1 or 2, got {part!r}")
        out[image] = PARTITIONS[part]
    return out


def read_five_points(path: Path) -> dict[str, tuple[tuple[float, float], ...]]:
    """A CelebA landmarks file (count line, header line, then image + 10 coordinates)."""
    lines = annotation_lines(path)
    first = next(lines, None)
    if first is None or not first[1].isdigit():
        raise DataError(f"{path}: line 1: expected the number of images, got {first!r}")
    next(lines, None)  # the header: lefteye_x lefteye_y ... rightmouth_y
    layout = "<image> lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y ... rightmouth_y"
    out = {}
    for number, line in lines:
        fields = split_fields(path, number, line, 11, layout, 1)
        values = [float(v) for v in fields[1:]]
        out[fields[0]] = tuple((values[i], values[i + 1]) for i in range(0, 10, 2))
    return out


def list_celeba(root: Path, settings: dict[str, Any]) -> Listing:
    """CelebA images with identities and the official partition."""
    images_dir = find_file(root, settings["images"])
    identities = read_identities(find_file(root, "identity_CelebA.txt"))
    partition_path = find_file(root, "list_eval_partition.txt")
    partition = read_partition(partition_path)
    points = {}
    if settings["align_with"] == "annotation":
        points = read_five_points(find_file(root, LANDMARK_FILES[settings["images"]]))
    identity_file = find_file(root, "identity_CelebA.txt")
    splits: dict[int, Counter] = {}
    rows = []
    for image, (identity, line) in sorted(identities.items()):
        if image not in partition:
            raise DataError(f"{partition_path}: no entry for {image} ({identity_file}:{line})")
        split = partition[image]
        if split == "validation":
            if settings["validation"] == "drop":
                continue
            split = settings["validation"]
        if settings["align_with"] == "annotation" and image not in points:
            raise DataError(f"{LANDMARK_FILES[settings['images']]}: no landmarks for {image}")
        splits.setdefault(identity, Counter())[split] += 1
        rows.append((image, identity, line, split))
    home = {i: max(("test", "train"), key=lambda s: c[s]) for i, c in splits.items()}
    moved = sum(1 for _, identity, _, split in rows if split != home[identity])
    counts: Counter = Counter()
    sources = []
    for image, identity, line, _ in rows:
        name = f"celeba{identity:05d}"
        counts[name] += 1
        sources.append(
            SourceImage(
                images_dir / image,
                name,
                counts[name],
                0,
                home[identity],
                listed_at=f"{identity_file}:{line}",
                five_points=points.get(image),
                columns={"source_image": image},
            )
        )
    notes = {"images_moved_to_identity_split": moved}
    return Listing(sources, notes=notes)
