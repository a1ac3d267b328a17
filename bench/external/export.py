"""``python -m bench export <dataset> --out DIR``: a finished ``tuples`` stage as plain files.

A foreign method reads PNG files and one ``manifest.json``, never this package:

    DIR/README.txt                        what to produce, in a few lines
    DIR/manifest.json                     every file, the K values, kinds, expected outputs
    DIR/tuples/<tuple>/source_<j>.png     the K_max sources (K-shot uses source_0..K-1)
    DIR/tuples/<tuple>/<kind>_driver.png  the driver of each kind (self, cross)
    DIR/tuples/<tuple>/<kind>_driver_landmarks.png   its 68-point landmark drawing
    DIR/representation/images/<name>/<name>_<NNNN>.png   every test image (pairs.txt naming)
    DIR/representation/<pairs files>      pairs.txt (and its same-scene twin) as prepared
    DIR/sequences/<seq>/frame_<NNN>.png   where the dataset has test sequences: every frame
                                          (and landmarks_<NNN>.png; bench.external.sequences)

The drivers' landmarks, visibility, pose and expression label are in the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import DataError
from bench.external import CODES_FILE, KINDS, add_export_arguments, output_name
from bench.external.sequences import export_sequences

log = logging.getLogger(__name__)

FORMAT = "idpose-bench pose-transfer export"
FORMAT_VERSION = 1

README = """\
idpose-bench export of {dataset} ({n_tuples} pose-transfer tuples, {resolution}x{resolution} RGB).

Pose transfer. For every tuple in manifest.json, every kind in {kinds} and every K in {k}:
read the first K sources (tuples/<tuple>/source_0.png .. source_<K-1>.png) and the
driver of that kind (<kind>_driver.png; its landmarks, visibility, pose in degrees and
expression label are in manifest.json, its landmark drawing in <kind>_driver_landmarks.png),
and write ONE image of the source identity in the driver's pose and expression to
<your folder>/{example}, i.e. k<K>_<kind>/<tuple, 4 digits>.png:
8-bit RGB PNG, {resolution}x{resolution}. manifest.json lists every expected name
("outputs"). "self": the driver is another image of the source identity (its target is
the driver); "cross": the driver is another identity.

Representation (optional). Write <your folder>/{codes} with an array "paths" (the
"representation.images" entries' "path" values, i.e. images/<name>/<name>_<NNNN>.png as
named by representation/pairs.txt) and one float array [N, D] per code you have:
"identity" and/or "pose" (any other name is scored too), row i belonging to paths[i].

