"""Metrics of an image against its reference image (output vs target, reconstruction vs
input), declared where they are computed and found by the protocols that score pairs.

A metric module under ``bench/metrics/`` that defines ``PAIRED`` (one
:class:`PairedImageMetric` or a tuple of them) is scored wherever a protocol has a
reference image: pose transfer against exact or self-reenactment targets
(``protocols/pose_transfer/scoring.py``) and reconstruction against the input
(``protocols/reconstruction.py``). Its :class:`~bench.metrics.specs.MetricSpec` joins the
registry that ``write_metrics`` validates rows against, so adding such a metric is one
metric file plus a column in ``bench/report/registry.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch

from bench.metrics.specs import MetricSpec


@dataclass(frozen=True)
class PairedImageMetric:
    """``compute(generated, reference) -> [N]`` per image pair, images ``[N,C,H,W]`` in
    [0, 1] (or uint8); the row's name is ``family[qualifier]``, its evaluator ``none``."""

    family: str
    higher_is_better: bool
    qualifier: str
    compute: Callable[[torch.Tensor, torch.Tensor], np.ndarray]

    @property
    def spec(self) -> MetricSpec:
        return MetricSpec(self.family, self.higher_is_better, evaluator="none")

    def values(self, generated: torch.Tensor, reference: torch.Tensor) -> np.ndarray:
        """Per-pair values as a float64 array (a tensor result is converted)."""
        result = self.compute(generated, reference)
        if isinstance(result, torch.Tensor):
            result = result.detach().cpu().numpy()
        return np.asarray(result, dtype=np.float64)


@cache
def paired_metrics() -> tuple[PairedImageMetric, ...]:
    """Every ``PAIRED`` declared by a module of ``bench.metrics``, in module-name order."""
    import bench.metrics as package

    found: list[PairedImageMetric] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in {"paired", "specs"}:
            continue
        declared = getattr(importlib.import_module(f"bench.metrics.{info.name}"), "PAIRED", ())
        declared = declared if isinstance(declared, tuple) else (declared,)
        for metric in declared:
            if not isinstance(metric, PairedImageMetric):
                raise TypeError(
                    f"bench/metrics/{info.name}.py: PAIRED must hold PairedImageMetric, "
                    f"got {type(metric).__name__}"
                )
            found.append(metric)
    families = [metric.family for metric in found]
    duplicated = sorted({family for family in families if families.count(family) > 1})
    if duplicated:
        raise ValueError(f"paired metric families declared twice: {', '.join(duplicated)}")
    return tuple(found)
