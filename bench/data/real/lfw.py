"""LFW: ``<root>/<name>/<name>_<NNNN>.jpg`` (original, funneled or deep-funneled) and a pairs file.

The pairs file (``pairs.txt``: 10 sets of 300 matched + 300 mismatched; or View 1's
``pairsDevTrain.txt`` / ``pairsDevTest.txt``) is used as given: the image-restricted
protocol. Its people form the test split, everyone else the train split; image numbers
are LFW's, so the prepared ``pairs.txt`` is the given file's pairs line for line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.data.pairs import Pair, PairsFormatError, pair_image_path, read_pairs
from bench.data.real.listing import Listing
from bench.data.real.sources import SourceImage, require_dir, sorted_children
from bench.errors import DataError

_FILE = re.compile(r"(?P<name>.+)_(?P<number>\d{4})\.jpg")


def find_pairs_file(root: Path, pairs_file: str) -> Path:
    """The pairs file: absolute, or relative to the LFW folder or its parent."""
    candidates = (
        [Path(pairs_file)]
        if Path(pairs_file).is_absolute()
        else [root / pairs_file, root.parent / pairs_file]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(
        f"LFW pairs file {pairs_file!r} not found (looked at {', '.join(map(str, candidates))}); "
        "set lfw.pairs_file"
    )


def read_lfw_pairs(root: Path, pairs_path: Path) -> list[Pair]:
    """Read a pairs file strictly; a pair whose image is missing from ``root`` is an error."""
    try:
        pairs = read_pairs(pairs_path)
    except PairsFormatError as error:
        raise DataError(str(error)) from error
    for pair in pairs:
        for name, number in ((pair.name1, pair.number1), (pair.name2, pair.number2)):
            image = root / pair_image_path(name, number, "jpg")
            if not image.is_file():
                raise DataError(f"{pairs_path}: line {pair.line}: image {image} is missing")
    return pairs


def list_lfw(root: Path, settings: dict[str, Any]) -> Listing:
    """Every LFW image; people of the pairs file are the test split."""
    require_dir(root, "LFW's person folders (<name>/<name>_<NNNN>.jpg)")
    pairs_path = find_pairs_file(root, settings["pairs_file"])
    pairs = read_lfw_pairs(root, pairs_path)
    test_names = {p.name1 for p in pairs} | {p.name2 for p in pairs}
    sources = []
    for folder in sorted_children(root, dirs=True):
        for file in sorted_children(folder, dirs=False):
            match = _FILE.fullmatch(file.name)
            if match is None or match["name"] != folder.name:
                if file.suffix.lower() == ".jpg":
                    raise DataError(
                        f"{file}: not LFW's layout {folder.name}/{folder.name}_<NNNN>.jpg"
                    )
                continue
            split = "test" if folder.name in test_names else "train"
            sources.append(SourceImage(file, folder.name, int(match["number"]), 0, split))
    if not sources:
        raise DataError(f"{root}: no LFW images (<name>/<name>_<NNNN>.jpg) found")
    return Listing(sources, pairs=pairs, pairs_file=str(pairs_path))
