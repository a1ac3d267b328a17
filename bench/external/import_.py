"""``python -m bench import <dataset> --name NAME --outputs DIR``: a foreign method's outputs
as the ``generated.npz`` the ``synthesize`` stage writes, so the same scoring code runs.

The folder holds ``k<K>_<kind>/<tuple:04d>.png`` for every tuple of the dataset's tuples
file, kind and K (what ``export`` lists in its manifest) and optionally ``codes.npz``.
Every problem is found before anything is written, and reported together, one line per
file: a missing, unreadable, non-RGB or wrongly sized image, and any file not expected.
Sequence outputs (``sequence_k<K>/<seq>/`` frame folders or ``sequence_k<K>/<seq>.mp4``
videos, :mod:`bench.external.sequences`) go to the run's ``sequence/generated.npz``.
Beside ``generated.npz`` goes ``external.json``: ``external: true`` and a SHA-256 of the
folder's content, which the score stages copy into every ``metrics.json`` row.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from bench.errors import DataError
from bench.external import (
    CODES_FILE,
    KINDS,
    PROVENANCE_FILE,
    SUBSET_PREFIX,
    add_import_arguments,
    output_name,
)

log = logging.getLogger(__name__)


def folder_sha256(folder: Path) -> str:
    """SHA-256 over the folder's files in sorted relative-path order: for each file its
    POSIX relative path, a NUL byte, its size as 8 little-endian bytes, then its bytes."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
        if not path.is_file():
            continue
        content = path.read_bytes()
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(len(content).to_bytes(8, "little"))
        digest.update(content)
    return digest.hexdigest()


def read_output(path: Path, resolution: int) -> tuple[np.ndarray | None, str | None]:
    """One output image as uint8 ``[H, W, 3]``, or why it cannot be used."""
    if not path.is_file():
        return None, "missing"
    try:
        with Image.open(path) as image:
            image.load()
            mode, size = image.mode, image.size
            array = np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return None, f"unreadable ({error})"
    if mode != "RGB":
        return None, f"mode {mode}, expected 8-bit RGB"
    if size != (resolution, resolution):
        return None, f"size {size[0]}x{size[1]}, expected {resolution}x{resolution}"
    return array, None


@dataclass
class ImportReport:
    """What validation found: images per ``generated.npz`` key, and every problem."""

    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    #: With ``allow_missing``: the missing files, and per key the tuple ids it has images of
    #: (only keys with a miss).
    missing: list[str] = field(default_factory=list)
    present: dict[str, np.ndarray] = field(default_factory=dict)


def expected_names(tuples: pd.DataFrame, k_values: list[int]) -> dict[str, list[str]]:
    """``{"k<K>_<kind>": [file per tuple, in the tuples file's order]}``."""
    return {
        f"k{k}_{kind}": [output_name(kind, k, int(t)) for t in tuples["tuple"]]
        for kind in KINDS
        for k in k_values
    }


def validate_folder(
    folder: Path,
    tuples: pd.DataFrame,
    k_values: list[int],
    resolution: int,
    allow_missing: bool = False,
) -> ImportReport:
    """Read every expected image and list every file that is not expected; with
    ``allow_missing`` a missing image is counted (``missing``, ``present``), not a problem."""
    folder = Path(folder)
    report = ImportReport()
    if not folder.is_dir():
        report.problems.append(f"{folder}: not a folder")
        return report
    expected = expected_names(tuples, k_values)
    wanted = {name for names in expected.values() for name in names} | {CODES_FILE}
    for key, names in expected.items():
        images, present = [], []
        for tuple_id, name in zip(tuples["tuple"], names, strict=True):
            array, problem = read_output(folder / name, resolution)
            if problem == "missing" and allow_missing:
                report.missing.append(name)
                continue
            if problem is not None:
                report.problems.append(f"{folder / name}: {problem}")
            images.append(array)
            present.append(int(tuple_id))
        if not images:
            report.problems.append(f"{folder / key}: no output at all for {key}")
        elif all(image is not None for image in images):
            report.outputs[key] = np.stack(images)
            if len(present) < len(names):
                report.present[key] = np.asarray(present)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and relative not in wanted:
            report.extra.append(relative)
    return report


