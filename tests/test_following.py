"""Following the driver: the line of the output's angle on the driver's, checked against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import linregress

from bench.metrics.following import fit_line, following, na_reason


def angles(seed: int, n: int = 200, slope: float = 0.6, noise: float = 10.0):
    rng = np.random.default_rng(seed)
    driver = rng.uniform(-90, 90, n)
    return driver, 5.0 + slope * driver + rng.normal(0, noise, n)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("slope", [0.0, 0.3, 1.0, -0.5])
def test_line_equals_scipy_linregress(seed: int, slope: float) -> None:
    driver, output = angles(seed, slope=slope)
    fit = fit_line(driver, output)
    reference = linregress(driver, output)
    assert fit.slope == pytest.approx(reference.slope, abs=1e-12)
    assert fit.intercept == pytest.approx(reference.intercept, abs=1e-10)
    assert fit.r == pytest.approx(reference.rvalue, abs=1e-12)
    assert fit.n == len(driver)


def test_bootstrap_resamples_equal_scipy_on_the_same_tuples() -> None:
    """The interval is the percentile interval of linregress over bootstrap_interval's resamples."""
    driver, output = angles(1, n=40, slope=0.8)
    resamples, seed = 200, 7
    score = following(driver, output, resamples, seed)
    rows = np.random.default_rng(seed).integers(0, len(driver), size=(resamples, len(driver)))
    fits = [linregress(driver[i], output[i]) for i in rows]
    for name, attribute in (("slope", "slope"), ("intercept", "intercept"), ("r", "rvalue")):
        expected = np.quantile([getattr(f, attribute) for f in fits], [0.025, 0.975])
        assert getattr(score, f"{name}_ci95") == pytest.approx(tuple(expected), abs=1e-10), name
    assert score.resamples_used == resamples
    assert score.slope_ci95[0] < score.fit.slope < score.slope_ci95[1]


def test_bootstrap_is_deterministic_per_seed() -> None:
    driver, output = angles(2, n=60)
    first, again = following(driver, output, 300, 3), following(driver, output, 300, 3)
    assert first == again
    other = following(driver, output, 300, 4)
    assert other.fit == first.fit and other.slope_ci95 != first.slope_ci95


def test_exact_copy_of_the_driver_follows_with_slope_and_r_one() -> None:
    driver, _ = angles(3)
    score = following(driver, driver.copy(), 100, 0)
    assert score.fit.slope == pytest.approx(1.0) and score.fit.r == pytest.approx(1.0)
    assert score.slope_ci95 == pytest.approx((1.0, 1.0))


def test_output_independent_of_the_driver_sits_near_zero() -> None:
    rng = np.random.default_rng(4)
    driver, output = rng.uniform(-90, 90, 300), rng.uniform(-30, 30, 300)
    score = following(driver, output, 500, 0)
    assert abs(score.fit.slope) < 0.1 and abs(score.fit.r) < 0.15
    assert score.slope_ci95[0] < 0 < score.slope_ci95[1]


def test_constant_output_has_slope_and_r_zero() -> None:
    driver, _ = angles(5, n=30)
    score = following(driver, np.full(30, 12.5), 100, 0)
    assert score.fit.slope == 0.0 and score.fit.r == 0.0 and score.fit.intercept == 12.5
    assert score.na_reason is None


@pytest.mark.parametrize(
    ("driver", "needle"),
    [
        (np.full(10, 30.0), "same (30°) in every tuple"),
        (np.array([1.0, 2.0]), "2 tuple(s); a line needs at least 3"),
        (np.array([]), "0 tuple(s)"),
    ],
)
def test_degenerate_inputs_are_na_with_a_reason_never_nan(driver: np.ndarray, needle: str) -> None:
    output = np.arange(len(driver), dtype=float)
    score = following(driver, output, 100, 0)
    assert score.fit is None and score.slope_ci95 is None and needle in score.na_reason
    assert needle in na_reason(driver, output)
    with pytest.raises(ValueError, match="no line"):
        fit_line(driver, output)


def test_resamples_with_a_constant_driver_are_left_out() -> None:
    """Three tuples: 3 of every 27 resamples draw one tuple thrice and have no line."""
    driver, output = np.array([-30.0, 0.0, 30.0]), np.array([-10.0, 0.0, 20.0])
    score = following(driver, output, 2000, 0)
    assert 0 < 2000 - score.resamples_used < 2000 * 0.2
    assert all(np.isfinite(score.slope_ci95)) and all(np.isfinite(score.r_ci95))


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="non-finite"):
        following(np.array([1.0, np.nan, 3.0]), np.zeros(3), 10, 0)
    with pytest.raises(ValueError, match="same length"):
        following(np.zeros(4), np.zeros(3), 10, 0)


