"""``python -m bench prepare synthfaces``: render the embedded dataset into the data contract.

Writes ``results/data/synthfaces/`` with PNG crops ``images/<name>/<name>_<NNNN>.png``
(LFW's naming), ``index.csv``, ``landmarks.npz``, ``pairs.txt`` (LFW format, test
identities only) and ``meta.json``. Identities and scenes are a pure function of the
dataset seed; rendering runs in independent worker processes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.data.index import INDEX_COLUMNS, grouping_sizes, save_image, scene_groups
from bench.data.pairs import pair_image_path, scene_groups_per_identity, write_scene_pairs
from bench.data.registry import SYNTHFACES

log = logging.getLogger(__name__)

#: Expression labels of the index's ``expression`` column (0 = neutral).
EXPRESSION_LABELS = ("neutral", "mouth_open", "smile", "brow_raise", "eye_close")
EXPRESSION_THRESHOLD = 0.5
SCENE_COLUMNS = (
    "mouth_open",
    "smile",
    "brow_raise",
    "eye_close",
    "light_azimuth",
    "light_elevation",
    "ambient",
)


def identity_name(identity: int) -> str:
    return f"id{identity:05d}"


def identity_seed(dataset_seed: int, identity: int) -> int:
    """The renderer seed of identity ``identity`` in the dataset with seed ``dataset_seed``."""
    return int(np.random.SeedSequence([dataset_seed, identity]).generate_state(1)[0])


def expression_label(scene: Any) -> int:
    """The dominant expression of a scene (index into EXPRESSION_LABELS)."""
    strengths = [getattr(scene, name) for name in EXPRESSION_LABELS[1:]]
    best = int(np.argmax(strengths))
    return best + 1 if strengths[best] >= EXPRESSION_THRESHOLD else 0


def scene_row(scene: Any) -> dict[str, float]:
    """Every scene factor as index columns (exact ground truth, enough to re-render)."""
    row = {name: float(getattr(scene, name)) for name in SCENE_COLUMNS}
    row.update(bg_r=scene.background[0], bg_g=scene.background[1], bg_b=scene.background[2])
    return row


def scene_from_row(row: pd.Series) -> Any:
    """Rebuild the renderer's Scene from an index row (the inverse of :func:`scene_row`)."""
    from bench.data.synthfaces import Scene

    return Scene(
        yaw=float(row["yaw"]),
        pitch=float(row["pitch"]),
        roll=float(row["roll"]),
        background=(float(row["bg_r"]), float(row["bg_g"]), float(row["bg_b"])),
        **{name: float(row[name]) for name in SCENE_COLUMNS},
    )


def identity_scenes(settings: dict[str, Any], identity: int) -> list[tuple[int, int, Any]]:
    """Every scene of one identity as ``(clip, session, scene)``, in image-number order.

    First ``clips_per_identity`` clips of ``clip_length`` frames (videos: a smooth
    trajectory; with probability ``clip_turns.probability`` a head turn spanning
    ``clip_turns.span`` degrees of yaw), session -1; then ``sessions_per_identity``
    multi-view sessions in Multi-PIE's shape (one scene; cameras at
    ``session_views.yaws`` plus the ``session_views.pitch_views``), each its own clip
    number (``clips_per_identity + session``) so that (identity, clip) is always one
    scene. A pure function of the dataset seed and the identity.
    """
    from bench.data.synthfaces import sample_clip, sample_session

    rng = np.random.default_rng([settings["seed"], identity, 1])
    turns = settings["clip_turns"]
    turn_rng = np.random.default_rng([settings["seed"], identity, 2])
    out = []
    for clip in range(settings["clips_per_identity"]):
        turn = tuple(turns["span"]) if turn_rng.uniform() < turns["probability"] else None
        for scene in sample_clip(
            rng, settings["clip_length"], key_every=settings["clip_key_every"], turn=turn
        ):
            out.append((clip, -1, scene))
    views = settings["session_views"]
    session_rng = np.random.default_rng([settings["seed"], identity, 3])
    for session in range(settings["sessions_per_identity"]):
        scenes = sample_session(
            session_rng,
            yaws=tuple(views["yaws"]),
            pitch_views=tuple(tuple(v) for v in views["pitch_views"]),
            jitter=views["jitter"],
        )
        out += [(settings["clips_per_identity"] + session, session, scene) for scene in scenes]
    return out


def images_per_identity(settings: dict[str, Any]) -> int:
    """How many images :func:`identity_scenes` gives each identity."""
    views = settings["session_views"]
    per_session = len(views["yaws"]) + len(views["pitch_views"])
    return (
        settings["clips_per_identity"] * settings["clip_length"]
        + settings["sessions_per_identity"] * per_session
    )


@dataclass(frozen=True)
class _Job:
    out_dir: str
    identities: tuple[int, ...]
    split_of: dict[int, str]
    settings: dict[str, Any]


