"""End to end: the smoke profile runs the whole DAG; reruns are no-ops; tables are reproducible."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench import REPO_ROOT

pytestmark = pytest.mark.slow
SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "--snakefile",
    str(REPO_ROOT / "workflow" / "Snakefile"),
]
SMOKE = [
    "--workflow-profile",
    str(REPO_ROOT / "profiles" / "smoke"),
    "--configfiles",
    str(REPO_ROOT / "config/config.yaml"),
    str(REPO_ROOT / "config/smoke.yaml"),
]


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    # One empty TORCH_HOME for every run: no pretrained weights, so the FID column is n/a
    # (its footnote names this path, so all runs must share it to compare tables).
    env = {**os.environ, "TORCH_HOME": str(Path(tempfile.gettempdir()) / "idpose-bench-no-weights")}
    result = subprocess.run(
        [*SNAKEMAKE, *SMOKE, "--directory", str(workdir), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("smoke")
    snakemake(workdir, "--cores", "2")
    return workdir


def test_smoke_dag_writes_every_table_with_arrows_and_evaluators(smoke_run):
    tables = smoke_run / "results" / "tables"
    assert sorted(p.name for p in tables.iterdir()) == sorted(
        f"synthfaces_{t}.{e}"
        for t in (
            "pose_transfer",
            "pose_transfer_faces",
            "verification",
            "reconstruction",
            "disentanglement",
            "sequence",
        )
        for e in ("csv", "md", "tex")
    )
    sequence = (tables / "synthfaces_sequence.md").read_text()
    assert "| k2   | ground_truth |                1.000 |" in sequence
    assert "fvd[i3d-k400-tfhub-torchscript/logits400/16f-224px] is n/a: fvd: no I3D weights at" in (
        sequence
    )
    faces = (tables / "synthfaces_pose_transfer_faces.md").read_text()
    assert "CSIM tgt [dlib-resnet] ↑" in faces and "pose err ° [dlib68-pnp] ↓" in faces
    assert "pose err ° [mtcnn5-pnp] ↓" in faces and "AKD px [mtcnn-5] ↓" in faces
    assert "csim_target[facenet-vggface2] is n/a" in faces
    assert "MIG [synth-factors] ↑" in (tables / "synthfaces_disentanglement.md").read_text()
    reconstruction = (tables / "synthfaces_reconstruction.md").read_text()
    assert (
        "| reconstruct | faceaae" in reconstruction and "| sample      | faceaae" in reconstruction
    )
    assert "RMSE (0-255) ↓" in reconstruction
    verification = (tables / "synthfaces_verification.md").read_text()
    assert re.search(r"\| identity +\| cosine +\| pose_ae +\|", verification)
    assert "TAR@FAR" in verification
    markdown = (tables / "synthfaces_pose_transfer.md").read_text()
    for needle in (
        "SSIM",
        "CSIM tgt [synth-oracle] ↑",
        "pose err ° [synth-oracle] ↓",
        "ground_truth",
        "pose_ae",
        "cross",
    ):
        assert needle in markdown
    assert r"\toprule" in (tables / "synthfaces_pose_transfer.tex").read_text()
    assert "FD (small-sample) [synth-oracle] ↓" in markdown and "KID [synth-oracle] ↓" in markdown
    assert "fid[inception-v3-pool3] is n/a: inception-v3-pool3: no weights at" in markdown
    run = smoke_run / "results/runs/synthfaces/pose_ae/seed0"
    for name in (
        "model.pt",
        "checkpoints/last.pt",
        "train_log.csv",
        "samples.png",
        "pose_transfer/metrics.json",
    ):
        assert (run / name).exists(), name


def test_untrained_rows_score_the_initialisation_beside_the_trained_method(smoke_run):
    import pandas as pd

    runs = smoke_run / "results/runs/synthfaces/pose_ae"
    assert (
        "pose_ae (untrained)"
        in (smoke_run / "results/tables/synthfaces_verification.md").read_text()
    )
    untrained_log = (runs / "seed0-untrained/train_log.csv").read_text().splitlines()
    assert len(untrained_log) <= 1  # never stepped: at most the header
    assert len(pd.read_csv(runs / "seed0/train_log.csv")) > 0
    table = pd.read_csv(smoke_run / "results/tables/synthfaces_pose_transfer.csv")
    assert {"pose_ae", "pose_ae (untrained)"} <= set(table.method)
    # Reference rows are not trainable: no untrained row for them.
    assert "copy_source (untrained)" not in set(table.method)
    # The pretrained-face and reconstruction tables leave the untrained rows out (no jobs).
    for name in ("pose_transfer_faces", "reconstruction"):
        other = pd.read_csv(smoke_run / f"results/tables/synthfaces_{name}.csv")
        assert "pose_ae" in set(other.method) or "faceaae" in set(other.method), name
        assert not other.method.str.endswith(" (untrained)").any(), name
    assert not (runs / "seed0-untrained/pose_transfer/metrics_faces.json").exists()


def test_ground_truth_bounds_ssim_and_csim_on_cross_identity(smoke_run):
    import pandas as pd

    table = pd.read_csv(smoke_run / "results/tables/synthfaces_pose_transfer.csv")
    cross = table[table.protocol == "cross"].set_index(["method", "K"])
    ssim = next(c for c in table.columns if c.startswith("ssim") and c.endswith("mean"))
    csim = next(c for c in table.columns if c.startswith("csim_target") and c.endswith("mean"))
    for k in table.K.unique():
        assert cross.loc[("ground_truth", k), ssim] == pytest.approx(1.0)
        assert cross.loc[("ground_truth", k), csim] == pytest.approx(1.0)
        # Copying the driver or a source is never the exact cross target.
        for method in ("copy_driver", "copy_source"):
            assert cross.loc[(method, k), ssim] < 0.99, (method, k)
            assert cross.loc[(method, k), csim] < 0.99, (method, k)


def test_second_dry_run_has_nothing_to_do(smoke_run):
    result = snakemake(smoke_run, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_figures_target_rebuilds_tables_and_figures_byte_identical(smoke_run):
    folders = [smoke_run / "results" / "tables", smoke_run / "results" / "figures"]
    before = {p.name: p.read_bytes() for folder in folders for p in folder.iterdir()}
    assert any(name.endswith("_kshot.pdf") for name in before) and any(
        name.endswith(".md") for name in before
    )
    assert {"synthfaces_reconstruction.png", "synthfaces_disentanglement.pdf"} <= set(before)
    for folder in folders:
        for path in folder.iterdir():
            path.unlink()
    result = snakemake(
        smoke_run,
        "--cores",
        "1",
        "figures",
        "--forcerun",
        "pose_transfer_table",
        "verification_table",
        "metric_figures",
        "sweep_figure",
        "face_table",
        "method_table",
        "table_figure",
    )
    assert "rule train:" not in result.stdout + result.stderr  # nothing is retrained
    assert {p.name: p.read_bytes() for folder in folders for p in folder.iterdir()} == before


def test_same_seed_twice_gives_byte_identical_tables(smoke_run, tmp_path):
    # The first run forked its jobs from the preload server (bench/preload_server.py), this
    # one starts every job as its own process: the tables are the same bytes.
    served = (smoke_run / "results/logs/preload_server.log").read_text()
    assert served.count('"code": 0') >= 40, served[-2000:]
    # (--config cannot: Snakemake reads a nested value as a string.)
    off = tmp_path / "no_preload_server.yaml"
    off.write_text("runtime: {preload_server: false}\n")
    snakemake(tmp_path, "--cores", "2", "--configfiles", *SMOKE[3:], str(off))
    assert not (tmp_path / "results/logs/preload_server.log").exists()
    tables = sorted(p.name for p in (smoke_run / "results/tables").iterdir())
    assert len(tables) >= 15
    assert tables == sorted(p.name for p in (tmp_path / "results/tables").iterdir())
    for name in tables:
        assert (tmp_path / "results/tables" / name).read_bytes() == (
            smoke_run / "results/tables" / name
        ).read_bytes(), name


def test_report_contains_tables_and_sample_grids(smoke_run):
    snakemake(smoke_run, "--report", "results/report.html")
    html = (smoke_run / "results/report.html").read_text(errors="replace")
    assert "synthfaces_pose_transfer.csv" in html and "samples.png" in html
    assert "synthfaces_verification.csv" in html and "tsne.png" in html


CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package; .ci/run installs it

LOAD_EVERY_IMAGE = """async () => {
  const out = [];
  for (const [path, entry] of Object.entries(results)) {
    if (!entry.mime_type.startsWith("image/")) continue;
    const img = new Image();
    const ok = await new Promise((done) => {
      img.onload = () => done(true);
      img.onerror = () => done(false);
      img.src = entry.data_uri;
    });
    out.push({path, ok, width: img.naturalWidth, height: img.naturalHeight});
  }
  return out;
}"""


def test_report_opens_in_headless_chromium_and_every_image_loads(smoke_run):
    if not CHROMIUM.exists():
        if os.environ.get("IDPOSE_REQUIRE_CHROMIUM"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium package")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    report = smoke_run / "results/report.html"
    if not report.exists():
        snakemake(smoke_run, "--report", "results/report.html")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate(LOAD_EVERY_IMAGE)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert errors == []
    broken = [i["path"] for i in images if not (i["ok"] and i["width"] > 0 and i["height"] > 0)]
    assert broken == []
    paths = {i["path"] for i in images}
    assert any(p.endswith("tsne.png") for p in paths) and any("figures/" in p for p in paths)
    assert any(p.endswith("pose_transfer/samples.png") for p in paths)
    assert len(images) >= 10 and "Snakemake" in text


def test_corrupt_image_in_prepared_data_stops_training_with_the_file_name(smoke_run, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(smoke_run / "results/data/synthfaces", data)
    victim = sorted((data / "images").rglob("*.png"))[0]
    victim.write_bytes(b"\x89PNG garbage")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "train",
            "--method",
            "pose_ae",
            "--seed",
            "0",
            "--data",
            str(data),
            "--run-dir",
            str(tmp_path / "run"),
            "--params",
            '{"method": {"width": 8, "code_dim": 8, "steps": 2, "batch_size": 2, "lr": 0.001, "betas": [0.5, 0.999], "sampling_group": "session"}, '
            '"train": {"device": "cpu"}, "pose_bin_width": 15}',
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert f"{victim}: corrupt or unreadable image" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigkilled_training_resumes_to_the_same_weights(smoke_run, tmp_path):
    import json
    import os
    import signal
    import time

    import torch

    data = smoke_run / "results/data/synthfaces"
    params = json.dumps(
        {
            "method": {
                "width": 8,
                "code_dim": 8,
                "steps": 600,
                "batch_size": 8,
                "lr": 0.001,
                "betas": [0.5, 0.999],
                "sampling_group": "session",
            },
            "train": {"device": "cpu", "checkpoint_every": 5},
            "pose_bin_width": 15,
        }
    )

    def command(run_dir):
        return [
            sys.executable,
            "-m",
            "bench",
            "train",
            "--method",
            "pose_ae",
            "--seed",
            "4",
            "--threads",
            "1",
            "--data",
            str(data),
            "--run-dir",
            str(run_dir),
            "--params",
            params,
        ]

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        command(killed), cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not (killed / "checkpoints/last.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed / "model.pt").exists(), "training finished before it could be killed"
    subprocess.run(command(killed), cwd=REPO_ROOT, check=True, capture_output=True)
    subprocess.run(command(tmp_path / "straight"), cwd=REPO_ROOT, check=True, capture_output=True)
    resumed = torch.load(killed / "model.pt", weights_only=True)["model"]
    straight = torch.load(tmp_path / "straight/model.pt", weights_only=True)["model"]
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    assert json.loads((killed / "train.json").read_text())["resumed_from"] > 0


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("sedes=[0]", "key 'sedes': unknown key"),
        ("methods=[pose_aee]", "unknown method 'pose_aee'"),
    ],
)
def test_snakemake_refuses_unknown_config_keys_and_methods(tmp_path, override, named):
    result = subprocess.run(
        [*SNAKEMAKE, *SMOKE, "--directory", str(tmp_path), "-n", "--config", override],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
