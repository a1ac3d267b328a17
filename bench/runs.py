"""A run's seed: trained (``3``) or scored at its initialisation (``0-untrained``)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunSeed:
    """A run's ``--seed``: ``3`` is seed 3 trained; ``0-untrained`` is seed 0 at step 0.

    Untrained runs are the rows that show what training adds: the same networks, the
    same seed, scored at their initialisation (table rows ``<method> (untrained)``).
    """

    seed: int
    untrained: bool = False

    def label(self, method: str) -> str:
        return f"{method} (untrained)" if self.untrained else method

    def method_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The method config this run trains with: an untrained run is built, seeded and
        saved, never stepped (``steps: 0``). The one place that rule lives: the DAG's
        train params and ``python -m bench train`` both call it."""
        return {**config, "steps": 0} if self.untrained else dict(config)


def run_seed(text: str) -> RunSeed:
    """Parse ``--seed`` (also a Snakemake ``{seed}`` wildcard)."""
    match = re.fullmatch(r"(\d+)(-untrained)?", text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid seed {text!r}: use a number (3) or a number with -untrained (0-untrained)"
        )
    return RunSeed(int(match[1]), match[2] is not None)