# -- protocol 1 rows ---------------------------------------------------------------------------
class LookupOracle:
    """A perfect pose oracle for the test images: an image's pose is the label of the test
    image with the same pixels (an unknown image is an error); random unit embeddings."""

    name = "lookup-oracle"
    quality = {
        "verification": {"accuracy": 1.0},
        "pose_mae_degrees": {"mean": 0.0, "yaw": 0.0, "pitch": 0.0, "roll": 0.0},
    }

    def __init__(self, test) -> None:
        self.pose_of = {
            image.tobytes(): pose for image, pose in zip(test.images, test.poses, strict=True)
        }

    def pose(self, images) -> np.ndarray:
        pixels = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
        return np.stack([self.pose_of[image.tobytes()] for image in pixels]).astype(np.float64)

    def embed(self, images) -> np.ndarray:
        rng = np.random.default_rng(len(images))
        codes = rng.standard_normal((len(images), 8))
        return codes / np.linalg.norm(codes, axis=1, keepdims=True)


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch):
    """score_pose_transfer on copy_driver and copy_source outputs of 40 toy tuples (K = 1)."""
    from conftest import make_face_data

    from bench.data.dataset import to_uint8_images
    from bench.errors import EvaluatorUnavailable
    from bench.protocols import pose_transfer

    test = make_face_data(n_identities=8, per_identity=4)
    test.index["split"] = "test"
    tuples = pose_transfer.make_tuples(test.index, 1, 40, seed=0)
    tuples["cross_target"] = ""
    resolved = pose_transfer.resolve_tuples(test, tuples)
    monkeypatch.setattr(
        pose_transfer.scoring,
        "load_inception",
        lambda *_: EvaluatorUnavailable("no weights in this test"),
    )
    settings = {"bootstrap": 200, "seed": 0}
    scores = {}
    for method, cross in (
        ("copy_driver", test.images[resolved.drivers["cross"]]),
        ("copy_source", to_uint8_images(resolved.sources[:, 0])),
    ):
        outputs = {"k1_self": test.images[resolved.drivers["self"]], "k1_cross": cross}
        rows = pose_transfer.score_pose_transfer(
            outputs, test, tuples, LookupOracle(test), settings
        )
        scores[method] = {(r["protocol"], r["metric"]): r for r in rows}
    return scores


def test_pose_transfer_rows_score_following_on_cross_tuples_only(scored) -> None:
    names = {metric for protocol, metric in scored["copy_driver"] if "follow" in metric}
    assert names == {
        f"{angle}_follow_{stat}[lookup-oracle]"
        for angle in ("yaw", "pitch")
        for stat in ("slope", "r")
    }
    assert {p for p, m in scored["copy_driver"] if "follow" in m} == {"pose_transfer/cross"}


def test_copy_driver_follows_and_copy_source_ignores_the_driver(scored) -> None:
    for angle in ("yaw", "pitch"):
        slope = scored["copy_driver"][
            ("pose_transfer/cross", f"{angle}_follow_slope[lookup-oracle]")
        ]
        r = scored["copy_driver"][("pose_transfer/cross", f"{angle}_follow_r[lookup-oracle]")]
        assert slope["value"] == pytest.approx(1.0) and r["value"] == pytest.approx(1.0)
        assert slope["intercept"] == pytest.approx(0.0, abs=1e-9)
        assert slope["higher_is_better"] is None and r["higher_is_better"] is True
        assert slope["n"] == 40 and slope["spread"] == "bootstrap95 over tuples"
        assert slope["output_std_degrees"] == pytest.approx(slope["driver_std_degrees"])
        # No exact targets in the toy data: the floor is the line read from the real drivers.
        assert slope["evaluator_floor"]["reference"] == "real cross drivers"
        assert slope["evaluator_floor"]["follow_slope"] == pytest.approx(1.0)
        ignored = scored["copy_source"][
            ("pose_transfer/cross", f"{angle}_follow_slope[lookup-oracle]")
        ]
        assert abs(ignored["value"]) < 0.5 and ignored["ci95"][0] < 0.5


