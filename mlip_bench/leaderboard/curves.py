"""Learning-curve exponent: least squares of log(MAE) on log(n_train), with a t-based interval.

Each seed's run is one point (no averaging before the fit), so seed scatter enters the interval.
The slope b of ``MAE = a * n_train**b`` is unitless; steeper learning means more negative b.

Comparing two curves: :func:`slope_difference` gives the difference of their slopes its own
interval at the seed level (one exponent per seed: a paired t-interval on the per-seed differences
when both curves have the same seeds, a Welch interval otherwise), which is what a claim such as
"steeper" or "same slope" is judged on, not whether the curves' own intervals overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from mlip_bench.errors import ResultsError


@dataclass(frozen=True)
class SlopeFit:
    """Fit of log(MAE) = log(a) + b log(n_train).

    ``ci_low``/``ci_high`` bound b at ``confidence``; they are None when fewer than three points
    (no residual degrees of freedom) are available.
    """

    slope: float
    intercept: float  # log(a), natural log, a in the MAE's unit
    ci_low: float | None
    ci_high: float | None
    confidence: float
    n_points: int
    n_sizes: int

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None

    def label(self) -> str:
        """Short text for legends, e.g. ``slope -0.52 [-0.61, -0.43]``."""
        if self.has_interval:
            return f"slope {self.slope:.2f} [{self.ci_low:.2f}, {self.ci_high:.2f}]"
        return f"slope {self.slope:.2f} (no CI: {self.n_points} points)"

    def predict(self, n_train: float) -> float:
        """Fitted MAE at ``n_train`` (same unit as the fitted MAEs)."""
        return math.exp(self.intercept) * n_train**self.slope


def fit_learning_curve(n_train: Sequence[float], mae: Sequence[float], confidence: float = 0.95) -> SlopeFit:
    """Fit the learning-curve exponent from per-run points (one per seed and size).

    Raises ``ResultsError`` for non-positive values or fewer than two distinct sizes.
    """
    x_raw = np.asarray(n_train, dtype=float)
    y_raw = np.asarray(mae, dtype=float)
    if x_raw.shape != y_raw.shape or x_raw.ndim != 1:
        raise ResultsError("learning-curve fit needs equally long 1-d n_train and MAE lists; pass one value per run")
    if not (np.all(np.isfinite(x_raw)) and np.all(np.isfinite(y_raw))) or np.any(x_raw <= 0) or np.any(y_raw <= 0):
        raise ResultsError("learning-curve fit needs finite positive n_train and MAE values; drop failed runs")
    n_sizes = len(np.unique(x_raw))
    if n_sizes < 2:
        raise ResultsError("learning-curve fit needs at least two distinct training-set sizes; run more sizes")
    x = np.log(x_raw)
    y = np.log(y_raw)
    n = len(x)
    x_mean = x.mean()
    sxx = float(np.sum((x - x_mean) ** 2))
    slope = float(np.sum((x - x_mean) * (y - y.mean())) / sxx)
    intercept = float(y.mean() - slope * x_mean)
    ci_low = ci_high = None
    if n > 2:
        residuals = y - (intercept + slope * x)
        sigma2 = float(np.sum(residuals**2)) / (n - 2)
        stderr = math.sqrt(sigma2 / sxx)
        half = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 2)) * stderr
        ci_low, ci_high = slope - half, slope + half
    return SlopeFit(
        slope=slope,
        intercept=intercept,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
        n_points=n,
        n_sizes=n_sizes,
    )


def fit_band(
    n_train: Sequence[float], mae: Sequence[float], grid: Sequence[float], confidence: float = 0.95
) -> tuple[list[float], list[float], list[float]] | None:
    """The fitted power law at ``grid`` with the pointwise ``confidence`` band of the fitted mean
    (t-based, on the log scale: ŷ ± t·s·sqrt(1/n + (x − x̄)²/Sxx), mapped back with exp).

    Returns (fit, low, high) lists, or None with fewer than three points (no residual degrees of
    freedom) or fewer than two distinct sizes.
    """
    x = np.log(np.asarray(n_train, dtype=float))
    y = np.log(np.asarray(mae, dtype=float))
    n = len(x)
    if n < 3 or len(np.unique(x)) < 2:
        return None
    fit = fit_learning_curve(n_train, mae, confidence)
    x_mean = x.mean()
    sxx = float(np.sum((x - x_mean) ** 2))
    residuals = y - (fit.intercept + fit.slope * x)
    s = math.sqrt(float(np.sum(residuals**2)) / (n - 2))
    t = float(stats.t.ppf(0.5 + confidence / 2.0, df=n - 2))
    g = np.log(np.asarray(grid, dtype=float))
    centre = fit.intercept + fit.slope * g
    half = t * s * np.sqrt(1.0 / n + (g - x_mean) ** 2 / sxx)
    return (
        [float(v) for v in np.exp(centre)],
        [float(v) for v in np.exp(centre - half)],
        [float(v) for v in np.exp(centre + half)],
    )


#: equivalence margin for "same slope" claims: two slopes agree when the interval of their
#: difference lies inside ±EQUIVALENCE_MARGIN (an exponent difference of 0.05 changes the error
#: ratio between n = 50 and n = 1000 by about 16 %)
EQUIVALENCE_MARGIN = 0.05

PAIRED = "paired"
WELCH = "welch"
ONE_SEED = "one seed"


def seed_slope(n_train: Sequence[float], mae: Sequence[float]) -> float | None:
    """Least-squares exponent of one seed's points; None with fewer than two distinct sizes."""
    if len(set(n_train)) < 2:
        return None
    return fit_learning_curve(n_train, mae).slope