Then: python -m bench import {dataset} --name <your method> --outputs <your folder>
Any missing, unreadable, non-RGB or wrongly sized file is an error naming it; an
unexpected extra file is an error too (--allow-extra lists and counts it instead).
"""


SEQUENCE_README = """
Sequences (self-reenactment of whole clips). For every sequence in manifest.json
("sequences") and every K in {k}: read its first K frames (sequences/<seq>/frame_000.png ..)
as the sources and re-enact the whole sequence, driver = each of its {frames} frames in turn
(landmarks, pose and expression of each frame in manifest.json, drawings in
sequences/<seq>/landmarks_<NNN>.png). Write EITHER a frame folder
<your folder>/sequence_k<K>/<seq>/frame_000.png .. frame_{last:03d}.png (8-bit RGB PNG) OR
one video <your folder>/sequence_k<K>/<seq>.mp4 with the {frames} frames in order
({resolution}x{resolution}; a lossless codec, e.g. ffmpeg -c:v libx264rgb -qp 0, keeps the
exact frames). Example: {example}.
"""


def sequence_readme(section: dict[str, Any]) -> dict[str, Any]:
    first = section["sequences"][0]
    k = section["k"][0]
    return {
        "k": ", ".join(map(str, section["k"])),
        "frames": section["frames"],
        "last": section["frames"] - 1,
        "example": f"{first['outputs'][f'k{k}']['video']} or "
        f"{first['outputs'][f'k{k}']['frame_folder']}/frame_000.png ..",
    }


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def driver_entry(test: Any, row: int, tuple_dir: str, kind: str) -> dict[str, Any]:
    """One driver: its image and landmark drawing files, and its labels."""
    yaw, pitch, roll = (float(v) for v in test.poses[row])
    return {
        "image": f"{tuple_dir}/{kind}_driver.png",
        "landmark_image": f"{tuple_dir}/{kind}_driver_landmarks.png",
        "landmarks": np.round(test.landmarks[row].astype(np.float64), 4).tolist(),
        "visible": test.visible[row].astype(bool).tolist(),
        "pose_degrees": {"yaw": yaw, "pitch": pitch, "roll": roll},
        "pose_source": str(test.index["pose_source"].iloc[row]),
        "expression": int(test.index["expression"].iloc[row]),
        "identity": str(test.index["identity"].iloc[row]),
    }


def export_tuples(
    test: Any, tuples: pd.DataFrame, out: Path, k_values: list[int]
) -> list[dict[str, Any]]:
    """Copy each tuple's sources and drivers, draw the drivers' landmarks; manifest entries."""
    from bench.data.index import save_image

    row_of = {p: i for i, p in enumerate(test.index["path"])}
    landmark_images = test.landmark_images
    entries = []
    for record in tuples.itertuples(index=False):
        number = int(record.tuple)
        tuple_dir = f"tuples/{number:04d}"
        (out / tuple_dir).mkdir(parents=True, exist_ok=True)
        sources = []
        for j, path in enumerate(str(record.sources).split(";")):
            name = f"{tuple_dir}/source_{j}.png"
            shutil.copyfile(test.root / path, out / name)
            sources.append(name)
        drivers = {}
        for kind in KINDS:
            path = getattr(record, f"{kind}_driver")
            if path not in row_of:
                raise DataError(f"tuple {number}: {kind} driver {path} is not in the test split")
            entry = driver_entry(test, row_of[path], tuple_dir, kind)
            shutil.copyfile(test.root / path, out / entry["image"])
            save_image(out / entry["landmark_image"], landmark_images[row_of[path]])
            drivers[kind] = entry
        entries.append(
            {
                "tuple": number,
                "identity": str(record.identity),
                "sources": sources,
                "drivers": drivers,
                "outputs": {
                    f"k{k}_{kind}": output_name(kind, k, number) for kind in KINDS for k in k_values
                },
            }
        )
    return entries


def export_representation(data: Path, test: Any, out: Path) -> dict[str, Any]:
    """Every test image under its index path (``images/<name>/<name>_<NNNN>.png``, the names
    and numbers ``pairs.txt`` uses) and the pairs files, copied byte for byte."""
    from bench.data.index import read_meta
    from bench.protocols.representation import pairs_files

    images = []
    for path in test.index["path"]:
        target = out / "representation" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / path, target)
        images.append({"path": str(path), "file": f"representation/{path}"})
    pairs = []
    for pairs_file in pairs_files(data, read_meta(data)):
        if pairs_file.path is None:
            continue
        name = f"representation/{pairs_file.path.name}"
        shutil.copyfile(pairs_file.path, out / name)
        pairs.append({"kind": pairs_file.kind, "file": name})
    return {
        "images": images,
        "pairs": pairs,
        "codes_file": CODES_FILE,
        "codes_layout": (
            "'paths': the images' 'path' values; one float array [N, D] per code "
            "('identity', 'pose', ...), row i for paths[i]"
        ),
    }


def export_protocol(
    data: Path, out: Path, k_values: list[int], sequence_k: list[int] | None = None
) -> Path:
    """Write the export of a prepared dataset's tuples (and, where it has them and
    ``sequence_k`` is given, its test sequences) into ``out`` (which must be empty)."""
    from bench.data.dataset import FaceData
    from bench.data.index import read_meta
    from bench.protocols.pose_transfer import read_tuples, tuples_path

    data, out = Path(data), Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: not empty; export into a new or empty folder")
    meta = read_meta(data)
    tuples = read_tuples(data)
    k_max = len(str(tuples["sources"].iloc[0]).split(";"))
    if not k_values or max(k_values) > k_max or min(k_values) < 1:
        raise DataError(f"K values {k_values}: each must be 1..{k_max} (the tuples' sources)")
    test = FaceData.load(data, "test")
    out.mkdir(parents=True, exist_ok=True)
    entries = export_tuples(test, tuples, out, k_values)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": meta["dataset"],
        "resolution": int(meta["resolution"]),
        "k": [int(k) for k in k_values],
        "k_max": k_max,
        "kinds": list(KINDS),
        "output_format": "8-bit RGB PNG, resolution x resolution",
        "tuples_file_sha256": file_sha256(tuples_path(data)),
        "tuples": entries,
        "representation": export_representation(data, test, out),
    }
    sequences = export_sequences(data, out, sequence_k) if sequence_k else None
    if sequences is not None:
        manifest["sequences"] = sequences
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "README.txt").write_text(
        README.format(
            dataset=meta["dataset"],
            n_tuples=len(entries),
            resolution=meta["resolution"],
            kinds=", ".join(KINDS),
            k=", ".join(map(str, k_values)),
            example=output_name("cross", k_values[-1], int(tuples["tuple"].iloc[0])),
            codes=CODES_FILE,
        )
        + (
            ""
            if sequences is None
            else SEQUENCE_README.format(**sequence_readme(sequences), resolution=meta["resolution"])
        )
    )
    log.info("exported %d tuples and %d test images to %s", len(entries), len(test), out)
    return out / "manifest.json"


def default_k() -> list[int]:
    """Protocol 1's K values of the embedded default config."""
    from bench import REPO_ROOT
    from bench.config import load_config

    return list(
        load_config(REPO_ROOT / "config" / "config.yaml")["protocols"]["pose_transfer"]["k"]
    )


def default_sequence_k() -> list[int]:
    """The sequence protocol's K values of the embedded default config."""
    from bench import REPO_ROOT
    from bench.config import load_config

    return list(load_config(REPO_ROOT / "config" / "config.yaml")["protocols"]["sequence"]["k"])


def run(args: argparse.Namespace) -> None:
    data = Path(args.data or f"results/data/{args.dataset}")
    export_protocol(
        data, Path(args.out), args.k or default_k(), args.sequence_k or default_sequence_k()
    )


def main(argv: list[str] | None = None) -> int:
    from bench.external import standalone_main

    return standalone_main(
        "python -m bench.external.export", __doc__, add_export_arguments, run, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
