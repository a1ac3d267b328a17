"""Preparation of real data: rejects with reasons, resuming a killed run, errors naming file and line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skimage import data

from bench.config import validate_config
from bench.data.index import read_index, read_meta
from bench.data.real import worker
from bench.data.real.celeba import list_celeba
from bench.data.real.datasets import resolve_root
from bench.data.real.demo import synthfaces_views
from bench.data.real.layouts import save_jpeg, write_folder, write_video
from bench.data.real.multipie import list_multipie
from bench.data.real.prepare import prepare_real
from bench.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]


def folder_settings(root: Path, **overrides) -> dict:
    section = {"root": str(root), "resolution": 32, "test_identities": 4}
    section["pairs"] = {"sets": 2, "per_set": 2}
    return validate_config({"folder": {**section, **overrides}})["folder"]


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory) -> Path:
    """Eight SynthFaces identities, two clips of three near-frontal JPEG renders each."""
    root = tmp_path_factory.mktemp("faces") / "faces"
    yaws = [-15.0, 0.0, 15.0, -5.0, 5.0, 10.0]
    return write_folder(
        root,
        {f"p{i}": [synthfaces_views(i, yaws)[:3], synthfaces_views(i, yaws)[3:]] for i in range(8)},
    )


def test_rejects_are_counted_with_their_reasons(tmp_path, synth_folder, caplog):
    root = tmp_path / "faces"
    shutil.copytree(synth_folder, root)
    save_jpeg(root / "p0" / "clip0" / "coffee.jpg", data.coffee())  # no face
    corrupt = root / "p1" / "clip0" / "broken.jpg"
    corrupt.write_bytes((root / "p1" / "clip0" / "000.jpg").read_bytes()[:300])
    write_video(root / "p2" / "talk.mp4", synthfaces_views(2, [0.0] * 4))
    truncated = root / "p3" / "cut.mp4"
    write_video(truncated, synthfaces_views(3, [0.0] * 4))
    truncated.write_bytes(truncated.read_bytes()[:400])
    with caplog.at_level("INFO"):
        prepare_real("folder", tmp_path / "out", folder_settings(root, frames_per_video=2))
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    reasons = dict(
        zip(rejects["origin"].str.rsplit("/", n=1).str[-1], rejects["reason"], strict=True)
    )
    assert reasons["coffee.jpg"].startswith("no face detected")
    assert reasons["broken.jpg"].startswith(f"corrupt image: {corrupt}")
    assert reasons["cut.mp4"].startswith(f"unreadable video: {truncated}")
    index = read_index(tmp_path / "out")
    assert len(index) == 48 + 2  # every render and both frames of the good video
    meta = read_meta(tmp_path / "out")
    assert meta["rejected"] == 3 and meta["listed"] == 48 + 2 + 2 + 1
    assert "50 accepted, 3 rejected" in caplog.text


def test_a_video_that_ends_early_rejects_the_missing_frames_naming_them(tmp_path):
    """A stream that ends before a frame the listing expected (OpenCV's own containers keep
    their index at the end, so a cut file does not open at all: the test above)."""
    from bench.data.real.video import read_frames

    path = tmp_path / "clip.mp4"
    write_video(path, [np.full((64, 64, 3), 10 * i, np.uint8) for i in range(20)])
    frames = dict(read_frames(path, [0, 19, 25, 30]))
    assert isinstance(frames[0], np.ndarray) and isinstance(frames[19], np.ndarray)
    assert f"{path}: truncated video: frame 25 cannot be read" in frames[25]
    assert "stream ended after 20 frames" in frames[30]


def test_a_killed_run_resumes_without_redoing_finished_images(tmp_path, synth_folder, monkeypatch):
    out = tmp_path / "out"
    settings = folder_settings(synth_folder)
    command = [
        sys.executable,
        "-m",
        "bench.data.real",
        "prepare",
        "folder",
        "--out",
        str(out),
        "--params",
        json.dumps(settings),
        "--workers",
        "1",
    ]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        records = sum(len(p.read_text().splitlines()) for p in out.glob("work/records-*.jsonl"))
        if records >= 10:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "index.csv").exists(), "the run finished before it could be killed"
    finished = sum(len(p.read_text().splitlines()) for p in out.glob("work/records-*.jsonl"))
    processed = []
    original = worker.process_source
    monkeypatch.setattr(
        worker, "process_source", lambda s, p: processed.append(s.key) or original(s, p)
    )
    prepare_real("folder", out, settings)
    assert finished >= 10 and len(processed) <= 48 - finished + 1  # at most the torn image again
    assert len(read_index(out)) == 48
    processed.clear()
    prepare_real("folder", out, settings)  # everything done: nothing is aligned again
    assert processed == []


def test_a_malformed_celeba_annotation_line_names_file_and_line(tmp_path):
    (tmp_path / "img_align_celeba").mkdir()
    (tmp_path / "identity_CelebA.txt").write_text("000001.jpg 1\n000002.jpg 1\n000003.jpg\n")
    (tmp_path / "list_eval_partition.txt").write_text("000001.jpg 0\n")
    settings = validate_config({})["celeba"]
    with pytest.raises(DataError, match=r"identity_CelebA.txt: line 3: expected 2 fields"):
        list_celeba(tmp_path, settings)
    (tmp_path / "identity_CelebA.txt").write_text("000001.jpg one\n")
    with pytest.raises(DataError, match=r"identity_CelebA.txt: line 1: .*'one' is not a number"):
        list_celeba(tmp_path, settings)


def test_a_misnamed_multipie_file_names_the_file(tmp_path):
    folder = tmp_path / "session01" / "multiview" / "001" / "01" / "05_1"
    folder.mkdir(parents=True)
    (folder / "001_01_01_050_07.png").touch()  # camera 050 inside folder 05_1
    with pytest.raises(DataError, match=r"001_01_01_050_07.png: expected Multi-PIE's name"):
        list_multipie(tmp_path, validate_config({})["multipie"])


def test_a_missing_root_says_which_key_or_variable_to_set(monkeypatch):
    monkeypatch.delenv("IDPOSE_VOXCELEB2_ROOT", raising=False)
    with pytest.raises(ConfigError, match=r"'voxceleb2.root'.*IDPOSE_VOXCELEB2_ROOT"):
        resolve_root("voxceleb2", {"root": None})


def test_the_root_can_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IDPOSE_LFW_ROOT", str(tmp_path))
    assert resolve_root("lfw", {"root": None}) == tmp_path.resolve()
