"""One ``Score`` type for every ``metrics.json`` row, and the ``k<K>_<kind>`` key helper.

Every protocol builds its rows through the constructors here: :meth:`Score.from_values`
(a mean over per-item values with a percentile bootstrap interval), :meth:`Score.measured`
(one value computed over all items), :meth:`Score.unavailable` (n/a because an evaluator or
an input is missing) and :meth:`Score.not_applicable_because` (a method is by definition
not scored there). The direction and evaluator come from the metric's
:class:`~bench.metrics.specs.MetricSpec`, declared once. :meth:`Score.to_row` gives the row
``write_metrics`` stores (the keys the tables read); ``write_metrics`` validates it with
:func:`validate_row`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from bench.metrics.specs import CORE_KEYS, NOT_APPLICABLE, OPTIONAL_KEYS, MetricSpec, spec_of


class _Absent:
    """The marker of an optional field a row does not carry (distinct from a stored null)."""

    def __repr__(self) -> str:
        return "ABSENT"


#: ``ci95``, ``spread`` or ``evaluator_floor`` left out of the row (not stored as null).
ABSENT: Any = _Absent()


def bootstrap_interval(
    values: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def kind_key(k: int, kind: str) -> str:
    """The ``generated.npz`` key of K sources and a driver kind: ``k8_cross``."""
    return f"k{k}_{kind}"


_KIND_KEY = re.compile(r"k(\d+)_(\w+)")


def parse_kind_key(key: str) -> tuple[int, str]:
    """``"k8_cross"`` -> ``(8, "cross")``; any other key is an error naming it."""
    match = _KIND_KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"{key!r} is not a k<K>_<kind> key (such as k8_cross)")
    return int(match[1]), match[2]


@dataclass(frozen=True)
class Score(Mapping[str, Any]):
    """One score row: what was measured (family, evaluator, qualifier), where (protocol,
    kind, K), its value over ``n`` items and how sure it is (``ci95``, ``spread``).

    It reads as its stored row (``score["metric"]``, ``{**score}``), so code that reads
    rows reads a ``Score`` the same way.
    """

    family: str
    evaluator: str
    value: float
    n: int
    higher_is_better: bool | None
    protocol: str
    kind: str
    k: int
    #: Text in the metric's brackets when it is not the evaluator (``gauss11-1.5`` of SSIM,
    #: ``identity-code/cosine/cross-scene`` of a verification row).
    qualifier: str | None = None
    ci95: Any = ABSENT
    spread: Any = ABSENT
    evaluator_floor: Any = ABSENT
    na_reason: str | None = None
    not_applicable: str | None = None
    #: Protocol-specific fields the spec declares (``n_used``, ``code``, ...).
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        """The row's metric name: ``family[qualifier]``, ``family[evaluator]`` or ``family``."""
        inside = self.qualifier or (self.evaluator if self.evaluator != "none" else None)
        return f"{self.family}[{inside}]" if inside else self.family

    @classmethod
    def measured(
        cls,
        spec: MetricSpec,
        value: float,
        n: int,
        *,
        protocol: str,
        kind: str,
        k: int,
        evaluator: str | None = None,
        **fields: Any,
    ) -> Score:
        """A value computed once over ``n`` items; direction and evaluator from ``spec``."""
        extra = dict(fields.pop("extra", {}))
        evaluator = spec.evaluator_for(evaluator)
        return cls(
            family=spec.family,
            evaluator=evaluator,
            value=float(value),
            n=int(n),
            higher_is_better=spec.direction(kind, extra),
            protocol=protocol,
            kind=kind,
            k=k,
            extra=extra,
            **fields,
        )

    @classmethod
    def from_values(
        cls,
        spec: MetricSpec,
        values: np.ndarray,
        bootstrap: tuple[int, int],
        n: int | None = None,
        **fields: Any,
    ) -> Score:
        """The mean of per-item ``values`` with its percentile bootstrap interval
        (``bootstrap``: resamples and seed). ``n``: the items the score stands for where
        more were scored than have a value (a missed face is counted, not dropped)."""
        values = np.asarray(values)
        low, high = bootstrap_interval(values, *bootstrap)
        count = len(values) if n is None else n
        return cls.measured(spec, float(np.mean(values)), count, ci95=[low, high], **fields)

    @classmethod
    def unavailable(cls, spec: MetricSpec, reason: str, n: int, **fields: Any) -> Score:
        """n/a because an evaluator or input is missing: value NaN and the reason."""
        return cls.measured(spec, float("nan"), n, na_reason=reason, **fields)

    @classmethod
    def not_applicable_because(cls, reason: str, *, protocol: str, kind: str, k: int) -> Score:
        """A marker row: the method is by definition not scored at (protocol, kind, K);
        the tables print ``reason`` instead of scores."""
        spec = spec_of(NOT_APPLICABLE)
        return cls.measured(
            spec, float("nan"), 0, protocol=protocol, kind=kind, k=k, not_applicable=reason
        )

    @cached_property
    def _row(self) -> dict[str, Any]:
        return self.to_row()

    def __getitem__(self, key: str) -> Any:
        return self._row[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def to_row(self) -> dict[str, Any]:
        """The ``metrics.json`` row (before the run context is added)."""
        row: dict[str, Any] = {
            "metric": self.metric,
            "value": self.value,
            "n": self.n,
            "higher_is_better": self.higher_is_better,
            "evaluator": self.evaluator,
            "protocol": f"{self.protocol}/{self.kind}",
            "k": self.k,
        }
        for key in ("ci95", "spread", "evaluator_floor"):
            if getattr(self, key) is not ABSENT:
                row[key] = getattr(self, key)
        if self.na_reason is not None:
            row["na_reason"] = self.na_reason
        if self.not_applicable is not None:
            row["not_applicable"] = self.not_applicable
        row.update(self.extra)
        return row


def validate_row(row: Mapping[str, Any]) -> None:
    """A row as the tables read it: every core key, no key its metric does not declare,
    the declared direction and evaluator. Raises ``ValueError`` naming the metric."""
    metric = row.get("metric", "<no metric>")
    missing = [key for key in CORE_KEYS if key not in row]
    if missing:
        raise ValueError(f"metric {metric}: row is missing {', '.join(missing)}")
    family = str(metric).split("[", 1)[0]
    try:
        spec = spec_of(family)
    except KeyError as error:
        raise ValueError(f"metric {metric}: {error.args[0]}") from None
    allowed = set(CORE_KEYS) | set(OPTIONAL_KEYS) | spec.extras
    unknown = sorted(set(row) - allowed)
    if unknown:
        raise ValueError(f"metric {metric}: unknown key(s) {', '.join(unknown)}")
    kind = str(row["protocol"]).partition("/")[2]
    expected = spec.direction(kind, row)
    if row["higher_is_better"] is not expected:
        raise ValueError(
            f"metric {metric}: higher_is_better is {row['higher_is_better']!r}, "
            f"its spec declares {expected!r} (protocol {row['protocol']})"
        )
    if spec.evaluator is not None and row["evaluator"] != spec.evaluator:
        raise ValueError(
            f"metric {metric}: evaluator is {row['evaluator']!r}, "
            f"its spec declares {spec.evaluator!r}"
        )
