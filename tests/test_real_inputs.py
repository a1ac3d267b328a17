"""Real inputs as users have them: tiny, rotated, 16-bit, unsupported, duplicated, few people.

Every test builds its own input (issue 22, defects 1-6 and 9): each file under a root ends
up a row, a reject with its reason, or a skipped file with its reason, and a folder too
small for the configured pairs stops before any image is processed, naming the keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.config import validate_config
from bench.data.index import read_index, read_meta
from bench.data.real import worker
from bench.data.real.align import AlignmentFailed, FaceAligner
from bench.data.real.demo import synthfaces_views
from bench.data.real.folder import NOT_READ, list_folder
from bench.data.real.layouts import save_jpeg, write_folder
from bench.data.real.prepare import prepare_real
from bench.data.real.sources import SourceImage
from bench.errors import DataError

YAWS = [-10.0, 0.0, 10.0, 5.0]


def settings_for(root: Path, **overrides) -> dict:
    section = {"root": str(root), "resolution": 32, **overrides}
    return validate_config({"folder": section})["folder"]


@pytest.fixture(scope="module")
def five_people(tmp_path_factory) -> Path:
    """Five SynthFaces identities, one clip of four near-frontal 128 px JPEG renders each."""
    root = tmp_path_factory.mktemp("five") / "faces"
    return write_folder(root, {f"p{i}": [synthfaces_views(i, YAWS)] for i in range(5)})


def copy_of(folder: Path, tmp_path: Path, people: int = 5) -> Path:
    root = tmp_path / "faces"
    for person in sorted(folder.iterdir())[:people]:
        for file in person.rglob("*.jpg"):
            target = root / file.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.read_bytes())
    return root


def source(path: Path) -> SourceImage:
    return SourceImage(path, "p", 1, 0, "test")


def test_an_image_under_20_px_is_a_counted_reject_naming_the_file(tmp_path, five_people):
    root = copy_of(five_people, tmp_path)
    tiny = root / "p0" / "clip0" / "tiny.jpg"
    save_jpeg(tiny, np.full((29, 19, 3), 128, np.uint8))  # 19 px wide, 29 px high
    prepare_real("folder", tmp_path / "out", settings_for(root))
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    reason = rejects.loc[rejects["origin"] == str(tiny), "reason"].item()
    assert reason.startswith("image too small (19x29 px") and reason.endswith(str(tiny))
    meta = read_meta(tmp_path / "out")
    assert meta["reject_reasons"] == {"image too small": 1} and meta["images"] == 20


def test_the_aligner_rejects_a_tiny_frame_instead_of_crashing():
    with pytest.raises(AlignmentFailed, match="image too small"):
        FaceAligner(32).align(np.zeros((19, 40, 3), np.uint8))


def test_exif_orientation_is_applied(tmp_path):
    upright = synthfaces_views(0, [0.0])[0]
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # as a phone stores it: sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    pixels = worker.read_photo(source(path))
    assert pixels.shape == upright.shape
    assert np.abs(pixels.astype(int) - upright).mean() < 4  # upright again (JPEG noise only)
    FaceAligner(32).align(pixels)  # a face is found in the upright photo


def test_a_16_bit_png_is_scaled_to_8_bits(tmp_path):
    grey = np.asarray(Image.fromarray(synthfaces_views(1, [0.0])[0]).convert("L"))
    path = tmp_path / "scan16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)  # 0..65535
    assert Image.open(path).mode.startswith("I")
    pixels = worker.read_photo(source(path))
    assert pixels.dtype == np.uint8 and pixels.shape == (*grey.shape, 3)
    assert np.array_equal(pixels[..., 0], grey) and np.array_equal(pixels[..., 2], grey)


def test_every_file_under_the_root_is_a_source_a_reject_or_skipped_with_its_reason(tmp_path):
    root = tmp_path / "faces"
    face = np.full((64, 64, 3), 90, np.uint8)
    for name in ("p0/a.jpg", "p0/clip1/b.png", "p1/c.JPG", "p1/clip0/d.webp"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face).save(root / name)
    odd = {
        "p0/scan.tif": f"{NOT_READ} (.tif)",
        "p0/anim.gif": f"{NOT_READ} (.gif)",
        "p1/README": f"{NOT_READ} (no extension)",
        "p0/.DS_Store": "hidden file or folder",
        "p1/._c.jpg": "hidden file or folder",
        ".hidden/p9/x.jpg": "hidden file or folder",
        "p1/clip0/deeper/e.jpg": "nested deeper than <identity>/<clip>/<image>",
        "loose.jpg": "file directly in the root (not in an identity folder)",
        "p0/clip1/talk.mp4": "video inside a clip folder (videos are read directly in an "
        "identity folder)",
    }
    for name in odd:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    listing = list_folder(root, settings_for(root, evaluation_only=True))
    listed = {str(s.file.relative_to(root)) for s in listing.sources}
    skipped = {str(Path(p).relative_to(root)): reason for p, reason in listing.skipped}
    assert listed == {"p0/a.jpg", "p0/clip1/b.png", "p1/c.JPG", "p1/clip0/d.webp"}
    assert skipped == odd
    every_file = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert every_file == listed | set(skipped)


def test_skipped_files_are_counted_in_the_log_and_meta(tmp_path, five_people, caplog):
    root = copy_of(five_people, tmp_path)
    (root / "p0" / "scan.tif").write_bytes(b"II*\x00")
    (root / "p1" / ".DS_Store").write_bytes(b"\x00")
    with caplog.at_level("INFO"):
        prepare_real("folder", tmp_path / "out", settings_for(root))
    meta = read_meta(tmp_path / "out")
    assert meta["skipped"] == 2
    assert meta["skip_reasons"] == {f"{NOT_READ} (.tif)": 1, "hidden file or folder": 1}
    assert "2 other files skipped" in caplog.text and "2 skipped" in caplog.text
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert set(skipped["path"]) == {str(root / "p0" / "scan.tif"), str(root / "p1" / ".DS_Store")}


def test_plain_settings_size_the_pairs_from_five_people(tmp_path, five_people, caplog):
    with caplog.at_level("INFO"):
        prepare_real("folder", tmp_path / "out", settings_for(five_people))
    meta = read_meta(tmp_path / "out")
    assert meta["identities"] == {"train": 1, "test": 4}  # 4 test people: two sets of two
    assert meta["pairs_protocol"] == {"sets": 2, "per_set": 12}  # 2 x C(4, 2) matched each
    assert meta["pairs"] == "drawn over test identities (sized from the data)"
    assert "pairs drawn over test identities (sized from the data): 2 sets of 12" in caplog.text
    header = (tmp_path / "out" / "pairs.txt").read_text().splitlines()[0]
    assert header == "2\t12"


def test_pairs_the_folder_cannot_give_stop_before_any_image_naming_the_keys(
    tmp_path, five_people, monkeypatch
):
    monkeypatch.setattr(worker, "process_source", lambda *a: pytest.fail("an image was processed"))
    settings = settings_for(five_people, pairs={"sets": 10, "per_set": 300})
    with pytest.raises(DataError) as error:
        prepare_real("folder", tmp_path / "out", settings)
    message = str(error.value)
    for key in ("folder.pairs.sets: 10", "folder.pairs.per_set: 300", "folder.test_identities"):
        assert key in message
    assert "the largest they support is folder.pairs.sets: 2, folder.pairs.per_set: 12" in message
    assert not (tmp_path / "out" / "index.csv").exists()


def test_one_person_can_be_prepared_for_evaluation_only(tmp_path, five_people):
    root = copy_of(five_people, tmp_path, people=1)
    with pytest.raises(DataError, match="folder.evaluation_only: true"):
        prepare_real("folder", tmp_path / "out", settings_for(root))
    prepare_real("folder", tmp_path / "out", settings_for(root, evaluation_only=True))
    index = read_index(tmp_path / "out")
    assert len(index) == 4 and set(index["split"]) == {"test"}
    meta = read_meta(tmp_path / "out")
    assert meta["pairs"].startswith("none: 1 identities") and meta["pairs_protocol"]["sets"] == 0
    assert not (tmp_path / "out" / "pairs.txt").exists()


def test_preparation_seconds_add_up_over_invocations(tmp_path, five_people):
    out = tmp_path / "out"
    prepare_real("folder", out, settings_for(five_people))
    first = read_meta(out)["preparation_seconds"]
    prepare_real("folder", out, settings_for(five_people))  # nothing left to do
    meta = read_meta(out)
    assert len(meta["preparation_runs"]) == 2 and meta["preparation_runs"][0] == first
    assert meta["preparation_seconds"] == pytest.approx(sum(meta["preparation_runs"]), abs=0.02)


def test_duplicate_photos_and_mostly_border_crops_are_recorded(tmp_path, five_people):
    root = copy_of(five_people, tmp_path)
    photo = Image.open(root / "p0" / "clip0" / "000.jpg")
    photo.resize((256, 256), Image.Resampling.BICUBIC).save(root / "p0" / "clip0" / "big.png")
    tight = np.asarray(photo)[40:100, 34:94]  # the face alone: the crop is mostly border
    save_jpeg(root / "p1" / "clip0" / "tight.jpg", tight)
    prepare_real("folder", tmp_path / "out", settings_for(root, min_face_probability=0.5))
    meta = read_meta(tmp_path / "out")
    groups = [sorted(Path(f).name for f in g) for g in meta["duplicate_photos"]["files"]]
    assert groups == [["000.jpg", "big.png"]]
    assert meta["mostly_border_crops"]["sources"] == [str(root / "p1" / "clip0" / "tight.jpg")]
    index = read_index(tmp_path / "out")
    assert len(index) == 22  # recorded, not dropped
    assert json.dumps(meta)  # plain JSON
