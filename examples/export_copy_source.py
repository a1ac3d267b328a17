"""A foreign method in a few lines: read an idpose-bench export, write one output per tuple
and, where the export has sequences, one re-enacted sequence per sequence and K.

    python examples/export_copy_source.py EXPORT_DIR OUTPUT_DIR            # copy the source
    python examples/export_copy_source.py EXPORT_DIR OUTPUT_DIR --driver   # copy the driver
    python examples/export_copy_source.py EXPORT_DIR OUTPUT_DIR --sequences video   # .mp4

Uses the standard library only (as a method outside this package would read the export),
except to write videos (numpy, Pillow and imageio-ffmpeg's ffmpeg, lossless H.264:
``libx264rgb -qp 0``, so the decoded frames equal the PNGs). The manifest names every input
and the exact output file expected for each tuple, kind and K, and for each sequence and K
a frame folder or a video. Imported with ``python -m bench import``, its rows equal the
built-in ``copy_source`` / ``copy_driver`` rows (tests/test_external.py,
tests/test_sequence_external.py).
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


def write_video(path: Path, frames: list[Path]) -> None:
    """The PNG ``frames`` as one lossless H.264 video (RGB kept exactly: libx264rgb, QP 0)."""
    import imageio_ffmpeg
    import numpy as np
    from PIL import Image

    images = [np.asarray(Image.open(f).convert("RGB")) for f in frames]
    height, width = images[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path), (width, height), pix_fmt_out="rgb24", codec="libx264rgb", quality=None,
        output_params=["-qp", "0", "-preset", "ultrafast"], macro_block_size=1,
    )  # fmt: skip
    writer.send(None)
    for image in images:
        writer.send(np.ascontiguousarray(image))
    writer.close()


def write_sequences(export: Path, out: Path, driver: bool, layout: str) -> int:
    """Re-enact every sequence by copying its first frame (or each driver frame): a frame
    folder per sequence and K, a video (``layout`` video), or alternately both (mixed)."""
    manifest = json.loads((export / "manifest.json").read_text())
    section = manifest.get("sequences")
    if section is None:
        return 0
    for number, entry in enumerate(section["sequences"]):
        frames = [export / frame["image"] for frame in entry["frames"]]
        outputs = [frame if driver else frames[0] for frame in frames]
        for k in section["k"]:
            expected = entry["outputs"][f"k{k}"]
            if layout == "video" or (layout == "mixed" and number % 2 == 1):
                write_video(out / expected["video"], outputs)
                continue
            folder = out / expected["frame_folder"]
            folder.mkdir(parents=True, exist_ok=True)
            for name, source in zip(expected["frame_files"], outputs, strict=True):
                shutil.copyfile(source, folder / name)
    return len(section["sequences"]) * len(section["k"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="the folder `python -m bench export` wrote")
    parser.add_argument("out", type=Path, help="the folder of outputs to import")
    parser.add_argument("--driver", action="store_true", help="copy the driver, not the source")
    parser.add_argument(
        "--sequences",
        choices=["frames", "video", "mixed", "none"],
        default="frames",
        help="sequence outputs as frame folders, .mp4 videos, alternately both, or none",
    )
    args = parser.parse_args()
    written = write_outputs(args.export, args.out, args.driver)
    print(f"wrote {written} images to {args.out}")
    if args.sequences != "none":
        count = write_sequences(args.export, args.out, args.driver, args.sequences)
        print(f"wrote {count} sequences ({args.sequences}) to {args.out}")


if __name__ == "__main__":
    main()
