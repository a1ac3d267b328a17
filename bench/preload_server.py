"""A local preload server: torch imported once, one forked child per ``python -m bench`` job.

Every DAG rule runs ``python -m bench <stage>`` in a fresh interpreter, which imports torch
and the scientific stack before it does any work: 1.5-3.6 s of CPU per job on this
project's 2-core reference machine (``benchmarks/job_cpu_breakdown.py``), two thirds or
more of most non-training jobs. For local runs the Snakefile starts this server once
(``onstart``, config ``runtime.preload_server``); it imports :data:`PRELOAD` and waits on a
Unix socket. ``python -m bench`` (``bench/__main__.py``) finds the socket through the
environment variable :data:`ENV`, hands over its argument list, working directory,
environment and its stdin/stdout/stderr file descriptors, and the server forks a child
that runs :func:`bench.cli.main` exactly as the fresh process would have, writing to the
job's own log and stdout. The job's process stays the job: it forwards SIGTERM, SIGINT
and SIGHUP to the child and exits with the child's status, so Snakemake's cancellation,
exit codes and benchmark files are unchanged (the benchmark's CPU time no longer counts
the imports the server did once).

Nothing is shared between jobs but the imported, never-used library modules: the server
imports no ``bench`` module but this one (the child imports the code on disk, as a fresh
process would), runs no torch operation and touches no GPU before it forks, and each child sets
its threads and seeds as every job does. The smoke DAG's tables are byte-identical with
and without the server (``tests/test_preload_server.py``).

The job runs in the fresh process instead (no error, a debug line) when the variable is
unset, the socket does not answer, the server runs another Python or another copy of
``bench``, or the job runs inside a SLURM allocation (``SLURM_JOB_ID``): a cluster job
must run on its own node, inside its own allocation. The server exits when the process
that started it is gone, on SIGTERM, or after ``--idle-exit`` seconds without a job.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

#: Environment variable holding the server's socket path.
ENV = "IDPOSE_PRELOAD_SOCKET"
#: Imported once by the server: the libraries nearly every stage imports. No ``bench``
#: module, so each job runs the code on disk.
PRELOAD = (
    "numpy",
    "torch",
    "torchvision",
    "PIL.Image",
    "scipy.linalg",
    "scipy.stats",
    "pandas",
    "sklearn.metrics",
    "matplotlib.pyplot",
    "tqdm",
    "yaml",
)
_HEADER = struct.Struct("!I")
_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _bench_root() -> str:
    return str(Path(__file__).resolve().parent)


def _identity() -> dict[str, str]:
    """What a client and the server must share for a child to run the client's code."""
    return {"executable": os.path.realpath(sys.executable), "bench": _bench_root()}


# --------------------------------------------------------------------------- the client


def run_via_server(argv: list[str]) -> int | None:
    """Run ``python -m bench argv`` in a child of the server; None: run it in this process."""
    path = os.environ.get(ENV)
    if not path or os.environ.get("SLURM_JOB_ID"):
        return None
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return None
    with conn:
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), **_identity()}
        body = json.dumps(request).encode()
        try:
            socket.send_fds(conn, [_HEADER.pack(len(body))], [0, 1, 2])
            conn.sendall(body)
            reader = conn.makefile("r")
            first = json.loads(reader.readline() or "null")
        except (OSError, ValueError):
            return None
        if not first or "pid" not in first:
            return None  # refused (another Python or bench copy): run here
        child = int(first["pid"])
        previous = {sig: signal.signal(sig, _forwarder(child)) for sig in _SIGNALS}
        try:
            line = reader.readline()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    status = json.loads(line) if line else {"signal": int(signal.SIGKILL)}
    if "signal" in status:  # the child died of a signal: so does this process
        sig = int(status["signal"])
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return int(status["code"])


def _forwarder(child: int):  # noqa: ANN202 (a signal handler)
    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    return forward


# --------------------------------------------------------------------------- the server


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, _HEADER.size, 3)
    if len(data) != _HEADER.size or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise OSError("a request without its header and three file descriptors")
    (size,) = _HEADER.unpack(data)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise OSError("a request cut short")
        body += chunk
    return json.loads(body), fds