# -- the pose-transfer table -------------------------------------------------------------------
def table_rows(method: str, slope: float, seed: int = 0) -> list[dict]:
    """Pose error on both kinds and following on cross, as score_pose_transfer writes them."""
    floor = {"reference": "exact cross targets", "follow_slope": 0.97, "follow_r": 0.99}
    common = {"n": 50, "evaluator": "synth-oracle", "method": method, "k": 1, "seed": seed}
    rows = [
        {
            **common,
            "metric": "pose_error[synth-oracle]",
            "value": 20.0,
            "ci95": [19.0, 21.0],
            "higher_is_better": False,
            "evaluator_floor": {"pose_mae_degrees": 3.0},
            "protocol": f"pose_transfer/{kind}",
        }
        for kind in ("self", "cross")
    ]
    for angle in ("yaw", "pitch"):
        for stat, value, higher in (("slope", slope, None), ("r", slope / 2, True)):
            rows.append(
                {
                    **common,
                    "metric": f"{angle}_follow_{stat}[synth-oracle]",
                    "value": value,
                    "ci95": [value - 0.1, value + 0.1],
                    "higher_is_better": higher,
                    "evaluator_floor": floor,
                    "protocol": "pose_transfer/cross",
                }
            )
    return rows


def test_pose_transfer_table_shows_yaw_slope_and_r_on_cross_rows(tmp_path) -> None:
    import json

    from bench.report.tables import pose_transfer_table, read_metrics, to_latex

    paths = []
    for method, slope, seed in (("copy_source", 0.02, 0), ("learned", 0.5, 0), ("learned", 0.7, 1)):
        path = tmp_path / f"{method}{seed}.json"
        path.write_text(json.dumps({"rows": table_rows(method, slope, seed)}))
        paths.append(path)
    csv_table, display, notes = pose_transfer_table(read_metrics(paths))
    display = display.set_index(["protocol", "method"])
    assert display.loc[("cross", "learned"), "yaw slope [synth-oracle]"] == "0.60 ± 0.14"
    assert display.loc[("cross", "learned"), "yaw r [synth-oracle] ↑"] == "0.30 ± 0.07"
    assert display.loc[("cross", "copy_source"), "yaw slope [synth-oracle]"] == "0.02"
    assert display.loc[("self", "learned"), "yaw slope [synth-oracle]"] == "—"
    assert not any("pitch" in c for c in display.columns)  # pitch: CSV only
    cross = csv_table[csv_table.protocol == "cross"].set_index("method")
    assert cross.loc["learned", "pitch_follow_slope[synth-oracle] mean"] == pytest.approx(0.6)
    assert cross.loc["learned", "pitch_follow_r[synth-oracle] ↑ ci95 low"] == pytest.approx(0.2)
    assert "pose_error[synth-oracle] ↓ mean" in csv_table.columns  # other names unchanged
    note = next(n for n in notes if n.startswith("yaw slope"))
    assert "slope 0.97, r 0.99" in note and "exact cross targets" in note
    assert r"\toprule" in to_latex(display.reset_index(), "t", "tab:t", notes)


def test_pose_transfer_table_names_why_following_is_na(tmp_path) -> None:
    import json

    from bench.report.tables import pose_transfer_table, read_metrics

    rows = table_rows("frozen", 0.0)
    for row in rows:
        if "follow" in row["metric"]:
            row.update({"value": float("nan"), "ci95": None, "na_reason": "2 tuple(s)"})
    path = tmp_path / "frozen.json"
    path.write_text(json.dumps({"rows": rows}))
    _, display, notes = pose_transfer_table(read_metrics([path]))
    assert display.set_index("protocol").loc["cross", "yaw slope [synth-oracle]"] == "n/a"
    assert "yaw_follow_slope[synth-oracle] is n/a: 2 tuple(s)" in notes


def test_pose_transfer_bars_draw_yaw_slope_and_r_of_cross_rows(tmp_path) -> None:
    import json

    from bench.report.figures import bar_table, pose_transfer_bars
    from bench.report.tables import read_metrics

    path = tmp_path / "learned.json"
    path.write_text(json.dumps({"rows": table_rows("learned", 0.5)}))
    frame = read_metrics([path])
    slope = bar_table(frame, "yaw_follow_slope")
    assert list(slope["kind"]) == ["cross"] and slope["mean"].iloc[0] == pytest.approx(0.5)
    assert (slope["err_low"].iloc[0], slope["err_source"].iloc[0]) == (pytest.approx(0.1), "ci95")
    names = {p.name for p in pose_transfer_bars(frame, tmp_path, "toy")}
    assert {
        f"toy_pose_transfer_yaw_follow_{s}.{e}" for s in ("slope", "r") for e in ("png", "pdf")
    } <= names
