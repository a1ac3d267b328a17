"""A run's seed: trained (``3``), scored at its initialisation (``0-untrained``), and, for a
method trained per K, trained at one K of protocol 1 (``0-k8``, ``0-untrained-k1``).

Which methods train one model per K is declared in one place: the method config key
``per_k`` (``methods/<name>/config.yaml``), read by :func:`per_k_mode`. Absent, one model
is trained (at its config's ``k_train``) and scored at every K of protocol 1.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bench.errors import ConfigError

#: The method config key that declares per-K training, and its values: ``one`` (or no
#: key): one model scored at every K (e.g. ``method_overrides: {caingan: {per_k: one}}``);
#: ``trained``: one trained model per K (``k_train`` = the row's K), as the paper trains
#: them ("CainGAN (8)" and "CainGAN (1)"); the untrained row is one model scored at every
#: K, since K does not change the networks. ``all``: the untrained rows per K too, for a
#: method whose networks K shapes (pix2pixhd_kshot's input width, 6K + 3 channels).
PER_K_KEY = "per_k"
PER_K_MODES = ("one", "trained", "all")


@dataclass(frozen=True)
class RunSeed:
    """A run's ``--seed``: ``3`` is seed 3 trained; ``0-untrained`` is seed 0 at step 0;
    ``0-k8`` is seed 0 trained with ``k_train: 8`` and scored at K = 8 only.

    Untrained runs are the rows that show what training adds: the same networks, the
    same seed, scored at their initialisation (table rows ``<method> (untrained)``).
    The K of a per-K run is not in its label: the rows of ``0-k1`` and ``0-k8`` are one
    method's rows at K = 1 and K = 8, and their seed (0) is counted once.
    """

    seed: int
    untrained: bool = False
    k: int | None = None

    def __str__(self) -> str:
        """The wildcard text: ``3``, ``0-untrained``, ``0-k8``, ``0-untrained-k1``."""
        untrained = "-untrained" if self.untrained else ""
        k = f"-k{self.k}" if self.k is not None else ""
        return f"{self.seed}{untrained}{k}"

    def label(self, method: str) -> str:
        return f"{method} (untrained)" if self.untrained else method

    def method_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The method config this run trains with: an untrained run is built, seeded and
        saved, never stepped (``steps: 0``); a per-K run trains with ``k_train`` = its K.
        The one place that rule lives: the DAG's train params and ``python -m bench
        train`` both call it."""
        out = {**config, "steps": 0} if self.untrained else dict(config)
        if self.k is not None:
            if "k_train" not in config:
                raise ConfigError(
                    f"seed {str(self)!r} trains at K = {self.k}, but the method config has "
                    "no 'k_train' key: only K-shot methods train per K"
                )
            out["k_train"] = self.k
        return out

    def k_values(self, protocol_k: list[int], not_applicable: Iterable[int] = ()) -> list[int]:
        """The K of protocol 1 this run synthesizes and scores: every K, or a per-K run's
        own. The K at which the method is not applicable (``Method.not_applicable_k``)
        have no run of their own; the largest K's run lists them, so that its scores carry
        their marker rows (the tables print the reason there)."""
        if self.k is None:
            return list(protocol_k)
        if self.k not in protocol_k:
            raise ConfigError(
                f"seed {str(self)!r}: K = {self.k} is not in protocols.pose_transfer.k "
                f"{list(protocol_k)}"
            )
        skipped = set(not_applicable)
        carrier = self.k == max(applicable_k(protocol_k, skipped))
        return [k for k in protocol_k if k == self.k or (carrier and k in skipped)]


def run_seed(text: str) -> RunSeed:
    """Parse ``--seed`` (also a Snakemake ``{seed}`` wildcard)."""
    match = re.fullmatch(r"(\d+)(-untrained)?(?:-k([1-9]\d*))?", text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid seed {text!r}: use a number (3), a number with -untrained "
            "(0-untrained), and for a method trained per K a K suffix (0-k8, 0-untrained-k1)"
        )
    return RunSeed(int(match[1]), match[2] is not None, int(match[3]) if match[3] else None)


