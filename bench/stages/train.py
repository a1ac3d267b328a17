"""Training stages: ``train-evaluator`` (a SynthFaces oracle) and ``train`` (one method, one seed)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def cmd_train_evaluator(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.evaluators.synth_oracle import train_identity_oracle, train_pose_oracle

    data = Path(args.data)
    settings = json.loads(args.params)
    train, test = FaceData.load(data, "train"), FaceData.load(data, "test")
    if args.part == "identity":
        quality = train_identity_oracle(train, test, data / "pairs.txt", Path(args.out), settings)
    else:
        quality = train_pose_oracle(train, test, Path(args.out), settings)
    Path(args.quality).write_text(json.dumps(quality, indent=2, sort_keys=True) + "\n")


def cmd_train(args: argparse.Namespace) -> None:
    from bench.data.dataset import FaceData
    from bench.methods.registry import get_method
    from bench.train import TrainSettings, train

    params = json.loads(args.params)
    spec = get_method(args.method)
    data = FaceData.load(Path(args.data), "train", params["pose_bin_width"])
    settings = TrainSettings(**{k: v for k, v in params["train"].items() if k != "threads"})
    method_config = args.seed.method_config(params["method"])
    train(spec, method_config, data, Path(args.run_dir), args.seed.seed, settings)
