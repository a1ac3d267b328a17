"""Protocol 2 without the scene confound: cross-scene pairs, the scene-only row, yaw gaps,
and the verification table and figure that show them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.pairs import scene_groups_per_identity, write_scene_pairs
from bench.protocols.representation import (
    SCENE_FACTORS,
    SCENE_REFERENCE,
    pairs_files,
    scene_code,
    scene_reference_rows,
    verification_rows,
)
from bench.report.figures import accuracy_table, verification_bars, yaw_gap_table
from bench.report.tables import verification_table

IDENTITIES, CLIPS, FRAMES = 40, 3, 6
SETS, PER_SET = 10, 50


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict]:
    """A test split shaped like SynthFaces: each clip one scene (light, background fixed,
    expression drifting a little), yaw random; its pairs files and meta entry."""
    root = tmp_path_factory.mktemp("toy")
    rng = np.random.default_rng(0)
    rows = []
    for identity in range(IDENTITIES):
        name = f"id{identity:05d}"
        for clip in range(CLIPS):
            scene = rng.normal(size=len(SCENE_FACTORS))
            for frame in range(FRAMES):
                number = clip * FRAMES + frame + 1
                factors = scene + rng.normal(scale=0.05, size=scene.shape)
                rows.append(
                    {
                        "path": f"images/{name}/{name}_{number:04d}.png",
                        "identity": identity,
                        "clip": clip,
                        "name": name,
                        "number": number,
                        "yaw": rng.uniform(-90, 90),
                        "pose_source": "gt",
                        **dict(zip(SCENE_FACTORS, factors, strict=True)),
                    }
                )
    index = pd.DataFrame(rows)
    groups = scene_groups_per_identity(index["name"], index["number"], index["clip"])
    entry = write_scene_pairs(root, groups, {"sets": SETS, "per_set": PER_SET, "seed": 0})
    meta = {"dataset": "toy", "pairs": entry}
    return root, index, meta


def accuracy(rows: list[dict], code: str, distance: str, pairs: str, key: str = "accuracy"):
    metric = f"verification_{key}[{code}-code/{distance}/{pairs}]"
    (row,) = [r for r in rows if r["metric"] == metric]
    return row


def test_scene_only_code_is_chance_across_scenes_and_high_within(toy) -> None:
    root, index, meta = toy
    rows = scene_reference_rows(index, pairs_files(root, meta))
    for distance in ("cosine", "sql2"):
        cross = accuracy(rows, "scene", distance, "cross-scene")
        same = accuracy(rows, "scene", distance, "same-scene")
        assert abs(cross["value"] - 0.5) < 0.06, cross["value"]
        assert same["value"] > 0.95
        assert cross["n"] == same["n"] == SETS * 2 * PER_SET
        assert cross["protocol"] == "representation/reference"
        assert cross["higher_is_better"] is None and cross["scene_factors"] == list(SCENE_FACTORS)


def test_scene_code_is_standardised_and_na_without_factors(toy) -> None:
    _, index, _ = toy
    code = scene_code(index)
    np.testing.assert_allclose(code.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(code.std(axis=0), 1, atol=1e-12)
    reason = scene_code(index.drop(columns=["bg_r", "smile"]))
    assert isinstance(reason, str) and "bg_r, smile missing" in reason


def test_dataset_without_scene_groups_gives_unchecked_pairs_and_na_rows(toy) -> None:
    root, index, _ = toy
    pairs = pairs_files(root, {"dataset": "lfw"})
    assert [p.kind for p in pairs] == ["scene_unchecked", "same_scene"]
    assert pairs[1].path is None and "records no scene groups" in pairs[1].reason
    rows = scene_reference_rows(index.drop(columns=list(SCENE_FACTORS)), pairs)
    assert len(rows) == 4 and all(np.isnan(r["value"]) for r in rows)
    assert all("no exact scene factors" in r["na_reason"] for r in rows)
    codes = {"identity": np.random.default_rng(1).normal(size=(len(index), 4))}
    rows = verification_rows(codes, index, pairs)
    unchecked = accuracy(rows, "identity", "cosine", "scene-unchecked")
    assert np.isfinite(unchecked["value"]) and unchecked["pairs"] == "scene_unchecked"
    missing = accuracy(rows, "identity", "cosine", "same-scene")
    assert np.isnan(missing["value"]) and "no same-scene" in missing["na_reason"]


def test_yaw_gap_rows_split_the_protocol_decisions(toy) -> None:
    root, index, meta = toy
    identity = (index["identity"].to_numpy()[:, None] == np.arange(IDENTITIES)).astype(float)
    codes = {"identity": identity + np.random.default_rng(2).normal(scale=0.6, size=identity.shape)}
    rows = verification_rows(codes, index, pairs_files(root, meta))
    total = accuracy(rows, "identity", "cosine", "cross-scene")
    gaps = [
        accuracy(rows, "identity", "cosine", "cross-scene", f"accuracy_yaw_gap_{b}")
        for b in ("0_30", "30_60", "over_60")
    ]
    assert [g["yaw_gap"] for g in gaps] == ["0-30", "30-60", ">60"]
    assert sum(g["n"] for g in gaps) == total["n"]
    assert sum(g["n_matched"] for g in gaps) == total["n"] // 2
    weighted = sum(g["value"] * g["n"] for g in gaps) / total["n"]
    assert weighted == pytest.approx(total["value"], abs=1e-12)  # folds of equal size
    assert all(g["yaw_source"] == "gt" for g in gaps)


def metrics_frame(toy) -> pd.DataFrame:
    """Rows as read_metrics gives them: a method with two seeds, the scene reference."""
    root, index, meta = toy
    pairs = pairs_files(root, meta)
    identity = (index["identity"].to_numpy()[:, None] == np.arange(IDENTITIES)).astype(float)
    frames = []
    for order, (method, seed) in enumerate((("alpha", 0), ("alpha", 1), (SCENE_REFERENCE, 0))):
        if method == SCENE_REFERENCE:
            rows = scene_reference_rows(index, pairs)
        else:
            noise = np.random.default_rng(seed).normal(scale=0.7, size=identity.shape)
            pose = np.random.default_rng(10 + seed).normal(size=(len(index), 3))
            rows = verification_rows({"identity": identity + noise, "pose": pose}, index, pairs)
        frame = pd.DataFrame(json.loads(json.dumps([dict(r) for r in rows])))  # as stored
        frames.append(frame.assign(method=method, seed=seed, file_order=order))
    return pd.concat(frames, ignore_index=True)


def test_verification_table_cells(toy) -> None:
    frame = metrics_frame(toy)
    csv, display, notes = verification_table(frame)
    assert list(zip(display["code"], display["distance"], display["method"], strict=True)) == [
        ("scene", "cosine", SCENE_REFERENCE),
        ("scene", "sql2", SCENE_REFERENCE),
        ("identity", "cosine", "alpha"),
        ("identity", "sql2", "alpha"),
        ("pose", "cosine", "alpha"),
        ("pose", "sql2", "alpha"),
    ]
    rows = frame[frame["method"] == "alpha"]

    def mean(metric: str, column: str = "value") -> float:
        return rows.loc[rows["metric"] == metric, column].mean()

    cell = display.iloc[2]
    cross = "verification_accuracy[identity-code/cosine/cross-scene]"
    same = "verification_accuracy[identity-code/cosine/same-scene]"
    assert cell["cross-scene acc ± SE"] == f"{mean(cross):.3f} ± {mean(cross, 'sem'):.3f}"
    assert cell["same-scene acc ± SE"] == f"{mean(same):.3f} ± {mean(same, 'sem'):.3f}"
    auc = "verification_auc[identity-code/cosine/cross-scene]"
    assert cell["AUC"] == f"{mean(auc):.3f}"
    gap = "verification_accuracy_yaw_gap_over_60[identity-code/cosine/cross-scene]"
    assert cell["yaw gap over 60°"] == f"{mean(gap):.3f}"
    assert cell["seeds"] == "2"
    row = csv.iloc[2]
    assert row["accuracy cross_scene std over seeds"] == pytest.approx(
        rows.loc[rows["metric"] == cross, "value"].std(ddof=1)
    )
    assert row["pairs cross_scene"] == row["pairs same_scene"] == SETS * 2 * PER_SET
    scene = csv.iloc[0]
    assert scene["role"] == "scene-only reference"
    assert abs(scene["accuracy cross_scene mean"] - 0.5) < 0.06
    assert scene["accuracy same_scene mean"] > 0.95
    text = "\n".join(notes)
    assert f"cosine: cross-scene {scene['accuracy cross_scene mean']:.3f}, same-scene" in text
    n_bin = int(rows.loc[rows["metric"] == gap, "n"].iloc[0])
    assert f"over 60°: {n_bin} (" in text
    assert "0 test identities have all their images in one scene" in text


def test_verification_table_marks_missing_same_scene_pairs(toy) -> None:
    root, index, _ = toy
    rows = verification_rows(
        {"identity": np.random.default_rng(3).normal(size=(len(index), 4))},
        index,
        pairs_files(root, {"dataset": "lfw"}),
    )
    frame = pd.DataFrame(rows).assign(method="m", seed=0, file_order=0)
    _, display, notes = verification_table(frame)
    assert list(display["same-scene acc ± SE"]) == ["n/a", "n/a"]
    assert "pairs.txt (scenes unchecked) acc ± SE" in display.columns
    assert any(n.startswith("same-scene accuracy is n/a: ") for n in notes)


def test_figure_tables_and_verification_bars(toy, tmp_path: Path) -> None:
    frame = metrics_frame(toy)
    table = accuracy_table(frame)
    assert set(table["pairs"]) == {"cross_scene", "same_scene"}
    assert table["reference"].iloc[0] and table["method"].iloc[0] == SCENE_REFERENCE
    gaps = yaw_gap_table(frame)
    assert list(gaps.loc[~gaps["reference"] & (gaps["code"] == "identity"), "bin"][:3]) == [
        "0-30",
        "30-60",
        ">60",
    ]
    written = verification_bars(frame, tmp_path, "toy")
    assert [p.name for p in written] == ["toy_verification.png", "toy_verification.pdf"]
    assert all(p.stat().st_size > 10_000 for p in written)