def per_k_mode(method_config: dict[str, Any], method: str) -> str | None:
    """A method's resolved config's ``per_k``: ``trained``, ``all`` or None (one model:
    no key, or ``one``)."""
    mode = method_config.get(PER_K_KEY)
    if mode is not None and mode not in PER_K_MODES:
        raise ConfigError(
            f"methods/{method}/config.yaml: key {PER_K_KEY!r}: {mode!r} is not one of "
            f"{', '.join(PER_K_MODES)} (one: one model scored at every K)"
        )
    if mode in (None, "one"):
        return None
    if "k_train" not in method_config:
        raise ConfigError(
            f"methods/{method}/config.yaml: key {PER_K_KEY!r}: {mode!r} needs a 'k_train' "
            "key, the K that each per-K model trains with"
        )
    return mode


def protocol_k(config: dict[str, Any]) -> list[int]:
    """Protocol 1's K list (``protocols.pose_transfer.k``): the K that per-K runs train at."""
    return list(config["protocols"]["pose_transfer"]["k"])


def applicable_k(protocol_k: list[int], not_applicable: Iterable[int] = ()) -> list[int]:
    """The K of protocol 1 that a per-K method trains a run for, in K order: those where it
    is applicable (all of them are not: the largest, whose run writes the marker rows)."""
    skipped = set(not_applicable)
    return sorted({k for k in protocol_k if k not in skipped}) or [max(protocol_k)]


def method_runs(
    seeds: list[int],
    protocol_k: list[int],
    mode: str | None,
    untrained: bool,
    not_applicable: Iterable[int] = (),
) -> tuple[list[RunSeed], list[RunSeed]]:
    """A method's trained runs and its untrained runs (``untrained``: the first seed's).

    Without ``per_k``, one run per seed; with it, one run per (seed, K), in K order, but
    none at a K in ``not_applicable`` (``caingan_mean`` at K = 1: nothing is synthesized
    there; see ``RunSeed.k_values``). The untrained row is per K only under ``per_k:
    all`` (the networks depend on K).
    """
    ks = applicable_k(protocol_k, not_applicable) if mode else [None]
    trained = [RunSeed(s, False, k) for s in seeds for k in ks]
    untrained_ks = ks if mode == "all" else [None]
    first = [RunSeed(seeds[0], True, k) for k in untrained_ks] if untrained else []
    return trained, first


def protocol_k_of_run(run: RunSeed, wanted: list[int], trained_k: list[int]) -> list[int]:
    """The K of a protocol with its own K list (``protocols.sequence.k``) that a run
    scores: every K, or for a per-K run (``trained_k``: the K its method has runs of) the
    wanted K it was trained at, and on each seed's largest-K run the wanted K that no
    per-K run was trained at."""
    if run.k is None:
        return list(wanted)
    largest = run.k == max(trained_k)
    return [k for k in wanted if k == run.k or (largest and k not in trained_k)]


def one_model_per_seed(runs: list[RunSeed]) -> list[RunSeed]:
    """The runs that the stages without K (representation, reconstruction, pose sweep)
    use: of each (seed, untrained) group of per-K runs, the largest K (the paper's, K = 8
    for CainGAN); runs without K pass through."""
    largest: dict[tuple[int, bool], RunSeed] = {}
    for run in runs:
        key = (run.seed, run.untrained)
        if key not in largest or (run.k or 0) > (largest[key].k or 0):
            largest[key] = run
    return [run for run in runs if largest[(run.seed, run.untrained)] is run]


def check_per_k_requirements(config: dict[str, Any], source: str = "config") -> None:
    """Raise ``ConfigError`` if a method trained per K cannot draw its items at some K of
    protocol 1 (``k_train`` = K sources plus a target of one clip): the check that
    ``bench.methods.requirements.check_requirements`` makes at the config's ``k_train``."""
    from bench.methods.registry import get_method
    from bench.methods.requirements import check_sampling_requirements, dataset_groupings

    for name in config["methods"]:
        spec = get_method(name)
        resolved = spec.resolved_config(config["scale"], config["method_overrides"].get(name, {}))
        if per_k_mode(resolved, name) is None:
            continue
        for k in applicable_k(protocol_k(config), spec.cls.not_applicable_k):
            sampling = spec.cls.sampling_for(RunSeed(0, k=k).method_config(resolved))
            for dataset in config["datasets"]:
                try:
                    groupings = dataset_groupings(dataset, config[dataset])
                    check_sampling_requirements(name, sampling, dataset, groupings)
                except ConfigError as error:
                    raise ConfigError(
                        f"{source}: {name!r} trains one model per K ({PER_K_KEY}), at "
                        f"K = {k} of protocols.pose_transfer.k: {error}"
                    ) from error
