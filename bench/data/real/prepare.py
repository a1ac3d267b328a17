"""``python -m bench.data.real prepare <dataset>``: a real dataset into the data contract.

List the dataset (its loader), align every image in worker processes (MTCNN, dlib,
solvePnP; :mod:`bench.data.real.worker`), resume from the records of an interrupted run,
then write ``index.csv``, ``landmarks.npz``, ``pairs.txt``, ``meta.json`` and
``rejects.csv`` exactly as SynthFaces does, so everything downstream is unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from bench.data.index import INDEX_COLUMNS, grouping_sizes
from bench.data.real.datasets import DATASETS, resolve_root
from bench.data.real.listing import Listing
from bench.data.real.records import open_work_dir, read_records
from bench.data.real.sources import SourceImage
from bench.data.real.worker import WorkerSettings, crop_path, init_worker, process_chunk
from bench.errors import DataError
from bench.metrics.pairs import Pair, make_pairs, write_pairs

log = logging.getLogger(__name__)

#: Settings that change a crop; any other setting (splits, limits, pairs) reuses crops.
CROP_KEYS = ("root", "resolution", "min_face_probability", "face_choice", "fallback", "align_with")
CHUNK = 8


def limit_sources(sources: list[SourceImage], settings: dict[str, Any], keep_test: bool) -> list:
    """Apply ``max_identities`` (per split) and ``max_images_per_identity`` in listing order."""
    max_ids, max_images = settings["max_identities"], settings["max_images_per_identity"]
    kept, ids, images = [], {"train": set(), "test": set()}, Counter()
    for source in sources:
        fixed = keep_test and source.split == "test"  # a given pairs file needs all its people
        new = source.name not in ids[source.split]
        if not fixed and new and max_ids is not None and len(ids[source.split]) >= max_ids:
            continue
        if not fixed and max_images is not None and images[source.name] >= max_images:
            continue
        ids[source.split].add(source.name)
        images[source.name] += 1
        kept.append(source)
    return kept


def run_workers(todo: list[SourceImage], out_dir: Path, work: Path, settings: dict, workers: int):
    """Align every pending source in ``workers`` processes (in-process for one) with a progress bar."""
    worker_settings = WorkerSettings(
        str(out_dir),
        settings["resolution"],
        settings["min_face_probability"],
        settings["face_choice"],
        settings["fallback"],
    )
    if not todo:
        return
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    bar = tqdm(total=len(todo), desc=f"prepare {settings['dataset']}", unit="img", mininterval=1.0)
    with bar:
        if workers <= 1:
            init_worker(worker_settings)
            for chunk in chunks:
                bar.update(process_chunk(chunk, str(work)))
            return
        with ProcessPoolExecutor(
            workers, initializer=init_worker, initargs=(worker_settings,)
        ) as pool:
            futures = [pool.submit(process_chunk, chunk, str(work)) for chunk in chunks]
            for future in as_completed(futures):
                bar.update(future.result())


def pending(sources: list[SourceImage], records: dict, out_dir: Path) -> list[SourceImage]:
    """Sources without a finished record (or whose record is for another origin or lost its crop)."""
    todo = []
    for source in sources:
        record = records.get(source.key)
        done = record is not None and record["origin"] == source.origin
        if done and record["status"] == "ok":
            done = (out_dir / crop_path(source)).is_file()
        if not done:
            todo.append(source)
    return todo


def index_table(sources: list[SourceImage], records: dict, pose_source: str) -> pd.DataFrame:
    """Index rows of the accepted sources: contract columns, then the dataset's own."""
    ok = [s for s in sources if records[s.key]["status"] == "ok"]
    identity_of = {name: i for i, name in enumerate(sorted({s.name for s in ok}))}
    rows = []
    for source in ok:
        record = records[source.key]
        yaw, pitch, roll = record["pose"]
        columns = dict(source.columns)
        nominal = columns.pop("nominal_yaw", None)
        rows.append(
            {
                "path": crop_path(source),
                "identity": identity_of[source.name],
                "clip": source.clip,
                "session": source.session,
                "split": source.split,
                "yaw": yaw if nominal is None else nominal,
                "pitch": pitch if nominal is None else 0.0,
                "roll": roll if nominal is None else 0.0,
                "pose_source": pose_source,
                "expression": columns.pop("expression", 0),
                "light": columns.pop("light", float("nan")),
                "name": source.name,
                "number": source.number,
                "source": str(source.file),
                "frame": -1 if source.frame is None else source.frame,
                "align_source": record["align_source"],
                "face_probability": record["probability"],
                "est_yaw": yaw,
                "est_pitch": pitch,
                "est_roll": roll,
                **columns,
            }
        )
    if not rows:
        raise DataError("no image was accepted; see rejects.csv for the reasons")
    index = pd.DataFrame(rows)
    return index[list(INDEX_COLUMNS) + [c for c in index.columns if c not in INDEX_COLUMNS]]


