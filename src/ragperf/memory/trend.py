"""The leak check's trend: a robust straight line (Theil-Sen with Sen's 95% interval) through a series.

Below both sides of the leak check: the worker fits its series to decide whether to look for
growing allocation sites (`memory.session`), the parent fits it for the verdict
(`analysis.leak`, `memory.leak_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Fit", "theil_sen"]

_MIN_POINTS = 3


@dataclass(frozen=True)
class Fit:
    """A Theil-Sen line: slope with its confidence interval, and the slope of the second half."""

    n: int
    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    late_slope: float | None


def _tie_sizes(values: np.ndarray) -> np.ndarray:
    _, counts = np.unique(values, return_counts=True)
    return counts[counts > 1]


def _median_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    keep = dx != 0
    slopes = np.sort((y[j] - y[i])[keep] / dx[keep])
    return float(np.median(slopes)), slopes


def theil_sen(y: Sequence[float], x: Sequence[float] | None = None, confidence: float = 0.95) -> Fit:
    """The median of pairwise slopes, with Sen's (1968) distribution-free interval (as scipy.stats.theilslopes)."""
    ys = np.asarray(y, dtype=float)
    xs = np.arange(len(ys), dtype=float) if x is None else np.asarray(x, dtype=float)
    n = len(ys)
    if n < _MIN_POINTS:
        msg = f"a trend needs at least {_MIN_POINTS} points, got {n}"
        raise ValueError(msg)
    slope, slopes = _median_slope(xs, ys)
    intercept = float(np.median(ys - slope * xs))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    ties = np.concatenate([_tie_sizes(xs), _tie_sizes(ys)])
    variance = (n * (n - 1) * (2 * n + 5) - float(np.sum(ties * (ties - 1) * (2 * ties + 5)))) / 18
    sigma = float(np.sqrt(max(variance, 0.0)))
    total = len(slopes)
    upper = min(round((total + z * sigma) / 2), total - 1)
    lower = max(round((total - z * sigma) / 2) - 1, 0)
    half = n // 2
    late = _median_slope(xs[half:], ys[half:])[0] if n - half >= _MIN_POINTS else None
    return Fit(n, slope, float(slopes[lower]), float(slopes[upper]), intercept, late)
