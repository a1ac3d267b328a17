"""The verification protocol of a real dataset: fixed by the config, or sized from the data.

``<dataset>.pairs.sets`` and ``.per_set`` fix it; null (the default) sizes it from the test
images, up to LFW View 2's 10 sets of 300 pairs (:func:`bench.data.pairs.largest_protocol`).
It is checked twice: on the listed test images before any image is processed (a config that
asks for more than the folder has stops at once, naming the keys), and on the accepted ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.data.pairs import largest_protocol, protocol_fits
from bench.data.real.sources import SourceImage
from bench.errors import DataError

NO_PROTOCOL = "2 sets of 1 matched and 1 mismatched pair need 4 test identities, 2 per set, each set with one of >= 2 images"


def test_counts(sources: list[SourceImage]) -> dict[str, int]:
    """Images per test identity."""
    return dict(Counter(source.name for source in sources if source.split == "test"))


def describe_pool(counts: dict[str, int]) -> str:
    """``7 identities, 5 with >= 2 images`` for an error message."""
    eligible = sum(1 for count in counts.values() if count >= 2)
    return f"{len(counts)} identities, {eligible} with >= 2 images, {sum(counts.values())} images"


def split_advice(dataset: str) -> str:
    """Which config key changes the test split's size."""
    if dataset == "folder":
        return "folder.test_identities (more test identities give more pairs)"
    return f"the split settings of {dataset}"


def choose_protocol(
    counts: dict[str, int], settings: dict[str, Any], stage: str
) -> tuple[int, int, str] | None:
    """``(sets, per_set, how)`` for these test images, None when evaluation-only has none.

    ``stage`` ("listed" or "accepted") says which images were counted, for the messages.
    """
    dataset = settings["dataset"]
    sets, per_set = settings["pairs"]["sets"], settings["pairs"]["per_set"]
    if sets and per_set:
        if protocol_fits(counts, sets, per_set):
            return sets, per_set, "set in the config"
        largest = largest_protocol(counts)
        supported = (
            f"the largest they support is {dataset}.pairs.sets: {largest[0]}, "
            f"{dataset}.pairs.per_set: {largest[1]}"
            if largest
            else f"they support none ({NO_PROTOCOL})"
        )
        raise DataError(
            f"{dataset}: the {stage} test images ({describe_pool(counts)}) cannot fill "
            f"{dataset}.pairs.sets: {sets} x {dataset}.pairs.per_set: {per_set}; {supported}. "
            f"Lower those keys, set them to null to size them from the data, or raise "
            f"{split_advice(dataset)}."
        )
    chosen = largest_protocol(counts, sets, per_set)
    if chosen is not None:
        return chosen[0], chosen[1], "sized from the data"
    if settings.get("evaluation_only"):
        return None
    raise DataError(
        f"{dataset}: the {stage} test images ({describe_pool(counts)}) support no pairs "
        f"protocol with {dataset}.pairs.sets: {sets} and {dataset}.pairs.per_set: {per_set} "
        f"({NO_PROTOCOL}); raise {split_advice(dataset)}"
        + (", or set folder.evaluation_only: true (no pairs)" if dataset == "folder" else "")
        + "."
    )