@dataclass(frozen=True)
class SlopeDifference:
    """Δb = b(first) − b(second) at the seed level, with its interval.

    ``method``: ``"paired"`` (both curves have slopes for the same seeds: a t-interval on the
    per-seed differences, k − 1 degrees of freedom), ``"welch"`` (other seeds: difference of the
    mean per-seed slopes with a Welch-Satterthwaite interval) or ``"one seed"`` (a curve has a
    single seed: a point estimate, no interval). ``first_slopes``/``second_slopes`` are the
    per-seed slopes used.
    """

    estimate: float
    ci_low: float | None
    ci_high: float | None
    confidence: float
    method: str
    first_slopes: dict[int, float]
    second_slopes: dict[int, float]
    df: float | None = None

    @property
    def has_interval(self) -> bool:
        return self.ci_low is not None and self.ci_high is not None

    def excludes_zero(self) -> int:
        """-1 when the interval lies below zero, +1 above zero, 0 otherwise (or no interval)."""
        if not self.has_interval:
            return 0
        if self.ci_high < 0:  # type: ignore[operator]
            return -1
        if self.ci_low > 0:  # type: ignore[operator]
            return 1
        return 0

    def within(self, margin: float = EQUIVALENCE_MARGIN) -> bool:
        """True when the whole interval lies inside ±margin (equivalent slopes)."""
        return self.has_interval and -margin <= self.ci_low and self.ci_high <= margin  # type: ignore[operator]

    def beyond(self, margin: float = EQUIVALENCE_MARGIN) -> bool:
        """True when the whole interval lies outside ±margin on one side (slopes differ by more)."""
        return self.has_interval and (self.ci_low > margin or self.ci_high < -margin)  # type: ignore[operator]

    def label(self) -> str:
        """Short text, e.g. ``Δb -0.12 [-0.18, -0.06] (paired, 3 seeds)``."""
        k1, k2 = len(self.first_slopes), len(self.second_slopes)
        seeds = f"{k1} seeds" if self.method == PAIRED else f"{k1} vs {k2} seeds"
        if self.has_interval:
            return f"Δb {self.estimate:+.2f} [{self.ci_low:+.2f}, {self.ci_high:+.2f}] ({self.method}, {seeds})"
        return f"Δb {self.estimate:+.2f} (no interval: {seeds})"


def _t_half_width(stderr: float, df: float, confidence: float) -> float:
    if stderr == 0.0:
        return 0.0
    return float(stats.t.ppf(0.5 + confidence / 2.0, df=df)) * stderr


def slope_difference(first: dict[int, float], second: dict[int, float], confidence: float = 0.95) -> SlopeDifference:
    """Interval of the difference of two curves' slopes from their per-seed slopes (seed -> b).

    Same seeds (at least two) on both sides: paired t-interval on the per-seed differences. Other
    seeds, at least two on each side: Welch-Satterthwaite interval on the difference of the mean
    slopes. A side with one seed: the point estimate only (``method == "one seed"``).
    Raises ``ResultsError`` when a side has no slope.
    """
    if not first or not second:
        raise ResultsError("slope difference needs at least one per-seed slope on each side; fit more seeds")
    a = np.array([first[s] for s in sorted(first)], dtype=float)
    b = np.array([second[s] for s in sorted(second)], dtype=float)
    estimate = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return SlopeDifference(estimate, None, None, confidence, ONE_SEED, dict(first), dict(second))
    if set(first) == set(second):
        d = a - b  # both sorted by seed
        k = len(d)
        stderr = float(d.std(ddof=1)) / math.sqrt(k)
        half = _t_half_width(stderr, k - 1, confidence)
        return SlopeDifference(
            estimate, estimate - half, estimate + half, confidence, PAIRED, dict(first), dict(second), df=k - 1
        )
    v1 = float(a.var(ddof=1)) / len(a)
    v2 = float(b.var(ddof=1)) / len(b)
    stderr = math.sqrt(v1 + v2)
    if stderr == 0.0:
        df = float(len(a) + len(b) - 2)
    else:
        df = (v1 + v2) ** 2 / (v1**2 / (len(a) - 1) + v2**2 / (len(b) - 1))
    half = _t_half_width(stderr, df, confidence)
    return SlopeDifference(
        estimate, estimate - half, estimate + half, confidence, WELCH, dict(first), dict(second), df=df
    )
