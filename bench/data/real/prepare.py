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
from bench.data.pairs import Pair, make_pairs, write_pairs
from bench.data.real.datasets import DATASETS, resolve_root
from bench.data.real.listing import Listing
from bench.data.real.protocol import NO_PROTOCOL, choose_protocol, describe_pool, test_counts
from bench.data.real.quality import MOSTLY_BORDER, add_run, duplicate_groups
from bench.data.real.records import open_work_dir, read_records
from bench.data.real.sources import SourceImage
from bench.data.real.worker import WorkerSettings, crop_path, init_worker, process_chunk
from bench.errors import DataError

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


#: Suffix of ``pose_source`` where the estimate was unreliable and yaw/pitch/roll are n/a.
UNRELIABLE = "-unreliable"


def contract_pose(
    estimate: list, nominal: float | None, label: list, pose_source: str
) -> dict[str, Any]:
    """The index's yaw, pitch, roll and pose_source: the dataset's labels, its nominal yaw,
    else the estimate (NaN for a flagged profile: ``pose_source`` then ends in -unreliable)."""
    if label[0] is not None:
        values = label
    elif nominal is not None:
        values = [nominal, 0.0, 0.0]
    else:
        values = list(estimate)
        if not np.isfinite(values).all():  # a flagged fit: no label, never a wrong one
            pose_source += UNRELIABLE
    pose = dict(zip(("yaw", "pitch", "roll"), map(float, values), strict=True))
    return {**pose, "pose_source": pose_source}


def index_table(sources: list[SourceImage], records: dict, pose_source: str) -> pd.DataFrame:
    """Index rows of the accepted sources: contract columns, then the dataset's own."""
    ok = [s for s in sources if records[s.key]["status"] == "ok"]
    identity_of = {name: i for i, name in enumerate(sorted({s.name for s in ok}))}
    rows = []
    for source in ok:
        record = records[source.key]
        yaw, pitch, roll = record["pose"]
        flag = record.get("pose_flag", "")
        estimate = [float("nan")] * 3 if flag else [yaw, pitch, roll]  # n/a: unreliable fit
        columns = dict(source.columns)
        nominal = columns.pop("nominal_yaw", None)
        label = [columns.pop(f"label_{angle}", None) for angle in ("yaw", "pitch", "roll")]
        if label[0] is not None:  # the dataset's own pose labels (AFLW2000-3D)
            columns.update(label_yaw=label[0], label_pitch=label[1], label_roll=label[2])
        rows.append(
            {
                "path": crop_path(source),
                "identity": identity_of[source.name],
                "clip": source.clip,
                "session": source.session,
                "split": source.split,
                **contract_pose(estimate, nominal, label, pose_source),
                "expression": columns.pop("expression", 0),
                "light": columns.pop("light", float("nan")),
                "name": source.name,
                "number": source.number,
                "source": str(source.file),
                "frame": -1 if source.frame is None else source.frame,
                "align_source": record["align_source"],
                "face_probability": record["probability"],
                "est_yaw": estimate[0],
                "est_pitch": estimate[1],
                "est_roll": estimate[2],
                "pose_flag": flag,
                "photo_roll": record.get("photo_roll", float("nan")),
                "outside_fraction": record.get("outside_fraction", float("nan")),
                **columns,
            }
        )
    if not rows:
        raise DataError("no image was accepted; see rejects.csv for the reasons")
    index = pd.DataFrame(rows)
    return index[list(INDEX_COLUMNS) + [c for c in index.columns if c not in INDEX_COLUMNS]]


def given_pairs(index: pd.DataFrame, listing: Listing, rejects: dict) -> tuple:
    """The dataset's own pairs file: every image of it must have been accepted."""
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
    return listing.pairs, n_sets, len(listing.pairs) // (2 * n_sets), listing.pairs_file


def test_pairs(index: pd.DataFrame, listing: Listing, rejects: dict, settings: dict) -> tuple:
    """``(pairs, sets, per_set, how)``: the given pairs, or pairs drawn over test identities.

    Drawn pairs use the protocol of :func:`choose_protocol` on the accepted test images;
    ``pairs`` is None for an evaluation-only folder too small for any protocol.
    """
    if listing.pairs is not None:
        return given_pairs(index, listing, rejects)
    test = index[index.split == "test"]
    numbers = {name: sorted(g["number"]) for name, g in test.groupby("name")}
    counts = {n: len(v) for n, v in numbers.items()}
    protocol = choose_protocol(counts, settings, "accepted")
    if protocol is None:
        return None, 0, 0, f"none: {describe_pool(counts)} in the test split ({NO_PROTOCOL})"
    sets, per_set, how = protocol
    try:
        drawn = make_pairs(counts, sets, per_set, settings["pairs"]["seed"])
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
    return pairs, sets, per_set, f"drawn over test identities ({how})"


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


def write_skipped(path: Path, listing: Listing) -> dict[str, int]:
    """skipped.csv: every file under the root that is neither a source nor a reject."""
    rows = [{"path": file, "reason": reason} for file, reason in listing.skipped]
    pd.DataFrame(rows, columns=["path", "reason"]).to_csv(path, index=False)
    return dict(Counter(reason for _, reason in listing.skipped).most_common())


