"""Process-level helpers every layer may use: seeding, atomic checkpoints, logs, threads.

They sit below ``bench/data``, ``bench/evaluators`` and ``bench/train.py`` (docs/DESIGN.md:
data flows top to bottom), so an evaluator that trains its own network saves and seeds
it the way the training loop does without importing the loop, and a data module's CLI
sets up logging without importing ``bench.cli``.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import CheckpointError

#: The version of every harness checkpoint (methods and SynthFaces evaluators).
CHECKPOINT_FORMAT = 1


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices) from one integer."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """Write ``obj`` to ``path`` so that a kill mid-write never leaves a truncated file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_weights_only(path: Path, what: str) -> Any:
    """``torch.load`` on the CPU with ``weights_only=True``; an unreadable file is a
    ``CheckpointError`` naming the path and ``what`` it should have been."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(
            f"{path}: unreadable {what} ({type(error).__name__}: {error})"
        ) from error


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a harness checkpoint with ``weights_only=True``; unreadable files name the path."""
    state = load_weights_only(path, "checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path}: not an idpose-bench checkpoint (format {CHECKPOINT_FORMAT})"
        )
    return state


def setup_logging(log_file: str | None, verbose: bool = False) -> None:
    """Readable logs to stderr and, when given, to the rule's log file."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=handlers,
        force=True,
    )


_THREAD_LIMITS = []  # keeps the threadpoolctl limits alive for the process


def set_threads(threads: int | None) -> None:
    """Cap torch's intra-op threads and the BLAS/OpenMP pools of numpy, scipy and sklearn.

    The DAG runs several one-thread jobs side by side; an uncapped OpenBLAS starts one
    thread per core in each, and the oversubscribed cores made KID's matmuls 5x slower.
    """
    if threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        _THREAD_LIMITS.append(threadpool_limits(limits=threads))
