"""A foreign method in 30 lines: read an idpose-bench export, write one output per tuple.

    python examples/export_copy_source.py EXPORT_DIR OUTPUT_DIR            # copy the source
    python examples/export_copy_source.py EXPORT_DIR OUTPUT_DIR --driver   # copy the driver

Uses the standard library only (as a method outside this package would read the export):
the manifest names every input and the exact output file expected for each tuple, kind
and K. Imported with ``python -m bench import``, its rows equal the built-in
``copy_source`` / ``copy_driver`` rows (tests/test_external.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def write_outputs(export: Path, out: Path, driver: bool) -> int:
    """Copy the first source (or the driver of each kind) to every expected output file."""
    manifest = json.loads((export / "manifest.json").read_text())
    written = 0
    for entry in manifest["tuples"]:
        for kind in manifest["kinds"]:
            for k in manifest["k"]:
                source = entry["drivers"][kind]["image"] if driver else entry["sources"][0]
                target = out / entry["outputs"][f"k{k}_{kind}"]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(export / source, target)
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="the folder `python -m bench export` wrote")
    parser.add_argument("out", type=Path, help="the folder of outputs to import")
    parser.add_argument("--driver", action="store_true", help="copy the driver, not the source")
    args = parser.parse_args()
    written = write_outputs(args.export, args.out, args.driver)
    print(f"wrote {written} images to {args.out}")


if __name__ == "__main__":
    main()