def test_pairs(index: pd.DataFrame, listing: Listing, rejects: dict, settings: dict) -> tuple:
    """The given pairs (every image must be accepted) or pairs drawn over test identities."""
    if listing.pairs is not None:
        accepted = set(index["path"])
        for pair in listing.pairs:
            for name, number in ((pair.name1, pair.number1), (pair.name2, pair.number2)):
                key = f"{name}/{number}"
                if f"images/{name}/{name}_{number:04d}.png" not in accepted:
                    raise DataError(
                        f"{listing.pairs_file}: line {pair.line}: image {name} {number} was "
                        f"rejected ({rejects.get(key, 'not listed')}); the pairs protocol "
                        "needs every image"
                    )
        n_sets = max(p.fold for p in listing.pairs) + 1
        return listing.pairs, n_sets, len(listing.pairs) // (2 * n_sets)
    test = index[index.split == "test"]
    numbers = {name: sorted(g["number"]) for name, g in test.groupby("name")}
    spec = settings["pairs"]
    try:
        drawn = make_pairs(
            {n: len(v) for n, v in numbers.items()}, spec["sets"], spec["per_set"], spec["seed"]
        )
    except ValueError as error:
        raise DataError(f"{settings['dataset']}.pairs: {error}") from error
    pairs = [
        Pair(
            p.name1,
            numbers[p.name1][p.number1 - 1],
            p.name2,
            numbers[p.name2][p.number2 - 1],
            p.same,
            p.fold,
            p.line,
        )
        for p in drawn
    ]
    return pairs, spec["sets"], spec["per_set"]


def write_rejects(path: Path, listing: Listing, sources: list[SourceImage], records: dict) -> dict:
    """rejects.csv: every listed item that did not become a crop, with the reason."""
    rows = [{"key": "", "origin": origin, "reason": reason} for origin, reason in listing.rejects]
    rows += [
        {"key": s.key, "origin": s.origin, "reason": records[s.key]["reason"]}
        for s in sources
        if records[s.key]["status"] == "reject"
    ]
    pd.DataFrame(rows, columns=["key", "origin", "reason"]).to_csv(path, index=False)
    return {row["key"]: row["reason"] for row in rows if row["key"]}


def reason_counts(reasons: list[str]) -> dict[str, int]:
    """Rejects grouped by the kind of reason (the text before the file name)."""
    kinds = Counter(re.split(r"[:(]", reason, maxsplit=1)[0].strip() for reason in reasons)
    return dict(kinds.most_common())


def prepare_real(dataset: str, out_dir: Path, settings: dict[str, Any], workers: int = 1) -> Path:
    """Prepare ``dataset`` (a key of :data:`DATASETS`) into ``out_dir``; resumable."""
    began = time.perf_counter()
    spec = DATASETS[dataset]
    settings = {**settings, "dataset": dataset, "root": str(resolve_root(dataset, settings))}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = spec.loader(Path(settings["root"]), settings)
    sources = limit_sources(listing.sources, settings, keep_test=listing.pairs is not None)
    work = open_work_dir(out_dir, {k: settings.get(k) for k in ("dataset", *CROP_KEYS)})
    todo = pending(sources, read_records(work), out_dir)
    log.info(
        "%s: %d images listed (%d rejected while listing), %d already prepared, %d to do, "
        "%d workers",
        dataset,
        len(sources),
        len(listing.rejects),
        len(sources) - len(todo),
        len(todo),
        workers,
    )
    run_workers(todo, out_dir, work, settings, workers)
    records = read_records(work)
    index = index_table(sources, records, spec.pose_source)
    index.to_csv(out_dir / "index.csv", index=False)
    accepted = [records[s.key] for s in sources if records[s.key]["status"] == "ok"]
    np.savez_compressed(
        out_dir / "landmarks.npz",
        points=np.asarray([r["landmarks"] for r in accepted], np.float32),
        visible=np.asarray([r["visible"] for r in accepted], bool),
        paths=index["path"].to_numpy(str),
    )
    rejects = write_rejects(out_dir / "rejects.csv", listing, sources, records)
    pairs, n_sets, per_set = test_pairs(index, listing, rejects, settings)
    write_pairs(out_dir / "pairs.txt", pairs, n_sets, per_set)
    reasons = [r["reason"] for r in records.values() if r["status"] == "reject"]
    reasons += [reason for _, reason in listing.rejects]
    seconds = time.perf_counter() - began
    meta = {
        "dataset": dataset,
        "resolution": settings["resolution"],
        "settings": settings,
        "images": len(index),
        "identities": {
            s: int(index.loc[index.split == s, "name"].nunique()) for s in ("train", "test")
        },
        "expression_labels": listing.notes.get("expression_labels", ["unlabelled"]),
        "pose_source": spec.pose_source,
        "has_exact_targets": False,
        "groupings": {
            split: grouping_sizes(index[index.split == split]) for split in ("train", "test")
        },
        "pairs": listing.pairs_file or "drawn over test identities (pairs settings)",
        "listed": len(sources) + len(listing.rejects),
        "rejected": len(reasons),
        "reject_reasons": reason_counts(reasons),
        "notes": listing.notes,
        "preparation_seconds": round(seconds, 2),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info(
        "%s: %d accepted, %d rejected (%s); wrote %s in %.1f s",
        dataset,
        len(index),
        len(reasons),
        meta["reject_reasons"] or "none",
        out_dir,
        seconds,
    )
    return out_dir / "index.csv"
