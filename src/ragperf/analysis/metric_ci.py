"""Intervals of log(metric(new) / metric(old)) for a gated metric (p50, p95, p99, mean) of two samples.

Bootstrapped for small runs; past 2,000 queries a side, where the large-sample theory holds, asymptotic.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.percentiles import order_statistic_ranks

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["PERCENTILE", "log_ratio_ci", "statistic"]

PERCENTILE = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
# Bootstrap resamples are drawn in chunks of at most this many values to bound memory.
_CHUNK_VALUES = 2_000_000
_BOOTSTRAP_MAX_N = 2_000  # past this many queries a side, the asymptotic interval replaces the bootstrap
_STD_NORMAL = NormalDist()


def statistic(x: FloatArray, metric: str) -> float:
    """The metric of a sample (NaN when empty)."""
    if x.size == 0:
        return math.nan
    if metric == "mean":
        return float(np.mean(x))
    return float(np.percentile(x, PERCENTILE[metric]))


def log_ratio_ci(
    a: FloatArray, b: FloatArray, metric: str, level_alpha: float, rng: np.random.Generator
) -> tuple[float, float]:
    """CI of log(metric(new) / metric(old)): bootstrapped for small runs, asymptotic for large ones.

    A bootstrap costs resamples x queries; past _BOOTSTRAP_MAX_N queries a side, where the large-
    sample theory holds, the interval comes from each side's standard error instead: for a
    percentile, read off its distribution-free order-statistic interval (as Price and Bonett,
    2002, do for medians); for the mean, the delta method. Both cost one sort.
    """
    if max(a.size, b.size) <= _BOOTSTRAP_MAX_N:
        return _bootstrap_log_ratio(a, b, metric, level_alpha, rng)
    se = math.hypot(_log_se(a, metric), _log_se(b, metric))
    est = math.log(statistic(b, metric)) - math.log(statistic(a, metric))
    z = _STD_NORMAL.inv_cdf(1.0 - level_alpha / 2.0)
    return est - z * se, est + z * se


def _log_se(x: FloatArray, metric: str) -> float:
    """Standard error of log(metric(x)) for a large sample."""
    if metric == "mean":
        mean = float(x.mean())
        return float(x.std(ddof=1)) / math.sqrt(x.size) / mean if mean > 0 else math.inf
    lo, hi = order_statistic_ranks(x.size, PERCENTILE[metric], 0.95)
    part = np.partition(x, (lo, hi))
    return (math.log(part[hi]) - math.log(part[lo])) / (2 * _STD_NORMAL.inv_cdf(0.975))


def _bootstrap_log_ratio(
    a: FloatArray, b: FloatArray, metric: str, level_alpha: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile-bootstrap CI of log(metric(new) / metric(old)), runs resampled independently."""
    # Enough resamples that each tail of the interval rests on at least ~20 of them.
    n_boot = min(20_000, max(2_000, math.ceil(40.0 / level_alpha)))
    log_ratio = np.log(_bootstrapstatistic(b, metric, n_boot, rng)) - np.log(
        _bootstrapstatistic(a, metric, n_boot, rng)
    )
    lo, hi = np.quantile(log_ratio, [level_alpha / 2.0, 1.0 - level_alpha / 2.0])
    return float(lo), float(hi)


def _bootstrapstatistic(x: FloatArray, metric: str, n_boot: int, rng: np.random.Generator) -> FloatArray:
    rows = max(1, _CHUNK_VALUES // x.size)
    out = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        sample = x[rng.integers(0, x.size, size=(stop - start, x.size))]
        if metric == "mean":
            out[start:stop] = sample.mean(axis=1)
        else:
            out[start:stop] = np.percentile(sample, PERCENTILE[metric], axis=1)
    return out
