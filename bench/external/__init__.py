"""Score any method's outputs: export a protocol as plain files, import a folder of outputs.

``export`` writes the pose-transfer tuples (and the representation protocol's test images)
as PNG files and one ``manifest.json``; a foreign method writes one PNG per tuple, kind
and K; ``import`` validates that folder and writes the ``generated.npz`` the ``synthesize``
stage writes for a built-in method, so the very same scoring code runs on it.
"""

import argparse
from collections.abc import Callable
from pathlib import Path

#: The file a foreign method may add with its codes of every test image (protocol 2).
CODES_FILE = "codes.npz"
#: Beside ``generated.npz``: where the outputs came from (``external: true``, content hash).
PROVENANCE_FILE = "external.json"
#: Kinds of pose-transfer tuple, in the order ``generated.npz`` keys them.
KINDS = ("self", "cross")


def output_name(kind: str, k: int, tuple_id: int) -> str:
    """The file a foreign method writes for one tuple: ``k<K>_<kind>/<tuple:04d>.png``
    (the ``generated.npz`` key, then the tuple number)."""
    return f"k{k}_{kind}/{tuple_id:04d}.png"


#: ``generated.npz`` key of the tuple ids a key's images stand for, where an import with
#: ``--allow-missing`` lacks some (``tuple_k1_self``); absent: every tuple, in order.
SUBSET_PREFIX = "tuple_"


def output_positions(generated: str | Path) -> dict:
    """Per ``k<K>_<kind>`` key with missing outputs, the positions in the tuples file of the
    tuples its images stand for, ``{key: int array}`` (empty: every key has every tuple)."""
    import numpy as np

    with np.load(generated, allow_pickle=False) as arrays:
        order = {int(t): i for i, t in enumerate(arrays["tuple"])}
        return {
            name[len(SUBSET_PREFIX) :]: np.array([order[int(t)] for t in arrays[name]], int)
            for name in arrays.files
            if name.startswith(SUBSET_PREFIX)
        }


def scored_run(method: str, label: str, generated: str) -> tuple[str, dict[int, str], dict]:
    """How the score stages label a run: (method label, ``not_applicable_k``, extra row
    fields). A run imported by ``python -m bench import`` has ``external.json`` beside its
    ``generated.npz``: it is labelled ``<name> (external)``, is applicable at every K, and
    each row carries ``external: true`` and the SHA-256 of its outputs folder."""
    provenance = Path(generated).with_name(PROVENANCE_FILE)
    if not provenance.is_file():
        from bench.methods.registry import get_method

        return label, get_method(method).cls.not_applicable_k, {}
    return external_label(method), {}, provenance_fields(provenance)


def external_label(name: str) -> str:
    """An imported run's method label in every table: ``<name> (external)``."""
    return f"{name} (external)"


def provenance_fields(provenance: str | Path) -> dict:
    """What every row of an imported run carries: ``external: true`` and the SHA-256 of its
    outputs folder, read from the ``external.json`` the import wrote."""
    import json

    record = json.loads(Path(provenance).read_text())
    return {"external": True, "outputs_sha256": record["outputs_sha256"]}


def add_export_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``python -m bench export``'s arguments (here, so building the CLI imports nothing heavy)."""
    parser.add_argument("dataset", help="dataset name (its data is results/data/<dataset>)")
    parser.add_argument("--out", required=True, help="an empty or new folder")
    parser.add_argument("--data", help="the prepared dataset (default: results/data/<dataset>)")
    parser.add_argument(
        "--k",
        type=int,
        nargs="+",
        help="K values (default: protocols.pose_transfer.k of config/config.yaml)",
    )
    parser.add_argument(
        "--sequence-k",
        type=int,
        nargs="+",
        help="K values of the sequence protocol, when the dataset has sequences (default: "
        "protocols.sequence.k)",
    )
    return parser


def add_import_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``python -m bench import``'s arguments."""
    parser.add_argument("dataset", help="dataset name (its data is results/data/<dataset>)")
    parser.add_argument("--name", required=True, help="the method's name in the tables")
    parser.add_argument("--outputs", required=True, help="the folder of outputs")
    parser.add_argument("--data", help="the prepared dataset (default: results/data/<dataset>)")
    parser.add_argument(
        "--run-dir", help="where to write (default: results/runs/<dataset>/<name>/seed0)"
    )
    parser.add_argument(
        "--k", type=int, nargs="+", help="K values (default: protocols.pose_transfer.k)"
    )
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=["pose_transfer", "sequence"],
        help="what to import (default: sequence where the folder has sequence_k<K>/ folders, "
        "pose_transfer where it has k<K>_<kind>/ folders or no sequence outputs)",
    )
    parser.add_argument(
        "--sequence-k",
        type=int,
        nargs="+",
        help="K values of the sequence outputs (default: protocols.sequence.k)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="a missing output is a counted miss (the row's N is one lower and its n_missing "
        "says so) instead of an error; unreadable or wrongly sized files are still errors",
    )
    parser.add_argument(
        "--allow-extra",
        action="store_true",
        help="list and count files that are not expected outputs instead of stopping",
    )
    parser.add_argument(
        "--no-codes-copy",
        dest="copy_codes",
        action="store_false",
        help=f"check {CODES_FILE} but do not copy it into the run (the DAG's represent "
        "stage reads it from the folder and writes the run's codes itself)",
    )
    return parser


def standalone_main(
    prog: str,
    description: str | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], None],
    argv: list[str] | None,
) -> int:
    """``python -m bench.external.<module>``: parse, log to stderr, run; a ``BenchError``
    is logged and exits 2."""
    import logging

    from bench.errors import BenchError

    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(args)
    except BenchError as error:
        logging.getLogger(prog).error("%s", error)
        return 2
    return 0
