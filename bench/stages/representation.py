"""Protocol 2 stages: ``represent`` (a method's codes, verification, t-SNE, disentanglement)
and ``scene-reference`` (the exact scene factors verified as a code)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.stages.common import load_test_and_method, write_scores


def cmd_represent(args: argparse.Namespace) -> None:
    """Protocol 2 in one process: the codes of every test image, their verification on
    pairs.txt and its same-scene twin, t-SNE figure, and (where the dataset has exact
    factors) MIG/DCI/SAP."""
    from bench.data.index import read_meta
    from bench.protocols.representation import (
        disentanglement_scores,
        encode,
        load_codes,
        pairs_files,
        save_codes,
        score_representation,
        tsne_figure,
    )

    params = json.loads(args.params)
    test, method = load_test_and_method(args, params, "identity_code", "pose_code")
    save_codes(Path(args.codes), encode(method, test), test)
    codes = load_codes(Path(args.codes), test)  # what the file holds is what gets scored
    meta = read_meta(Path(args.data))
    write_scores(args, args.out, score_representation(codes, test, pairs_files(args.data, meta)))
    disentanglement = disentanglement_scores(codes, test, params["disentanglement"])
    write_scores(args, args.disentanglement, disentanglement)
    label = args.seed.label(args.method)
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
