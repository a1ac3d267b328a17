"""The sequence protocol's stages: render the test ``sequences`` of a dataset,
``synthesize-sequence`` them with a trained method, ``score-sequence`` the videos."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from bench.errors import DataError


def cmd_sequences(args: argparse.Namespace) -> None:
    from bench.data.synthfaces.sequences import render_sequences

    params = json.loads(args.params)
    written = render_sequences(Path(args.data), params["frames"], params["clips"])
    if Path(args.out).resolve() != written.resolve():
        raise DataError(f"--out {args.out}: the sequences' index is written to {written}")


def cmd_synthesize_sequence(args: argparse.Namespace) -> None:
    from bench.methods.registry import get_method
    from bench.protocols import sequence as protocol
    from bench.train import load_trained, pick_device

    params = json.loads(args.params)
    sequences = protocol.load_sequences(Path(args.data), params.get("pose_bin_width", 15))
    method = load_trained(
        Path(args.model), get_method(args.method), pick_device(params.get("device", "auto"))
    )
    if "transfer" not in method.provides:
        raise DataError(f"method {args.method!r} does not provide transfer")
    outputs = protocol.synthesize_sequences(method, sequences, params["k"], params["batch_size"])
    protocol.save_generated_sequences(Path(args.out), outputs, sequences.ids, params["k"])


def cmd_score_sequence(args: argparse.Namespace) -> None:
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.external import scored_run
    from bench.protocols import sequence as protocol
    from bench.protocols.pose_transfer import not_applicable_rows
    from bench.stages.common import write_scores

    params = json.loads(args.params)
    outputs, ids, k_values, present = protocol.load_generated_sequences(Path(args.generated))
    sequences = protocol.load_sequences(Path(args.data))
    if ids != sequences.ids:
        raise DataError(f"{args.generated}: written for other sequences than {args.data}")
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    skip = [params.get("skip_frames", max(k_values))]  # the DAG: max of protocols.sequence.k
    rows = protocol.score_sequences(outputs, sequences, oracle, params, present, skip)
    label, not_applicable, provenance = scored_run(
        args.method, args.seed.label(args.method), args.generated
    )
    marks = [
        dataclasses.replace(row, protocol=protocol.PROTOCOL, kind=protocol.sequence_key(row.k))
        for row in not_applicable_rows(not_applicable, k_values)
        if row.kind == "self"
    ]
    write_scores(args, args.out, rows + marks, label, provenance)