def read_codes(path: Path, test_paths: np.ndarray) -> dict[str, np.ndarray]:
    """An external ``codes.npz`` in the test split's index order: ``paths`` must name every
    test image once; each code is a finite float array with one row per path."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: unreadable as .npz ({error})") from error
    if "paths" not in arrays:
        raise DataError(f"{path}: no 'paths' array (the test images' paths, one per row)")
    paths = arrays.pop("paths").astype(str)
    if len(set(paths)) != len(paths) or set(paths) != set(test_paths):
        missing = sorted(set(test_paths) - set(paths))[:3]
        unknown = sorted(set(paths) - set(test_paths))[:3]
        raise DataError(
            f"{path}: 'paths' must list each of the {len(test_paths)} test images once "
            f"(missing e.g. {missing}, unknown e.g. {unknown}, {len(paths) - len(set(paths))} "
            "repeated)"
        )
    if not arrays:
        raise DataError(f"{path}: no code arrays beside 'paths' (e.g. 'identity', 'pose')")
    position = {p: i for i, p in enumerate(paths)}
    order = np.array([position[p] for p in test_paths])
    codes = {}
    for name, code in arrays.items():
        if code.ndim != 2 or len(code) != len(paths) or not np.issubdtype(code.dtype, np.number):
            raise DataError(f"{path}: code {name!r} has shape {code.shape}, expected [N, D]")
        if not np.isfinite(code).all():
            raise DataError(f"{path}: code {name!r} has non-finite values")
        codes[name] = code[order].astype(np.float64)
    return codes


def detect_protocols(folder: Path) -> tuple[str, ...]:
    """The protocols an outputs folder holds: ``sequence`` where it has a ``sequence_k<K>``
    folder, ``pose_transfer`` where it has a ``k<K>_<kind>`` folder or no sequence outputs."""
    from bench.external.sequences import is_sequence_path

    names = [p.name for p in Path(folder).iterdir()] if Path(folder).is_dir() else []
    sequence = any(is_sequence_path(n) for n in names)
    pose = any(re.fullmatch(r"k\d+_(self|cross)", n) for n in names) or not sequence
    return (("pose_transfer",) if pose else ()) + (("sequence",) if sequence else ())


def holds_pose_transfer(folder: Path) -> bool:
    """Whether an outputs folder holds pose-transfer outputs (the DAG's import_outputs)."""
    return "pose_transfer" in detect_protocols(folder)


def holds_sequences(folder: Path) -> bool:
    """Whether an outputs folder holds sequence outputs (import_sequence_outputs)."""
    return "sequence" in detect_protocols(folder)


def import_outputs(
    data: Path,
    folder: Path,
    name: str,
    k_values: list[int],
    run_dir: Path,
    allow_extra: bool = False,
    allow_missing: bool = False,
    copy_codes: bool = True,
    sequence_k: list[int] | None = None,
) -> dict[str, Any]:
    """Validate ``folder`` and write ``<run_dir>/pose_transfer/generated.npz`` (synthesize's
    format) and ``external.json``; ``codes.npz``, if present, is checked and (with
    ``copy_codes``) written to ``representation/`` in ``save_codes``' format.

    ``sequence_k``: also (with ``k_values`` empty: only) the sequence outputs at these K,
    written to ``<run_dir>/sequence/``; all problems are reported before any writing."""
    from bench.data.index import read_index, read_meta
    from bench.external.sequences import is_sequence_path
    from bench.protocols.pose_transfer import read_tuples, save_generated, tuples_path

    data, folder, run_dir = Path(data), Path(folder), Path(run_dir)
    meta = read_meta(data)
    tuples = read_tuples(data) if k_values else pd.DataFrame({"tuple": []})  # sequences only
    report = validate_folder(folder, tuples, k_values, int(meta["resolution"]), allow_missing)
    report.extra = [e for e in report.extra if not is_sequence_path(e)]
    problems = list(report.problems) if k_values else []
    sequences = _validate_sequences(data, folder, sequence_k, allow_missing, problems)
    if not k_values:
        report.extra = []
    extra = report.extra + (sequences[0].extra if sequences else [])
    if extra and not allow_extra:
        problems += [f"{folder / e}: not an expected output (--allow-extra)" for e in extra]
    codes = None
    if (folder / CODES_FILE).is_file():
        index = read_index(data)
        test_paths = index.loc[index["split"] == "test", "path"].to_numpy(str)
        try:
            codes = read_codes(folder / CODES_FILE, test_paths)
        except DataError as error:
            problems.append(str(error))
    if problems:
        raise DataError(
            f"{folder}: {len(problems)} problem(s), nothing imported:\n  " + "\n  ".join(problems)
        )
    tuples_sha256 = hashlib.sha256(tuples_path(data).read_bytes()).hexdigest() if k_values else None
    provenance = {
        "external": True,
        "method": name,
        "outputs_folder": str(folder.resolve()),
        "outputs_sha256": folder_sha256(folder),
        "outputs_files": sum(len(v) for v in report.outputs.values()),
        "extra_files": report.extra,
        "missing_outputs": report.missing,
        "codes": sorted(codes) if codes else [],
        "tuples_file_sha256": tuples_sha256,
    }
    if sequences:
        from bench.external.sequences import write_sequence_run

        write_sequence_run(run_dir, sequences[0], sequences[1].ids, sequence_k, provenance)
    if not k_values:
        return provenance
    out = run_dir / "pose_transfer"
    subsets = {f"{SUBSET_PREFIX}{key}": ids for key, ids in report.present.items()}
    save_generated(out / "generated.npz", {**report.outputs, **subsets}, tuples, k_values)
    if codes and copy_codes:
        from bench.protocols.results import save_arrays

        save_arrays(run_dir / "representation" / "codes.npz", paths=test_paths, **codes)
    (out / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    log.info(
        "imported %d outputs of %s (sha256 %s) into %s",
        provenance["outputs_files"],
        name,
        provenance["outputs_sha256"][:12],
        out,
    )
    return provenance


def _validate_sequences(
    data: Path, folder: Path, sequence_k: list[int] | None, allow_missing: bool, problems: list
) -> tuple[Any, Any] | None:
    """(report, sequences) of the sequence outputs when ``sequence_k`` asks for them; their
    problems join ``problems``."""
    if not sequence_k:
        return None
    from bench.external.sequences import import_sequences

    report, sequences = import_sequences(data, folder, sequence_k, allow_missing)
    problems += report.problems
    return report, sequences


def run(args: argparse.Namespace) -> None:
    from bench.external.export import default_k, default_sequence_k

    if not re.fullmatch(r"[a-z0-9_]+", args.name):
        raise DataError(f"--name {args.name!r}: use lower-case letters, digits and _ only")
    from bench.methods.registry import method_registry

    if args.name in method_registry():
        raise DataError(f"--name {args.name!r} is a built-in method (methods/{args.name}/)")
    protocols = args.protocols or detect_protocols(Path(args.outputs))
    import_outputs(
        Path(args.data or f"results/data/{args.dataset}"),
        Path(args.outputs),
        args.name,
        (args.k or default_k()) if "pose_transfer" in protocols else [],
        Path(args.run_dir or f"results/runs/{args.dataset}/{args.name}/seed0"),
        args.allow_extra,
        args.allow_missing,
        args.copy_codes,
        (args.sequence_k or default_sequence_k()) if "sequence" in protocols else None,
    )


def main(argv: list[str] | None = None) -> int:
    from bench.external import standalone_main

    return standalone_main(
        "python -m bench.external.import_", __doc__, add_import_arguments, run, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
