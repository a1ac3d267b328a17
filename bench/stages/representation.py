"""Protocol 2 stages: ``represent`` (a method's codes, verification, t-SNE, disentanglement)
and ``scene-reference`` (the exact scene factors verified as a code)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.stages.common import load_test_and_method, write_scores


def represent_arguments(parser: argparse.ArgumentParser) -> None:
    """Where ``represent``'s codes come from: a trained model, or an external method's
    ``codes.npz`` (``python -m bench import``), scored by the very same code."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="the trained model.pt whose encoder gives the codes")
    source.add_argument(
        "--external-codes",
        help="an external method's codes.npz ('paths' and one [N, D] array per code, any row "
        "order; export's README), scored without a model; needs --provenance",
    )
    parser.add_argument(
        "--provenance",
        help="with --external-codes: the run's external.json from `python -m bench import` "
        "(its external flag and outputs_sha256 go on every row)",
    )


def cmd_represent(args: argparse.Namespace) -> None:
    """Protocol 2 in one process: the codes of every test image (encoded by the trained
    model, or an external method's), their verification on pairs.txt and its same-scene
    twin, t-SNE figure, and (where the dataset has exact factors) MIG/DCI/SAP."""
    from bench.protocols.representation import encode, load_codes, save_codes

    params = json.loads(args.params)
    if args.external_codes is None:
        test, method = load_test_and_method(args, params, "identity_code", "pose_code")
        save_codes(Path(args.codes), encode(method, test), test)
        label, provenance = args.seed.label(args.method), {}
    else:
        test, label, provenance = external_codes(args, params)
    codes = load_codes(Path(args.codes), test)  # what the file holds is what gets scored
    score_codes(args, params, test, codes, label, provenance)


def external_codes(args: argparse.Namespace, params: dict[str, Any]):
    """An external run's codes checked and stored as ``save_codes`` writes a method's
    (``--codes``); the test split, the run's label and its provenance row fields."""
    from bench.data.dataset import FaceData
    from bench.external import external_label, provenance_fields
    from bench.external.import_ import read_codes
    from bench.protocols.representation import save_codes

    if args.provenance is None:
        raise BenchError(
            "--external-codes needs --provenance (the run's external.json written by "
            "`python -m bench import`)"
        )
    test = FaceData.load(Path(args.data), "test", params.get("pose_bin_width", 15))
    codes = read_codes(Path(args.external_codes), test.index["path"].to_numpy(str))
    save_codes(Path(args.codes), codes, test)
    return test, external_label(args.method), provenance_fields(args.provenance)


def score_codes(
    args: argparse.Namespace,
    params: dict[str, Any],
    test: Any,
    codes: dict[str, Any],
    label: str,
    provenance: dict[str, Any],
) -> None:
    """Protocol 2's scores of one run's codes, whichever method computed them:
    verification and probes (``--out``), disentanglement, the t-SNE figure."""
    from bench.data.index import read_meta
    from bench.protocols.representation import (
        disentanglement_scores,
        pairs_files,
        score_representation,
        tsne_figure,
    )

    meta = read_meta(Path(args.data))
    rows = score_representation(codes, test, pairs_files(args.data, meta))
    write_scores(args, args.out, rows, label, provenance)
    disentanglement = disentanglement_scores(codes, test, params["disentanglement"])
    write_scores(args, args.disentanglement, disentanglement, label, provenance)
    title = f"{label} (seed {args.seed.seed}) on {meta['dataset']} test identities"
    tsne_figure(codes, test, Path(args.figure).with_suffix(""), title)


def cmd_scene_reference(args: argparse.Namespace) -> None:
    """Protocol 2's scene-only reference row: the exact scene factors of each test image
    verified as a code on the dataset's pairs files (n/a rows where it has none)."""
    from bench.data.index import read_index, read_meta
    from bench.protocols.representation import SCENE_REFERENCE, pairs_files, scene_reference_rows

    data = Path(args.data)
    index = read_index(data)
    test = index[index["split"] == "test"].reset_index(drop=True)
    rows = scene_reference_rows(test, pairs_files(data, read_meta(data)))
    write_scores(args, args.out, rows, label=SCENE_REFERENCE)
