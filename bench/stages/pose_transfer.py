"""Protocol 1 stages: ``synthesize`` the tuples with a trained method, ``score`` them with
the SynthFaces oracles, ``face-reference`` and ``score-faces`` with pretrained face evaluators."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.stages.common import load_test_and_method, write_scores


def cmd_synthesize(args: argparse.Namespace) -> None:
    from bench.protocols import pose_transfer as protocol

    params = json.loads(args.params)
    test, method = load_test_and_method(args, params, "transfer")
    tuples = protocol.read_tuples(Path(args.data))
    outputs = protocol.synthesize(method, test, tuples, params["k"], params["batch_size"])
    protocol.save_generated(Path(args.out), outputs, tuples, params["k"])
    protocol.save_sample_grid(Path(args.grid), test, tuples, outputs)


def cmd_score(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.external import output_positions
    from bench.protocols import pose_transfer as protocol

    params = json.loads(args.params)
    data = Path(args.data)
    outputs, k_values = protocol.load_generated(Path(args.generated))
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    rows = protocol.score_pose_transfer(
        outputs, FaceData.load(data, "test"), protocol.read_tuples(data), oracle, params,
        output_positions(args.generated),
    )  # fmt: skip
    _write_run_scores(args, rows, k_values)


def cmd_face_reference(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.protocols.face_scores import FaceEvaluators, reference_features
    from bench.protocols.pose_transfer import read_tuples
    from bench.protocols.results import save_arrays

    params = json.loads(args.params)
    data = Path(args.data)
    test = FaceData.load(data, "test")
    arrays = reference_features(test, read_tuples(data), FaceEvaluators(params), params)
    save_arrays(Path(args.out), **arrays)


def cmd_score_faces(args: argparse.Namespace) -> None:
    from bench.external import output_positions
    from bench.protocols.face_scores import FaceEvaluators, score_faces
    from bench.protocols.pose_transfer import load_generated
    from bench.protocols.results import load_arrays

    params = json.loads(args.params)
    reference = load_arrays(Path(args.reference), "face-reference")
    outputs, _ = load_generated(Path(args.generated))
    positions = output_positions(args.generated)
    rows = score_faces(outputs, reference, FaceEvaluators(params), params, positions)
    _write_run_scores(args, rows, params["k"])


def _write_run_scores(args: argparse.Namespace, rows: list, k_values: list[int]) -> None:
    """A pose-transfer run's rows, plus one marker row per (kind, K) at which the method
    is not applicable, labelled and with provenance as ``bench.external.scored_run``
    says (a built-in run, or one ``python -m bench import`` wrote)."""
    from bench.external import scored_run
    from bench.protocols.pose_transfer import not_applicable_rows

    label, not_applicable, provenance = scored_run(
        args.method, args.seed.label(args.method), args.generated
    )
    rows = rows + not_applicable_rows(not_applicable, k_values)
    write_scores(args, args.out, rows, label, provenance)
