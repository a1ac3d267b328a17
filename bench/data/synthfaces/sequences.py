"""Test sequences for the sequence protocol: one longer head-turn clip per test identity.

SynthFaces' own clips are ``clip_length`` frames (9 on the default), shorter than the 16
frames FVD's I3D clips need, and changing them would change every existing output. So the
sequences are rendered apart, into ``<dataset>/sequences/`` (nothing else is touched), by
the same generator: the test identity's own seed, :func:`~bench.data.synthfaces.sample_clip`
trajectories (a head turn across ``clip_turns.span`` degrees with probability
``clip_turns.probability``, else a random walk, as the dataset's clips), drawn from random
streams of their own (``[seed, identity, 4]`` and ``[seed, identity, 5]``), so the
dataset's images are the same with or without sequences.

The folder is a dataset directory in the data contract's shape (``index.csv``,
``landmarks.npz``, ``meta.json``, PNG crops), so :meth:`FaceData.load` reads it:
``frames/<sequence>/frame_<NNN>.png``, the exact pose, landmarks, visibility and every scene
factor of each frame; index columns ``sequence`` and ``frame`` order them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import DataError

log = logging.getLogger(__name__)

#: Where a dataset's sequences live, relative to its folder.
SEQUENCES_DIR = "sequences"


def sequence_id(number: int) -> str:
    """The name of sequence ``number``: ``seq<NNNN>`` (a folder or ``<name>.mp4`` in outputs)."""
    return f"seq{number:04d}"


def frame_name(frame: int) -> str:
    """The file of frame ``frame`` (0-based) of a sequence: ``frame_<NNN>.png``."""
    return f"frame_{frame:03d}.png"


def sequence_identities(meta: dict[str, Any], clips: int) -> list[int]:
    """The first ``clips`` test identities of a prepared SynthFaces dataset."""
    settings = meta["settings"]
    first = settings["train_identities"]
    if clips > settings["test_identities"]:
        raise DataError(
            f"protocols.sequence.clips = {clips}: the dataset has only "
            f"{settings['test_identities']} test identities (synthfaces.test_identities)"
        )
    return list(range(first, first + clips))


def sequence_scenes(settings: dict[str, Any], identity: int, frames: int) -> list[Any]:
    """The scenes of one identity's test sequence (a pure function of seed and identity)."""
    from bench.data.synthfaces import sample_clip

    turns = settings["clip_turns"]
    turn_rng = np.random.default_rng([settings["seed"], identity, 5])
    turn = tuple(turns["span"]) if turn_rng.uniform() < turns["probability"] else None
    rng = np.random.default_rng([settings["seed"], identity, 4])
    return sample_clip(rng, frames, key_every=settings["clip_key_every"], turn=turn)


def render_sequences(data_dir: Path, frames: int, clips: int) -> Path:
    """Render ``clips`` sequences of ``frames`` frames into ``<data_dir>/sequences/``."""
    from bench.data.index import INDEX_COLUMNS, read_meta, save_image
    from bench.data.prepare import expression_label, identity_name, identity_seed, scene_row
    from bench.data.registry import capabilities
    from bench.data.synthfaces import Identity, Renderer

    if frames < 2:
        raise DataError(f"protocols.sequence.frames = {frames}: a sequence needs 2 frames or more")
    data_dir = Path(data_dir)
    meta = read_meta(data_dir)
    found = capabilities(meta)
    if not found.sequences:
        raise DataError(f"{data_dir}: {found.name} has no test sequences (bench.data.registry)")
    settings = meta["settings"]
    out = data_dir / SEQUENCES_DIR
    renderer = Renderer(resolution=settings["resolution"], supersample=settings["supersample"])
    rows, points, visible = [], [], []
    for number, identity in enumerate(sequence_identities(meta, clips)):
        seed = identity_seed(settings["seed"], identity)
        person = Identity.from_seed(seed, shape_gain=settings["shape_gain"])
        name = sequence_id(number)
        for frame, scene in enumerate(sequence_scenes(settings, identity, frames)):
            render = renderer.render(person, scene)
            relative = f"frames/{name}/{frame_name(frame)}"
            save_image(out / relative, render.image)
            rows.append(
                {
                    "path": relative, "identity": identity, "clip": 0, "session": -1,
                    "split": "test", "yaw": scene.yaw, "pitch": scene.pitch,
                    "roll": scene.roll, "pose_source": "gt",
                    "expression": expression_label(scene), "light": scene.light_azimuth,
                    "sequence": name, "frame": frame, "name": identity_name(identity),
                    "identity_seed": seed, **scene_row(scene),
                }
            )  # fmt: skip
            points.append(render.landmarks)
            visible.append(render.visible)
    index = pd.DataFrame(rows)
    index = index[list(INDEX_COLUMNS) + [c for c in index.columns if c not in INDEX_COLUMNS]]
    index.to_csv(out / "index.csv", index=False)
    np.savez_compressed(
        out / "landmarks.npz",
        points=np.asarray(points, np.float32),
        visible=np.asarray(visible, bool),
        paths=index["path"].to_numpy(str),
    )
    sequence_meta = {
        "dataset": meta["dataset"],
        "resolution": meta["resolution"],
        "frames": frames,
        "clips": clips,
        "sequences": sorted(set(index["sequence"])),
        "settings": settings,
        "renderer": meta.get("renderer"),
        "has_exact_targets": found.exact_targets,
    }
    (out / "meta.json").write_text(json.dumps(sequence_meta, indent=2) + "\n")
    log.info("rendered %d sequences of %d frames into %s", clips, frames, out)
    return out / "index.csv"