def _render_identities(job: _Job) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Worker: render every image of ``job.identities``; returns rows and landmarks."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from bench.data.synthfaces import Identity, Renderer

    s = job.settings
    renderer = Renderer(resolution=s["resolution"], supersample=s["supersample"])
    rows, points, visible = [], [], []
    for identity in job.identities:
        seed = identity_seed(s["seed"], identity)
        person = Identity.from_seed(seed, shape_gain=s["shape_gain"])
        name = identity_name(identity)
        for number, (clip, session, scene) in enumerate(identity_scenes(s, identity), start=1):
            render = renderer.render(person, scene)
            relative = f"images/{pair_image_path(name, number)}"
            save_image(Path(job.out_dir) / relative, render.image)
            rows.append(
                {
                    "path": relative,
                    "identity": identity,
                    "clip": clip,
                    "session": session,
                    "split": job.split_of[identity],
                    "yaw": scene.yaw,
                    "pitch": scene.pitch,
                    "roll": scene.roll,
                    "pose_source": "gt",
                    "expression": expression_label(scene),
                    "light": scene.light_azimuth,
                    "name": name,
                    "number": number,
                    "identity_seed": seed,
                    **scene_row(scene),
                }
            )
            points.append(render.landmarks)
            visible.append(render.visible)
    return rows, np.asarray(points, np.float32), np.asarray(visible, bool)


def prepare_synthfaces(out_dir: Path, settings: dict[str, Any], workers: int = 1) -> Path:
    """Render the SynthFaces dataset described by ``settings`` (the config's ``synthfaces``)."""
    out_dir = Path(out_dir)
    if (out_dir / "images").exists():  # stale crops of another configuration
        shutil.rmtree(out_dir / "images")
    out_dir.mkdir(parents=True, exist_ok=True)
    n_train, n_test = settings["train_identities"], settings["test_identities"]
    identities = list(range(n_train + n_test))
    split_of = {i: ("train" if i < n_train else "test") for i in identities}
    chunk = max(1, min(25, len(identities) // (4 * max(workers, 1)) or 1))
    jobs = [
        _Job(str(out_dir), tuple(identities[i : i + chunk]), split_of, settings)
        for i in range(0, len(identities), chunk)
    ]
    n_images = len(identities) * images_per_identity(settings)
    log.info(
        "rendering %d SynthFaces images (%d identities) with %d workers",
        n_images,
        len(identities),
        workers,
    )
    rows: list[dict] = []
    points, visible = [], []
    with tqdm(total=n_images, desc="render synthfaces", unit="img", mininterval=1.0) as bar:
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = pool.map(_render_identities, jobs)
                for job_rows, job_points, job_visible in results:
                    rows += job_rows
                    points.append(job_points)
                    visible.append(job_visible)
                    bar.update(len(job_rows))
        else:
            for job in jobs:
                job_rows, job_points, job_visible = _render_identities(job)
                rows += job_rows
                points.append(job_points)
                visible.append(job_visible)
                bar.update(len(job_rows))

    index = pd.DataFrame(rows)
    extra = [c for c in index.columns if c not in INDEX_COLUMNS]
    index = index[list(INDEX_COLUMNS) + extra]
    index.to_csv(out_dir / "index.csv", index=False)  # full precision: rows re-render exactly
    np.savez_compressed(
        out_dir / "landmarks.npz",
        points=np.concatenate(points),
        visible=np.concatenate(visible),
        paths=index["path"].to_numpy(str),
    )
    test = index[index.split == "test"]
    pairs = settings["pairs"]
    # Matched pairs never share a scene (clip or session); pairs_same_scene.txt is the twin.
    groups = scene_groups_per_identity(test["name"], test["number"], scene_groups(test))
    pairs_entry = write_scene_pairs(out_dir, groups, pairs, config_key="synthfaces.pairs")
    from bench.data import synthfaces

    meta = {
        "dataset": "synthfaces",
        "resolution": settings["resolution"],
        "settings": settings,
        "images": len(index),
        "identities": {"train": n_train, "test": n_test},
        "expression_labels": list(EXPRESSION_LABELS),
        "renderer": getattr(synthfaces, "RENDERER_VERSION", "1"),
        "has_exact_targets": SYNTHFACES.exact_targets,  # what capabilities(meta) checks
        "groupings": {
            split: grouping_sizes(index[index.split == split]) for split in ("train", "test")
        },
        "pairs": pairs_entry,
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info(
        "wrote %s (%d images, %d pairs)", out_dir, len(index), 2 * pairs["sets"] * pairs["per_set"]
    )
    return out_dir / "index.csv"


def render_cross_targets(
    dataset_dir: Path, meta: dict[str, Any], index: pd.DataFrame, tuples: pd.DataFrame
) -> list[str]:
    """Render each tuple's exact cross-identity target.

    Identity A with the cross driver's pose and expression, under the first source's
    light, ambient level and background (what a pose transfer should change is pose
    and expression only). Returns the target paths relative to ``dataset_dir``.
    """
    from bench.data.synthfaces import Identity, Renderer

    settings = meta["settings"]
    renderer = Renderer(resolution=settings["resolution"], supersample=settings["supersample"])
    by_path = index.set_index("path")
    seeds = index.groupby("identity")["identity_seed"].first()
    paths = []
    for row in tqdm(tuples.itertuples(), total=len(tuples), desc="render targets", mininterval=2.0):
        person = Identity.from_seed(int(seeds[row.identity]), shape_gain=settings["shape_gain"])
        driver = scene_from_row(by_path.loc[row.cross_driver])
        source = scene_from_row(by_path.loc[row.sources.split(";")[0]])
        scene = dataclasses.replace(
            driver,
            light_azimuth=source.light_azimuth,
            light_elevation=source.light_elevation,
            ambient=source.ambient,
            background=source.background,
        )
        relative = f"protocols/pose_transfer_targets/t{row.tuple:05d}.png"
        save_image(Path(dataset_dir) / relative, renderer.render(person, scene).image)
        paths.append(relative)
    return paths
