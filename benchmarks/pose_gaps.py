"""Pose gaps of SynthFaces' training groupings and test tuples (issue 18's distributions).

What a method can learn about pose change is bounded by how far apart in pose the images
of its training items are. For a prepared dataset this prints, in degrees of yaw (and the
mean absolute pitch and roll gap):

- ``within-clip``: two distinct frames of one video clip (what clip-pair methods train on);
- ``clip ends``: the first and last frame of each clip;
- ``within-session``: two distinct views of one multi-view session;
- ``nearest source, K``: for K-shot training items (K sources + 1 target drawn from one
  clip, as ``Sampling(group="clip", frames=K + 1)`` draws them), the target's yaw gap to
  the nearest source;
- ``test cross K=1`` / ``test self K=1``: first source vs driver of the pose-transfer tuples,
  and the nearest of the K = 8 sources to the driver, when ``protocols/pose_transfer.csv``
  exists.

Usage: ``python benchmarks/pose_gaps.py results/data/synthfaces [--draws 20000]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bench.data.index import group_rows, read_index


def _summary(name: str, gaps: np.ndarray) -> dict:
    gaps = np.abs(np.asarray(gaps, np.float64))
    return {
        "what": name,
        "n": len(gaps),
        "mean": gaps.mean() if len(gaps) else np.nan,
        "median": np.median(gaps) if len(gaps) else np.nan,
        "share >= 30": (gaps >= 30).mean() if len(gaps) else np.nan,
        "share >= 60": (gaps >= 60).mean() if len(gaps) else np.nan,
    }


def pair_gaps(index: pd.DataFrame, group: str, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Yaw gaps of ``draws`` random pairs of distinct images of one group."""
    groups = [g for g in group_rows(index, group) if len(g) >= 2]
    if not groups:
        return np.zeros(0)
    yaw = index["yaw"].to_numpy(np.float64)
    chosen = rng.integers(0, len(groups), draws)
    pairs = np.array([rng.choice(groups[g], 2, replace=False) for g in chosen])
    return yaw[pairs[:, 0]] - yaw[pairs[:, 1]]


def nearest_source_gaps(
    index: pd.DataFrame, k: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Yaw gap from the target to its nearest source over K-shot training items of one clip."""
    groups = [g for g in group_rows(index, "clip") if len(g) >= k + 1]
    if not groups:
        return np.zeros(0)
    yaw = index["yaw"].to_numpy(np.float64)
    chosen = rng.integers(0, len(groups), draws)
    out = np.empty(draws)
    for i, g in enumerate(chosen):
        rows = rng.choice(groups[g], k + 1, replace=False)
        out[i] = np.abs(yaw[rows[:k]] - yaw[rows[k]]).min()
    return out


def clip_end_gaps(index: pd.DataFrame) -> np.ndarray:
    yaw = index["yaw"].to_numpy(np.float64)
    return np.array([yaw[g[-1]] - yaw[g[0]] for g in group_rows(index, "clip") if len(g) >= 2])


def tuple_gaps(dataset: Path, index: pd.DataFrame) -> list[dict]:
    path = dataset / "protocols" / "pose_transfer.csv"
    if not path.is_file():
        return []
    tuples = pd.read_csv(path)
    yaw = index.set_index("path")["yaw"]
    sources = tuples["sources"].str.split(";")
    first = yaw.loc[sources.str[0]].to_numpy()
    rows = []
    for kind in ("self", "cross"):
        driver = yaw.loc[tuples[f"{kind}_driver"]].to_numpy()
        rows.append(_summary(f"test {kind} K=1: source vs driver", first - driver))
        nearest = [
            np.abs(yaw.loc[s].to_numpy() - d).min() for s, d in zip(sources, driver, strict=True)
        ]
        rows.append(_summary(f"test {kind} K={len(sources.iloc[0])}: nearest source", nearest))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--draws", type=int, default=20000)
    parser.add_argument("--split", default="train")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 8])
    args = parser.parse_args()
    full = read_index(args.dataset)
    index = full[full.split == args.split].reset_index(drop=True)
    rng = np.random.default_rng(0)
    rows = [
        _summary("within-clip pair", pair_gaps(index, "clip", args.draws, rng)),
        _summary("clip ends", clip_end_gaps(index)),
        _summary("within-session pair", pair_gaps(index, "session", args.draws, rng)),
        _summary("within-identity pair", pair_gaps(index, "identity", args.draws, rng)),
    ]
    rows += [
        _summary(
            f"K={k} training item: nearest source", nearest_source_gaps(index, k, args.draws, rng)
        )
        for k in args.k
    ]
    rows += tuple_gaps(args.dataset, full)
    table = pd.DataFrame(rows)
    print(f"yaw gaps (degrees) of {args.dataset} ({args.split} split; tuples: test split)")
    print(table.to_markdown(index=False, floatfmt=".2f"))


if __name__ == "__main__":
    main()
