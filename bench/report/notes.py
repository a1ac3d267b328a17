"""Footnotes the tables share: what the following columns mean, each evaluator's measured
quality, and one line per reason a cell is ``n/a`` (nothing missing goes unexplained)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def following_notes(frame: pd.DataFrame) -> list[str]:
    """What the yaw slope and r columns are, and what the oracle reads from exact images."""
    rows = frame[frame["metric"].astype(str).str.startswith("yaw_follow_slope[")]
    if rows.empty:
        return []
    metric = rows["metric"].iloc[0]
    evaluator = metric[len("yaw_follow_slope") :]
    note = (
        f"yaw slope / yaw r {evaluator} (cross rows only; pitch in the CSV): the least-squares "
        f"line of the {evaluator.strip('[]')} yaw of each output on its driver's yaw over the N "
        "tuples, and Pearson r; slope and r 1 = the head turns with the driver, 0 = it ignores "
        "it (a copy of the source); the slope is best at 1 (no arrow: above 1 overshoots). "
        "r says how consistently the yaw moves with the driver's, the slope how far: an "
        "output whose yaw barely moves can still have a high r, so read r beside the slope. "
        "Self rows: — (a self driver shares the sources' clip, so a copy of a source would "
        "score above 0)."
    )
    floors = [f for f in rows["evaluator_floor"] if isinstance(f, dict) and "follow_slope" in f]
    if floors:
        floor = floors[0]
        note += (
            f" Read by the same oracle, the {floor['reference']} give slope "
            f"{floor['follow_slope']:.2f}, r {floor['follow_r']:.2f}: what an exact output scores."
        )
    return [note]


def na_notes(frame: pd.DataFrame) -> list[str]:
    """One note per (metric, reason) of ``n/a`` cells, naming the methods unless it is all."""
    if "na_reason" not in frame.columns:
        return []
    notes = []
    missing = frame.dropna(subset=["na_reason"])
    for (metric, reason), group in missing.groupby(["metric", "na_reason"], sort=True):
        methods = list(dict.fromkeys(group["method"]))
        everyone = set(methods) >= set(frame.loc[frame["metric"] == metric, "method"])
        who = "" if everyone else f" for {', '.join(methods)}"
        notes.append(f"{metric} is n/a{who}: {reason}")
    return notes


def _floor_facts(floor_of: dict[str, dict], evaluator: str, fact: str) -> dict[str, Any]:
    """``fact`` of each of ``evaluator``'s metrics whose floor states it, by metric name."""
    return {m: f[fact] for m, f in floor_of.items() if f"[{evaluator}]" in m and fact in f}


def evaluator_notes(frame: pd.DataFrame) -> list[str]:
    """One footnote per evaluator with its own measured quality (from the metrics' floors)."""
    floor_of = {
        row.metric: row.evaluator_floor
        for row in frame.dropna(subset=["evaluator_floor"]).drop_duplicates("metric").itertuples()
    }
    notes = []
    for evaluator in sorted({m.split("[")[1].rstrip("]") for m in floor_of}):
        facts = []
        accuracy = list(_floor_facts(floor_of, evaluator, "verification_accuracy").values())
        if accuracy:
            facts.append(f"identity verification accuracy {accuracy[0]:.3f} on the test pairs")
        angles = {
            m.split("[")[0].removeprefix("pose_error").lstrip("_") or "mean": value
            for m, value in _floor_facts(floor_of, evaluator, "pose_mae_degrees").items()
        }
        if "mean" in angles:
            per_angle = ", ".join(
                f"{a} {angles[a]:.2f}" for a in ("yaw", "pitch", "roll") if a in angles
            )
            facts.append(
                f"pose MAE {angles['mean']:.2f}° ({per_angle}) on real test renders, the floor of pose error"
            )
        found = list(_floor_facts(floor_of, evaluator, "driver_face_found").values())
        if found:
            facts.append(f"finds a face in {found[0]:.0%} of the real drivers")
        if not facts:
            continue
        notes.append(f"Evaluator {evaluator}: {'; '.join(facts)} (held-out identities).")
    return notes
