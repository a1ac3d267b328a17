"""The one Score type: its constructors, its row, and write_metrics' validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.errors import DataError
from bench.metrics.specs import spec_of
from bench.protocols.results import write_metrics
from bench.score import Score, kind_key, parse_kind_key, validate_row

WHERE = {"protocol": "pose_transfer", "kind": "cross", "k": 8}


def test_from_values_is_the_mean_with_a_numpy_percentile_bootstrap() -> None:
    values = np.random.default_rng(3).normal(size=57)
    score = Score.from_values(
        spec_of("csim_target"), values, (500, 7), evaluator="synth-oracle", spread="s", **WHERE
    )
    rng = np.random.default_rng(7)  # the reference: resample tuples, mean, 2.5/97.5 percentiles
    means = np.array([values[rng.integers(0, 57, 57)].mean() for _ in range(500)])
    assert score.value == pytest.approx(values.mean())
    assert score.ci95 == pytest.approx(list(np.percentile(means, [2.5, 97.5])))
    row = score.to_row()
    assert row["metric"] == "csim_target[synth-oracle]" and row["n"] == 57
    assert row["higher_is_better"] is True and row["protocol"] == "pose_transfer/cross"
    assert "na_reason" not in row and "evaluator_floor" not in row
    validate_row(row)


def test_unavailable_row_keeps_the_direction_and_carries_the_reason() -> None:
    row = Score.unavailable(
        spec_of("fid"), "no weights at /x.pth", 40, spread="none", evaluator_floor=None, **WHERE
    ).to_row()
    assert np.isnan(row["value"]) and row["na_reason"] == "no weights at /x.pth"
    assert row["metric"] == "fid[inception-v3-pool3]" and row["higher_is_better"] is False
    assert row["evaluator"] == "inception-v3-pool3" and "ci95" not in row
    validate_row(row)


def test_not_applicable_row_has_no_direction_and_no_score_fields() -> None:
    row = Score.not_applicable_because("why", protocol="disentanglement", kind="all-codes", k=1)
    assert dict(row) == {
        "metric": "not_applicable",
        "value": pytest.approx(float("nan"), nan_ok=True),
        "n": 0,
        "higher_is_better": None,
        "evaluator": "none",
        "not_applicable": "why",
        "protocol": "disentanglement/all-codes",
        "k": 1,
    }
    validate_row(row)


def test_spec_fixes_the_evaluator_and_context_directions() -> None:
    with pytest.raises(ValueError, match="fd is scored by synth-oracle, not other"):
        Score.measured(spec_of("fd"), 1.0, 3, evaluator="other", **WHERE)
    probe = {"protocol": "representation", "kind": "probe", "k": 1}
    identity = Score.measured(spec_of("probe_pose_r2"), 0.1, 9, extra={"code": "identity"}, **probe)
    pose = Score.measured(spec_of("probe_pose_r2"), 0.9, 9, extra={"code": "pose"}, **probe)
    assert identity["higher_is_better"] is False and pose["higher_is_better"] is True
    leak = {"protocol": "representation", "kind": "leakage", "k": 1}
    assert Score.measured(spec_of("verification_eer"), 0.4, 9, **leak).higher_is_better is None


def _row(**change: object) -> dict:
    row = Score.measured(spec_of("aed_id"), 0.5, 10, evaluator="dlib-resnet", **WHERE).to_row()
    return {**row, **change}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (_row(higher_is_better=True), "aed_id\\[dlib-resnet\\]: higher_is_better is True"),
        (_row(colour="red"), "aed_id\\[dlib-resnet\\]: unknown key\\(s\\) colour"),
        ({k: v for k, v in _row().items() if k != "n"}, "aed_id\\[dlib-resnet\\]: .*missing n"),
        (_row(metric="blur[x]"), "blur\\[x\\]: unknown metric family 'blur'"),
        (_row(metric="fd[synth-oracle]", evaluator="x"), "fd\\[synth-oracle\\]: evaluator"),
    ],
)
def test_write_metrics_rejects_a_bad_row_naming_the_metric(
    tmp_path: Path, row: dict, message: str
) -> None:
    path = tmp_path / "metrics.json"
    good = _row()
    with pytest.raises(DataError, match=message):
        write_metrics(path, [good, row], {"method": "m"})
    assert not path.exists()
    write_metrics(path, [good], {"method": "m"})
    assert json.loads(path.read_text())["rows"] == [{**good, "method": "m"}]


def test_kind_key_round_trips_and_rejects_other_keys() -> None:
    assert kind_key(8, "cross") == "k8_cross" and parse_kind_key("k8_cross") == (8, "cross")
    with pytest.raises(ValueError, match="'tuple' is not a k<K>_<kind> key"):
        parse_kind_key("tuple")
