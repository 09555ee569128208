"""Percentiles and their distribution-free confidence intervals (p99 of 100 queries is mostly noise: say so).

The interval for the q-th percentile is a pair of order statistics, chosen from the binomial
distribution of how many samples fall below the true percentile (the "binomial method", e.g.
Conover, Practical Nonparametric Statistics, 3.2). It assumes nothing about the latency
distribution, costs one partial sort, and holds no resample matrix: a bootstrap of a million
queries would materialise B x n values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = [
    "MIN_FOR_CI",
    "order_statistic_ranks",
    "percentile",
    "percentile_ci",
    "sorted_percentile_ci",
    "sorted_percentiles",
]

MIN_FOR_CI = 10
_WINDOW_SIGMAS = 12.0  # binomial mass beyond 12 standard deviations is below 1e-30


def percentile(values: Sequence[float] | NDArray[np.float64], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between order statistics."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def sorted_percentiles(ordered: NDArray[np.float64], qs: Sequence[float]) -> list[float]:
    """Percentiles of an already sorted sample, as `percentile` computes them (linear interpolation)."""
    n = ordered.size
    out = []
    for q in qs:
        position = (n - 1) * q / 100
        low = int(position)
        high = min(low + 1, n - 1)
        out.append(float(ordered[low] + (ordered[high] - ordered[low]) * (position - low)))
    return out


def sorted_percentile_ci(ordered: NDArray[np.float64], q: float, *, level: float = 0.95) -> tuple[float, float] | None:
    """`percentile_ci` of an already sorted sample: two lookups, no sort."""
    if ordered.size < MIN_FOR_CI:
        return None
    lo, hi = order_statistic_ranks(ordered.size, q, level)
    return float(ordered[lo]), float(ordered[hi])


def order_statistic_ranks(n: int, q: float, level: float = 0.95) -> tuple[int, int]:
    """0-based ranks (lo, hi) of the sorted sample bracketing the q-th percentile with `level` coverage.

    With B ~ Binomial(n, q/100) the number of samples below the true percentile, the interval
    [x(lo), x(hi)] covers it with probability P(lo < B <= hi) (1-based ranks lo+1, hi+1). Each
    tail gets at most (1 - level) / 2; where the sample is too small for that (p99 of 100
    queries), the bound is the sample's minimum or maximum.
    """
    p = q / 100
    tail = (1 - level) / 2
    mean, sd = n * p, float(np.sqrt(n * p * (1 - p))) or 1.0
    k = np.arange(max(0, int(mean - _WINDOW_SIGMAS * sd)), min(n, int(mean + _WINDOW_SIGMAS * sd)) + 1)
    log_pmf = _log_binomial_pmf(k, n, p)
    pmf = np.exp(log_pmf - log_pmf.max())
    pmf /= pmf.sum()
    cdf = np.cumsum(pmf)  # P(B <= k)
    # lo: the largest r with P(B < r) <= tail, i.e. P(B <= r - 1) <= tail; then x(r) (1-based) is below.
    below = np.nonzero(cdf <= tail)[0]
    lo_rank = int(k[below[-1]]) + 1 if below.size else int(k[0])  # 1-based
    # hi: the smallest s with P(B >= s) <= tail, i.e. P(B <= s - 1) >= 1 - tail.
    above = np.nonzero(cdf >= 1 - tail)[0]
    hi_rank = int(k[above[0]]) + 1 if above.size else n
    return max(lo_rank, 1) - 1, min(hi_rank, n) - 1


def _log_binomial_pmf(k: NDArray[np.int64], n: int, p: float) -> NDArray[np.float64]:
    from math import lgamma, log

    if p <= 0 or p >= 1:
        edge: NDArray[np.float64] = np.where(k == (0 if p <= 0 else n), 0.0, -np.inf)
        return edge
    log_comb = np.array([lgamma(n + 1) - lgamma(int(i) + 1) - lgamma(n - int(i) + 1) for i in k])
    out: NDArray[np.float64] = log_comb + k * log(p) + (n - k) * log(1 - p)
    return out


def percentile_ci(
    values: Sequence[float] | NDArray[np.float64], q: float, *, level: float = 0.95
) -> tuple[float, float] | None:
    """A distribution-free interval for the q-th percentile; None below MIN_FOR_CI samples."""
    data = np.asarray(values, dtype=float)
    n = data.size
    if n < MIN_FOR_CI:
        return None
    lo, hi = order_statistic_ranks(n, q, level)
    part = np.partition(data, (lo, hi))
    return float(part[lo]), float(part[hi])
