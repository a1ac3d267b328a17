"""``python -m bench.data.real``: prepare a real dataset, or write the demo face folder.

``prepare`` takes the same arguments as ``python -m bench prepare`` (the DAG calls it
for every dataset except SynthFaces).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bench.errors import BenchError
from bench.runtime import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data.real", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    prepare = sub.add_parser("prepare", help="prepare a real dataset into the data contract")
    prepare.add_argument("dataset")
    prepare.add_argument("--out", required=True)
    prepare.add_argument(
        "--params", help="JSON of the dataset's config section (missing keys: schema defaults)"
    )
    prepare.add_argument("--workers", type=int, help="worker processes (default: all cores)")
    prepare.add_argument("--log")
    demo = sub.add_parser("demo-folder", help="write a folder dataset of packaged real faces")
    demo.add_argument("out")
    demo.add_argument("--lfw-faces", type=int, default=30)
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "log", None))
    try:
        if args.command == "demo-folder":
            from bench.data.real.demo import write_demo_folder

            write_demo_folder(Path(args.out), n_lfw=args.lfw_faces)
            return 0
        from bench.config import validate_config
        from bench.data.real.prepare import prepare_real

        given = {args.dataset: json.loads(args.params) if args.params else {}}
        settings = validate_config(given, "--params")[args.dataset]  # defaults filled in
        prepare_real(args.dataset, Path(args.out), settings, args.workers or os.cpu_count() or 1)
    except BenchError as error:
        import logging

        logging.getLogger("bench").error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
