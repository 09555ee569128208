"""Leak verdicts: a robust trend (Theil-Sen with Sen's 95% interval) of RSS and heap per iteration.

RSS and the heap are fitted separately: allocators keep freed memory (fragmentation), so RSS
can climb while the live heap stays flat; the verdict is judged on the heap when it can be read.
A leak is *detected* when the lower end of the slope's interval is above a noise floor and the
series still grows over its second half (a cache that filled up early has stopped growing).
Its *verdict* compares the slope with the target (seed: < 0.5 MB per iteration).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis import verdicts

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Fit", "LeakVerdict", "judge", "theil_sen"]

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


@dataclass(frozen=True)
class LeakVerdict:
    """Whether the basis series leaks, and how it compares with the target."""

    detected: bool
    verdict: verdicts.Verdict
    reason: str


def judge(fit: Fit, *, min_slope: float, target: float | None) -> LeakVerdict:
    """Detected: the interval is above the noise floor and the second half still grows."""
    floor = f"the {min_slope:g} MB/iter floor below which growth counts as noise"
    if fit.ci_low <= min_slope:
        if fit.slope > min_slope:
            reason = f"not significant: its interval reaches {floor}"
        elif fit.ci_low > 0:
            reason = f"a small steady growth, under {floor}"
        else:
            reason = "flat"
        detected = False
    elif fit.late_slope is not None and fit.late_slope <= min_slope:
        reason = "grew early, then stopped (a cache or pool filling up)"
        detected = False
    else:
        reason = "grows throughout"
        detected = True
    if target is None:
        return LeakVerdict(detected, "n/a", reason)
    # Growth that is not a detected leak is within any target; a leak is judged by its slope.
    return LeakVerdict(detected, verdicts.judge(fit.slope, target) if detected else "PASS", reason)