def _child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the job's process, run it, never return."""
    code = 1
    try:
        for sig in (*_SIGNALS, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        with contextlib.suppress(OSError):  # Linux: `top` and `ps -o comm` show the stage
            Path("/proc/self/comm").write_text(" ".join(["bench", *request["argv"][:1]])[:15])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [str(Path(_bench_root()) / "__main__.py"), *request["argv"]]
        sys.path[0] = request["cwd"]  # what ``python -m`` puts first
        from bench.cli import main

        code = main(request["argv"])
    except SystemExit as stop:  # as the interpreter reads it: None 0, an int itself, else 1
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 (the job's traceback, as a fresh process prints it)
        traceback.print_exc()
        code = 1
    finally:
        atexit._run_exitfuncs()  # what a fresh process runs at exit (logging.shutdown, ...)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream: nothing left to flush
                stream.flush()
        os._exit(code)


@dataclass
class _Job:
    """A served job: its client's connection, when it started (monotonic) and its argv."""

    conn: socket.socket
    start: float
    argv: list[str]


class Server:
    """The accept-fork-reap loop: one thread, so forking never copies a held lock."""

    def __init__(self, path: Path, parent: int, idle_exit: float) -> None:
        self.path, self.parent, self.idle_exit = path, parent, idle_exit
        self.jobs: dict[int, _Job] = {}  # child pid -> its job
        self.selector = selectors.DefaultSelector()
        self.stopping = False

    def serve(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.path.unlink(missing_ok=True)
        listener.bind(str(self.path))
        listener.listen(64)
        self.selector.register(listener, selectors.EVENT_READ, "listen")
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        last = time.monotonic()
        try:
            while not self.stopping and _alive(self.parent):
                for key, _ in self.selector.select(timeout=0.05):
                    if key.data == "listen":
                        self._accept(listener)
                    else:  # a client closed its end (killed): stop its child
                        self._client_gone(key.fileobj, key.data)
                self._reap()
                if self.jobs:
                    last = time.monotonic()
                elif self.idle_exit and time.monotonic() - last > self.idle_exit:
                    break
        finally:
            listener.close()
            self.path.unlink(missing_ok=True)
            for pid in list(self.jobs):
                _kill(pid, signal.SIGTERM)

    def _accept(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError):
            conn.close()
            return
        if {key: request.get(key) for key in _identity()} != _identity():
            for fd in fds:
                os.close(fd)
            conn.sendall(b'{"refused": "another Python or bench copy"}\n')
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            self.selector.close()
            listener.close()
            conn.close()
            _child(request, fds)
        for fd in fds:
            os.close(fd)
        self.jobs[pid] = _Job(conn, time.monotonic(), list(request["argv"]))
        print(f"job {pid}: {' '.join(request['argv'][:1])} in {request['cwd']}", flush=True)
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        self.selector.register(conn, selectors.EVENT_READ, pid)

    def _record(self, pid: int, job: _Job, reply: dict, usage: os.struct_rusage) -> None:
        """One JSON line per finished job: its status, --log, wall, CPU and peak memory.

        A served job's CPU is not in Snakemake's benchmark file (the child is the server's,
        not the job shell's); ``benchmarks/dag_job_times.py`` reads it from these lines.
        """
        argv = job.argv
        log = argv[argv.index("--log") + 1] if "--log" in argv[:-1] else None
        record = {
            "job": pid,
            **reply,
            "log": log,
            "wall_s": round(time.monotonic() - job.start, 3),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }
        print(json.dumps(record), flush=True)

    def _client_gone(self, conn: socket.socket, pid: int) -> None:
        self.selector.unregister(conn)
        _kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while self.jobs:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job = self.jobs.pop(pid, None)
            if job is None:
                continue
            if os.WIFSIGNALED(status):
                reply = {"signal": os.WTERMSIG(status)}
            else:
                reply = {"code": os.waitstatus_to_exitcode(status)}
            self._record(pid, job, reply, usage)
            with contextlib.suppress(KeyError):
                self.selector.unregister(job.conn)
            with contextlib.suppress(OSError):
                job.conn.sendall(json.dumps(reply).encode() + b"\n")
            job.conn.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def start_server(python: str, log: Path) -> tuple[subprocess.Popen, Path]:
    """Start a server for this process's jobs (it exits with this process); set :data:`ENV`.

    Returns the server process and the folder of its socket, for :func:`stop_server`.
    Jobs started before the server listens run in their own process. The log is appended
    to, so the job records of an earlier run in the same folder stay.
    """
    folder = Path(tempfile.mkdtemp(prefix="idpose-preload-"))  # short: a socket path < 108 B
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "bench.preload_server", "--socket", str(folder / "socket")]
    with log.open("a") as handle:  # its own session: a Ctrl-C reaches the jobs, not it
        process = subprocess.Popen(
            [*command, "--parent", str(os.getpid())],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    os.environ[ENV] = str(folder / "socket")
    return process, folder


def stop_server(process: subprocess.Popen, folder: Path) -> None:
    """Stop a server of :func:`start_server` and remove its socket's folder."""
    os.environ.pop(ENV, None)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import what is installed of ``modules``; the names imported."""
    done = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        done.append(name)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.preload_server", description=__doc__)
    parser.add_argument("--socket", type=Path, required=True, help="Unix socket to listen on")
    parser.add_argument("--parent", type=int, default=os.getppid(), help="exit when it is gone")
    parser.add_argument("--idle-exit", type=float, default=0.0, help="seconds; 0: never")
    args = parser.parse_args(argv)
    started = time.process_time()
    names = preload()
    print(f"preloaded {', '.join(names)} in {time.process_time() - started:.2f} s CPU", flush=True)
    Server(args.socket, args.parent, args.idle_exit).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