def input_notes(sources: list[SourceImage], records: dict, index: pd.DataFrame) -> dict:
    """meta.json's duplicate photos and mostly-border crops (counted and listed, all kept)."""
    hashes = {s.origin: records[s.key]["dhash"] for s in sources if "dhash" in records[s.key]}
    duplicates = duplicate_groups(hashes)
    border = index.loc[index["outside_fraction"] > MOSTLY_BORDER, "source"].tolist()
    return {
        "duplicate_photos": {"groups": len(duplicates), "files": duplicates},
        "mostly_border_crops": {
            "threshold": MOSTLY_BORDER,
            "count": len(border),
            "sources": border,
        },
    }


def plan(dataset: str, out_dir: Path, settings: dict[str, Any]) -> tuple:
    """List the dataset and check its pairs protocol before any image is processed."""
    listing = DATASETS[dataset].loader(Path(settings["root"]), settings)
    sources = limit_sources(listing.sources, settings, keep_test=listing.pairs is not None)
    if listing.pairs is None:
        protocol = choose_protocol(test_counts(sources), settings, "listed")
        log.info("%s: pairs protocol from the listed test images: %s", dataset, protocol)
    work = open_work_dir(out_dir, {k: settings.get(k) for k in ("dataset", *CROP_KEYS)})
    todo = pending(sources, read_records(work), out_dir)
    skipped = Counter(reason for _, reason in listing.skipped)
    log.info(
        "%s: %d images listed (%d rejected while listing, %d other files skipped: %s), "
        "%d already prepared, %d to do",
        dataset,
        len(sources),
        len(listing.rejects),
        len(listing.skipped),
        dict(skipped.most_common()) or "none",
        len(sources) - len(todo),
        len(todo),
    )
    return listing, sources, work, todo


def write_outputs(out_dir: Path, listing: Listing, sources: list, records: dict, settings: dict):
    """index.csv, landmarks.npz, rejects.csv, skipped.csv and pairs.txt; the meta.json fields."""
    index = index_table(sources, records, DATASETS[settings["dataset"]].pose_source)
    index.to_csv(out_dir / "index.csv", index=False)
    accepted = [records[s.key] for s in sources if records[s.key]["status"] == "ok"]
    np.savez_compressed(
        out_dir / "landmarks.npz",
        points=np.asarray([r["landmarks"] for r in accepted], np.float32),
        visible=np.asarray([r["visible"] for r in accepted], bool),
        paths=index["path"].to_numpy(str),
    )
    rejects = write_rejects(out_dir / "rejects.csv", listing, sources, records)
    skip_reasons = write_skipped(out_dir / "skipped.csv", listing)
    pairs, n_sets, per_set, how = test_pairs(index, listing, rejects, settings)
    (out_dir / "pairs.txt").unlink(missing_ok=True)
    if pairs is not None:
        write_pairs(out_dir / "pairs.txt", pairs, n_sets, per_set)
    log.info("%s: pairs %s: %d sets of %d", settings["dataset"], how, n_sets, per_set)
    flagged = int((index["pose_flag"] != "").sum())
    if flagged:
        log.warning(
            "%s: %d face(s) flagged as profiles: the 68-point pose is unreliable there, so "
            "their est_yaw/est_pitch/est_roll are n/a (pose_flag says why), and so are "
            "yaw/pitch/roll where no dataset label replaces the estimate (pose_source "
            "<estimator>-unreliable): pose-labelled training and drivers skip those rows",
            settings["dataset"],
            flagged,
        )
    reasons = [r["reason"] for s in sources if (r := records[s.key])["status"] == "reject"]
    reasons += [reason for _, reason in listing.rejects]
    return index, {
        "pairs": how,
        "pairs_protocol": {"sets": n_sets, "per_set": per_set},
        "listed": len(sources) + len(listing.rejects),
        "rejected": len(reasons),
        "reject_reasons": reason_counts(reasons),
        "skipped": len(listing.skipped),
        "skip_reasons": skip_reasons,
        **input_notes(sources, records, index),
        "pose_flagged": int((index["pose_flag"] != "").sum()),
        "pose_unlabelled": int(index["yaw"].isna().sum()),
    }


def prepare_real(dataset: str, out_dir: Path, settings: dict[str, Any], workers: int = 1) -> Path:
    """Prepare ``dataset`` (a key of :data:`DATASETS`) into ``out_dir``; resumable."""
    began = time.perf_counter()
    spec = DATASETS[dataset]
    settings = {**settings, "dataset": dataset, "root": str(resolve_root(dataset, settings))}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    listing, sources, work, todo = plan(dataset, out_dir, settings)
    run_workers(todo, out_dir, work, settings, workers)
    records = read_records(work)
    index, counts = write_outputs(out_dir, listing, sources, records, settings)
    runs = add_run(work, time.perf_counter() - began)
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
        **counts,
        "notes": listing.notes,
        "preparation_seconds": round(sum(runs), 2),
        "preparation_runs": runs,
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info(
        "%s: %d accepted, %d rejected (%s), %d skipped (%s); wrote %s in %.1f s (%.1f s over %d "
        "runs)",
        dataset,
        len(index),
        meta["rejected"],
        meta["reject_reasons"] or "none",
        meta["skipped"],
        meta["skip_reasons"] or "none",
        out_dir,
        runs[-1],
        sum(runs),
        len(runs),
    )
    return out_dir / "index.csv"
