"""bench/preload_server.py: jobs forked from one process that imported torch once.

Each test starts a real server process on a socket in ``tmp_path`` and runs real
``python -m bench`` clients through it; the smoke DAG's byte-identical tables with and
without the server are checked in tests/test_pipeline.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import REPO_ROOT, preload_server

PY = sys.executable


@pytest.fixture
def server(tmp_path):
    """A server with only numpy preloaded (fast to start), its socket path and log."""
    sock = tmp_path / "s.sock"
    log = tmp_path / "server.log"
    code = (
        "import sys; from bench import preload_server as p; p.PRELOAD = ('numpy',); "
        "sys.exit(p.main(sys.argv[1:]))"
    )
    with log.open("w") as handle:
        process = subprocess.Popen(
            [PY, "-c", code, "--socket", str(sock), "--idle-exit", "120"],
            cwd=REPO_ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while not sock.exists():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not listen within 120 s"
        time.sleep(0.1)
    yield sock, log
    process.terminate()
    process.wait(timeout=30)


def bench(args: list[str], cwd: Path, sock: Path | None, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k not in {preload_server.ENV, "SLURM_JOB_ID"}}
    if sock is not None:
        environ[preload_server.ENV] = str(sock)
    environ.update(env)
    return subprocess.Popen(
        [PY, "-m", "bench", *args],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def last_line(text: str) -> str:
    """The last line without a log line's leading clock time."""
    lines = text.splitlines() or [""]
    return re.sub(r"^\d\d:\d\d:\d\d ", "", lines[-1])


def records(log: Path) -> list[dict]:
    """The server's JSON line per finished job."""
    lines = log.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def jobs_served(log: Path) -> int:
    return len(records(log))


def test_a_job_through_the_server_prints_and_exits_as_a_fresh_process(server, tmp_path):
    sock, log = server
    for args in (["methods"], ["nosuchstage"], ["validate-config", str(tmp_path / "none.yaml")]):
        fresh = bench(args, REPO_ROOT, None)
        served = bench(args, REPO_ROOT, sock)
        out_fresh, err_fresh = fresh.communicate(timeout=300)
        out_served, err_served = served.communicate(timeout=300)
        assert served.returncode == fresh.returncode, (args, err_served)
        assert out_served == out_fresh
        assert last_line(err_served) == last_line(err_fresh)
    assert fresh.returncode != 0  # the missing config file is an error
    assert jobs_served(log) == 3


def test_the_job_runs_in_the_clients_directory_and_environment(server, tmp_path):
    sock, log = server
    config = tmp_path / "bad.yaml"
    config.write_text("methods: [no_such_method]\n")
    served = bench(["validate-config", "--log", "v.log", "bad.yaml"], tmp_path, sock)
    _, err = served.communicate(timeout=300)
    assert served.returncode != 0
    assert "no_such_method" in err  # read relative to the client's working directory
    assert "no_such_method" in (tmp_path / "v.log").read_text()
    (record,) = records(log)  # its CPU and memory, which Snakemake's benchmark cannot see
    assert record["code"] == served.returncode and record["log"] == "v.log"
    assert record["cpu_s"] > 0 and record["max_rss_mb"] > 10 and record["wall_s"] > 0


def blocked_job(sock: Path, log: Path, folder: Path) -> subprocess.Popen:
    """A served job that blocks ('python -m bench' reading a config from a FIFO nobody
    writes), returned once the server has forked it."""
    fifo = folder / "config.yaml"
    os.mkfifo(fifo)
    client = bench(["validate-config", str(fifo)], folder, sock)
    deadline = time.monotonic() + 120
    while "job " not in log.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return client


def test_sigterm_to_the_client_reaches_the_job_and_its_status_comes_back(server, tmp_path):
    sock, log = server
    client = blocked_job(sock, log, tmp_path)
    time.sleep(1.0)
    client.send_signal(signal.SIGTERM)
    client.communicate(timeout=60)
    assert client.returncode == -signal.SIGTERM
    assert [r["signal"] for r in records(log)] == [signal.SIGTERM]


def test_a_killed_client_takes_its_job_with_it(server, tmp_path):
    sock, log = server
    client = blocked_job(sock, log, tmp_path)
    deadline = time.monotonic() + 120
    client.kill()
    client.wait(timeout=30)
    while not records(log):  # the server stops the orphan
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert records(log)[0]["signal"] == signal.SIGTERM


def test_no_server_a_dead_socket_or_a_slurm_job_runs_in_this_process(server, tmp_path, monkeypatch):
    sock, log = server
    monkeypatch.delenv(preload_server.ENV, raising=False)
    assert preload_server.run_via_server(["methods"]) is None
    monkeypatch.setenv(preload_server.ENV, str(tmp_path / "absent.sock"))
    assert preload_server.run_via_server(["methods"]) is None
    monkeypatch.setenv(preload_server.ENV, str(sock))
    monkeypatch.setenv("SLURM_JOB_ID", "17")
    assert preload_server.run_via_server(["methods"]) is None
    assert jobs_served(log) == 0


def test_a_client_of_another_python_or_bench_copy_is_refused(server, monkeypatch):
    sock, log = server
    monkeypatch.setenv(preload_server.ENV, str(sock))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    other = {"executable": "/elsewhere/python", "bench": preload_server._bench_root()}
    monkeypatch.setattr(preload_server, "_identity", lambda: other)
    assert preload_server.run_via_server(["methods"]) is None
    assert jobs_served(log) == 0
    assert "job " not in log.read_text()


def test_the_server_exits_when_its_parent_is_gone(tmp_path):
    sock = tmp_path / "s.sock"
    code = (
        "import sys; from bench import preload_server as p; p.PRELOAD = (); "
        "sys.exit(p.main(sys.argv[1:]))"
    )
    parent = subprocess.Popen([PY, "-c", "import time; time.sleep(600)"])
    server = subprocess.Popen(
        [PY, "-c", code, "--socket", str(sock), "--parent", str(parent.pid)], cwd=REPO_ROOT
    )
    deadline = time.monotonic() + 120
    while not sock.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    parent.kill()
    parent.wait()
    assert server.wait(timeout=60) == 0
    assert not sock.exists()


def test_start_and_stop_set_and_clear_the_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.delenv(preload_server.ENV, raising=False)
    process, folder = preload_server.start_server(PY, tmp_path / "logs" / "server.log")
    try:
        assert os.environ[preload_server.ENV] == str(folder / "socket")
    finally:
        preload_server.stop_server(process, folder)
    assert preload_server.ENV not in os.environ
    assert process.returncode is not None
    assert not folder.exists()
