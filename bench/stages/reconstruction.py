"""``score-reconstruction``: a method's reconstructions and random samples."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.stages.common import load_test_and_method, write_scores


def cmd_score_reconstruction(args: argparse.Namespace) -> None:
    from bench.evaluators.synth_oracle import SynthOracle
    from bench.protocols.reconstruction import score_reconstruction

    params = json.loads(args.params)
    test, method = load_test_and_method(args, params, "reconstruct", "sample")
    oracle = SynthOracle.load(Path(args.identity_oracle), Path(args.pose_oracle))
    write_scores(args, args.out, score_reconstruction(method, test, oracle, params))
