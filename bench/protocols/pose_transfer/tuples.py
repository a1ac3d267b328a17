"""Protocol 1's test tuples: draw them, write and read ``protocols/pose_transfer.csv``,
and resolve their images through the test split (:func:`resolve_tuples`).

A tuple is K_max source images of a test identity A, a *self* driver (another image
of A from the first source's clip; target = that image) and a *cross* driver (an
image of another test identity B). The cross target is A rendered with B's pose and
expression under the first source's light and background (exact on SynthFaces):
pose transfer moves pose and expression, nothing else.
Tuples are nested across K: the K=1 sources are the first of the K=8 sources, so a
K-shot curve compares like with like.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.data.dataset import FaceData, to_float_images
from bench.data.index import load_images, pose_labelled, read_meta
from bench.errors import DataError

log = logging.getLogger(__name__)

KINDS = ("self", "cross")
PROTOCOL = "pose_transfer"


def tuples_path(dataset_dir: Path) -> Path:
    return Path(dataset_dir) / "protocols" / f"{PROTOCOL}.csv"


def _check_sources(sources: str) -> None:
    if sources not in ("clip", "identity", "session"):
        raise DataError(
            f"protocols.pose_transfer.sources: {sources!r} is not 'clip', 'identity' or 'session'"
        )


def make_tuples(
    test_index: pd.DataFrame, k_max: int, n_tuples: int, seed: int, sources: str = "clip"
) -> pd.DataFrame:
    """Draw ``n_tuples`` test tuples (a pure function of the index, ``seed`` and ``sources``).

    The first source and the self driver come from one clip (one video: same
    background and light). ``sources="clip"`` draws the other K_max - 1 sources from
    that clip too, as the K-shot papers test (CainGAN and FSHM: K frames of one test
    video); ``"identity"`` draws them from any other images of A (other clips,
    other scenes); ``"session"`` takes the first source, the self driver and the other
    sources from one multi-view session (Multi-PIE) instead of a video clip. Images of
    multi-view sessions (index column ``session >= 0``) are never video clips. Datasets
    without videos (LFW, CelebA) have one clip per person, so clip and identity are the
    same there. Cross drivers are any image of another test identity. Drivers (self and
    cross) have a pose label: rows with NaN yaw/pitch/roll (real profiles the 68-point fit
    flags) are sources only, counted in ``attrs["unlabelled_test_images"]``.
    """
    _check_sources(sources)
    rng = np.random.default_rng(seed)
    labelled = pose_labelled(test_index)
    test_index = test_index.assign(_labelled=labelled)
    groups = {i: g for i, g in test_index.groupby("identity", sort=True)}
    in_sessions = test_index["session"] >= 0
    recordings = test_index[in_sessions if sources == "session" else ~in_sessions]
    recordings_of = {i: g for i, g in recordings.groupby("identity", sort=True)}
    clip_size = 2 if sources == "identity" else k_max + 1

    def usable_clips(recorded: pd.DataFrame) -> np.ndarray:
        """Clips with ``clip_size`` images, one of them with a pose label (the self driver)."""
        by_clip = recorded.groupby("clip")
        usable = (by_clip.size() >= clip_size) & by_clip["_labelled"].any()
        return usable.index[usable].to_numpy()

    eligible = [
        i
        for i, g in groups.items()
        if len(g) >= k_max + 1 and i in recordings_of and len(usable_clips(recordings_of[i]))
    ]
    drivable = [i for i, g in groups.items() if g["_labelled"].any()]
    if len(eligible) < 2 or len(drivable) < 2:
        kind = "multi-view session" if sources == "session" else "video clip"
        raise DataError(
            f"pose_transfer needs at least 2 test identities with {k_max + 1} images "
            f"(K={k_max} sources + a driver) and a {kind} of {clip_size} images "
            f"(protocols.pose_transfer.sources: {sources}) holding a pose-labelled driver; "
            f"found {len(eligible)} ({int((~labelled).sum())} test images have no pose label)"
        )
    rows = []
    for number in range(n_tuples):
        a = eligible[rng.integers(len(eligible))]
        images, recorded = groups[a], recordings_of[a]
        clip = rng.choice(usable_clips(recorded))
        in_clip = recorded["clip"] == clip
        if labelled.all():  # the draw of every fully labelled dataset, unchanged
            first, driver = rng.choice(recorded.loc[in_clip, "path"].to_numpy(), 2, replace=False)
        else:  # drivers only where the pose is known: pose error and pose-driven methods
            driver = rng.choice(recorded.loc[in_clip & recorded["_labelled"], "path"].to_numpy())
            others_in_clip = recorded.loc[in_clip & (recorded["path"] != driver), "path"]
            first = rng.choice(others_in_clip.to_numpy())
        pool = images if sources == "identity" else recorded[in_clip]
        rest = pool.loc[~pool["path"].isin([first, driver]), "path"].to_numpy()
        sources_of_a = [first, *rng.choice(rest, size=k_max - 1, replace=False)]
        others = [i for i in drivable if i != a]
        b = others[rng.integers(len(others))]
        cross = groups[b]
        rows.append(
            {
                "tuple": number,
                "identity": a,
                "sources": ";".join(sources_of_a),
                "self_driver": driver,
                "cross_identity": b,
                "cross_driver": rng.choice(cross.loc[cross["_labelled"], "path"].to_numpy()),
            }
        )
    tuples = pd.DataFrame(rows)
    tuples.attrs["unlabelled_test_images"] = int((~labelled).sum())
    return tuples


def write_tuples(dataset_dir: Path, settings: dict[str, Any]) -> Path:
    """Write the tuple table and, where the dataset can render them, the exact cross targets."""
    from bench.data.index import read_index

    dataset_dir = Path(dataset_dir)
    meta = read_meta(dataset_dir)
    index = read_index(dataset_dir)
    test = index[index.split == "test"]
    tuples = make_tuples(
        test,
        max(settings["k"]),
        settings["tuples"],
        settings["seed"],
        settings.get("sources", "clip"),
    )
    from bench.data.registry import capabilities

    if capabilities(meta).exact_targets:
        from bench.data.prepare import render_cross_targets

        tuples["cross_target"] = render_cross_targets(dataset_dir, meta, index, tuples)
    else:
        tuples["cross_target"] = ""
    path = tuples_path(dataset_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tuples.to_csv(path, index=False)
    unlabelled = tuples.attrs["unlabelled_test_images"]
    summary = {
        "tuples": len(tuples),
        "test_images": len(test),
        "unlabelled_test_images": unlabelled,
        "drivers": "images with a pose label only" if unlabelled else "any test image",
    }
    path.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    if unlabelled:
        log.warning(
            "%s: %d of %d test images have no pose label (yaw/pitch/roll n/a): never drawn "
            "as drivers, only as sources (%s)",
            path, unlabelled, len(test), path.with_suffix(".json"),
        )  # fmt: skip
    return path


def read_tuples(dataset_dir: Path) -> pd.DataFrame:
    path = tuples_path(dataset_dir)
    required = ["tuple", "identity", "sources", "self_driver", "cross_driver", "cross_target"]
    try:
        tuples = pd.read_csv(path, keep_default_na=False)
    except FileNotFoundError as error:
        raise DataError(f"{path}: missing; run `python -m bench tuples` first") from error
    missing = [c for c in required if c not in tuples.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return tuples


@dataclass
class TupleImages:
    """The images of every tuple as float tensors, resolved through the test split."""

    sources: torch.Tensor  # [N, K_max, 3, H, W]
    drivers: dict[str, np.ndarray]  # kind -> test-split row per tuple
    targets: dict[str, torch.Tensor | None]  # kind -> [N, 3, H, W] or None


def resolve_tuples(test: FaceData, tuples: pd.DataFrame) -> TupleImages:
    row_of = {p: i for i, p in enumerate(test.index["path"])}

    def rows(paths: list[str], column: str) -> np.ndarray:
        missing = [p for p in paths if p not in row_of]
        if missing:
            raise DataError(
                f"{tuples_path(test.root)}: {column} image {missing[0]} is not in the test split"
            )
        return np.array([row_of[p] for p in paths])

    source_rows = np.stack([rows(s.split(";"), "sources") for s in tuples["sources"]])
    images = to_float_images(test.images)
    drivers = {
        "self": rows(list(tuples["self_driver"]), "self_driver"),
        "cross": rows(list(tuples["cross_driver"]), "cross_driver"),
    }
    targets: dict[str, torch.Tensor | None] = {"self": images[drivers["self"]], "cross": None}
    if (tuples["cross_target"] != "").all():
        paths = [test.root / p for p in tuples["cross_target"]]
        targets["cross"] = to_float_images(load_images(paths, test.resolution))
    return TupleImages(images[torch.from_numpy(source_rows)], drivers, targets)
