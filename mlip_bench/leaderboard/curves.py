"""Learning-curve exponent: least squares of log(MAE) on log(n_train), with a t-based interval.

Each seed's run is one point (no averaging before the fit), so seed scatter enters the interval.
The slope b of ``MAE = a * n_train**b`` is unitless; steeper learning means more negative b.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

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


def fit_learning_curve(
    n_train: Sequence[float], mae: Sequence[float], confidence: float = 0.95
) -> SlopeFit:
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
