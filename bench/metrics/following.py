"""Does the output follow the driver: the least-squares line of the output's angle on the driver's.

Over the tuples of one (method, K), one angle (yaw or pitch) of each output, as the pose
oracle reads it, is regressed on the same angle of its driver: ``output = intercept + slope *
driver``, with Pearson's r. Slope 1 and r 1: the output turns as the driver does; slope 0:
it ignores the driver (a copy of the source, an untrained network). A mean pose error of
20-30 degrees cannot tell the two apart; this line can.

Intervals are percentile bootstraps over tuples, resampled as
``bench.protocols.pose_transfer.bootstrap_interval`` resamples (``default_rng(seed)``, one
``[resamples, N]`` draw of indices), so every score of a row sees the same resamples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fewest tuples a line is fitted to (two points always lie on a line: r = ±1 says nothing).
MIN_TUPLES = 3
#: A driver angle whose standard deviation is below this many degrees is constant.
CONSTANT_DEGREES = 1e-9


@dataclass(frozen=True)
class LineFit:
    """The least-squares line of ``output`` on ``driver`` and Pearson's r over ``n`` tuples."""

    slope: float
    intercept: float
    r: float
    n: int


@dataclass(frozen=True)
class Following:
    """A ``LineFit`` with 95% percentile bootstrap intervals, or the reason there is none.

    ``fit`` is None exactly when ``na_reason`` is set. ``resamples_used`` counts the
    bootstrap resamples whose drivers were not all one angle (a resample that drew one
    tuple N times has no line; it is left out, never counted as 0 or NaN).
    """

    fit: LineFit | None
    slope_ci95: tuple[float, float] | None
    intercept_ci95: tuple[float, float] | None
    r_ci95: tuple[float, float] | None
    resamples_used: int
    na_reason: str | None = None


def _validated(driver: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    driver = np.asarray(driver, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    if driver.ndim != 1 or driver.shape != output.shape:
        raise ValueError(
            f"following: driver and output must be 1-D angles of the same length (one per "
            f"tuple), got shapes {driver.shape} and {output.shape}"
        )
    for name, values in (("driver", driver), ("output", output)):
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"following: {name} angles hold {int(np.sum(~np.isfinite(values)))} non-finite "
                "value(s); a pose reading is missing upstream"
            )
    return driver, output


def na_reason(driver: np.ndarray, output: np.ndarray) -> str | None:
    """Why no line can be fitted to these angles (None: one can)."""
    driver, output = _validated(driver, output)
    if len(driver) < MIN_TUPLES:
        return f"{len(driver)} tuple(s); a line needs at least {MIN_TUPLES}"
    if np.std(driver) < CONSTANT_DEGREES:
        return f"the driver angle is the same ({driver[0]:g}°) in every tuple: nothing to follow"
    return None


def _moments(driver: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, ...]:
    """Means, centred sums of squares and cross products along the last axis."""
    driver_mean = driver.mean(axis=-1, keepdims=True)
    output_mean = output.mean(axis=-1, keepdims=True)
    dx, dy = driver - driver_mean, output - output_mean
    return (
        driver_mean[..., 0],
        output_mean[..., 0],
        (dx * dx).sum(axis=-1),
        (dy * dy).sum(axis=-1),
        (dx * dy).sum(axis=-1),
    )


def _lines(driver: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, ...]:
    """(slope, intercept, r, valid) along the last axis; ``valid`` is False where the driver
    is constant. r is 0 where the output is constant and the driver is not (no association:
    the output carries none of the driver's variation; ``scipy.stats.linregress`` says NaN)."""
    driver_mean, output_mean, sxx, syy, sxy = _moments(driver, output)
    n = driver.shape[-1]
    valid = sxx > n * CONSTANT_DEGREES**2
    safe_sxx = np.where(valid, sxx, 1.0)
    slope = np.where(valid, sxy / safe_sxx, np.nan)
    intercept = output_mean - slope * driver_mean
    varies = valid & (syy > 0)
    r = np.where(varies, sxy / np.sqrt(safe_sxx * np.where(varies, syy, 1.0)), 0.0)
    r = np.where(valid, np.clip(r, -1.0, 1.0), np.nan)
    return slope, intercept, r, valid


def fit_line(driver: np.ndarray, output: np.ndarray) -> LineFit:
    """Least-squares ``output = intercept + slope * driver`` and Pearson's r (angles, degrees).

    Raises ``ValueError`` where ``na_reason`` gives one.
    """
    reason = na_reason(driver, output)
    if reason is not None:
        raise ValueError(f"following: no line: {reason}")
    slope, intercept, r, _ = _lines(*_validated(driver, output))
    return LineFit(float(slope), float(intercept), float(r), len(driver))


def following(
    driver: np.ndarray, output: np.ndarray, resamples: int, seed: int, level: float = 0.95
) -> Following:
    """The line of ``output`` on ``driver`` with percentile bootstrap intervals over tuples.

    ``driver[i]`` and ``output[i]`` are one angle (degrees) of tuple i's driver and output.
    Degenerate inputs (fewer than ``MIN_TUPLES`` tuples, a constant driver angle) give a
    ``Following`` with ``na_reason`` and no numbers.
    """
    driver, output = _validated(driver, output)
    reason = na_reason(driver, output)
    if reason is not None:
        return Following(None, None, None, None, 0, reason)
    fit = fit_line(driver, output)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(driver), size=(resamples, len(driver)))
    slope, intercept, r, valid = _lines(driver[rows], output[rows])
    if not valid.any():
        return Following(fit, None, None, None, 0)
    bounds = [(1 - level) / 2, (1 + level) / 2]

    def interval(values: np.ndarray) -> tuple[float, float]:
        low, high = np.quantile(values[valid], bounds)
        return float(low), float(high)

    return Following(fit, interval(slope), interval(intercept), interval(r), int(valid.sum()))
