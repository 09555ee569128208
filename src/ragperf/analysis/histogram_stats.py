"""Statistics of a load diff, computed from the merged log-linear histograms a load file keeps.

A load file holds no per-query records, only each step's histograms (`ragperf.load.histogram`:
buckets never wider than 1/128 of their values). Two choices follow from that:

* **The rank test and the Hodges-Lehmann shift** run on samples reconstructed from the buckets:
  each query is its bucket's midpoint (clamped to the histogram's exact min and max), repeated by
  the bucket's count. Ranks between buckets are exact; queries sharing a bucket count as ties, which
  the Mann-Whitney tie correction handles. A value moves by at most 0.4% (half a bucket), far below
  any threshold worth gating on, so the test is the one `ragperf diff` runs on run files.
* **Gated tail metrics (p95, p99) and the mean** are not bootstrapped: a bootstrap resamples n
  queries per replicate, and a load step holds tens of thousands. A quantile's standard error comes
  instead from the order statistics one binomial standard deviation either side of its rank (the
  distribution-free interval of a quantile), the mean's from the histogram's standard deviation; the
  two runs' log-scale errors add, giving an interval on log(new / old). The cost is O(buckets), and
  no random seed is involved.

Throughput figures are proportions of the step's arrivals (finished in time, good), compared as a
ratio of proportions with the delta-method interval; the error rate as a difference (pooled test).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ragperf.load.histogram import Histogram, bucket_bounds

if TYPE_CHECKING:
    import numpy.typing as npt

    from ragperf.schema.load import HistogramData

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MIN_TAIL",
    "histogram",
    "log_se",
    "metric_value",
    "needed",
    "proportion_difference",
    "proportion_ratio",
    "samples_ms",
]

_NS_PER_MS = 1e6
MIN_TAIL = 5  # queries each run needs beyond a percentile to estimate it (as compare.py asks of run files)
# Half a bucket: the resolution of any value read back from the histogram (relative, log scale).
_BUCKET_SE = 1.0 / 256.0
_FLOOR_MS = 1e-6  # as compare.py: 0 ms would blow up the logarithm
_QUANTILE = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def histogram(data: HistogramData) -> Histogram:
    """The histogram a load file stored."""
    return Histogram.from_dict(data.model_dump())


def samples_ms(hist: Histogram) -> FloatArray:
    """Every recorded value as its bucket's midpoint in ms, ascending."""
    if hist.count == 0:
        return np.empty(0, dtype=np.float64)
    mids, counts = [], []
    for index, n in hist.items():
        low, high = bucket_bounds(index)
        mids.append(min(max((low + high - 1) / 2.0, hist.min), hist.max))
        counts.append(n)
    values = np.repeat(np.asarray(mids, dtype=np.float64) / _NS_PER_MS, counts)
    return np.maximum(values, _FLOOR_MS)


def metric_value(hist: Histogram, metric: str) -> float | None:
    """p50/p95/p99 as the load file reports them (bucket midpoint), or the exact mean, in ms."""
    value = hist.mean() if metric == "mean" else hist.quantile(_QUANTILE[metric])
    return None if value is None else value / _NS_PER_MS


def needed(metric: str) -> int:
    """Queries each run needs before this metric can be tested."""
    q = _QUANTILE.get(metric)
    return 2 if q is None else math.ceil(MIN_TAIL / (1.0 - q) - 1e-9)


def log_se(hist: Histogram, ordered: FloatArray, metric: str) -> float:
    """Standard error of log(metric): order statistics +-1 binomial sd around the rank, or sd/mean/sqrt(n)."""
    n = ordered.size
    if metric == "mean":
        mean, stdev = hist.mean(), hist.stdev()
        if not mean or stdev is None:
            return _BUCKET_SE
        return max(stdev / mean / math.sqrt(n), _BUCKET_SE)
    q = _QUANTILE[metric]
    spread = math.sqrt(n * q * (1.0 - q))
    low = max(1, math.floor(n * q - spread))
    high = min(n, math.ceil(n * q + spread))
    return max((math.log(ordered[high - 1]) - math.log(ordered[low - 1])) / 2.0, _BUCKET_SE)


def proportion_ratio(
    k_old: int, n_old: int, k_new: int, n_new: int, z_crit: float
) -> tuple[float, tuple[float, float], float] | None:
    """(relative change of k/n, its interval, two-sided p-value); None when either side has no successes."""
    if min(k_old, k_new, n_old, n_new) <= 0:
        return None
    log_ratio = math.log((k_new / n_new) / (k_old / n_old))
    # Var(log k/n) ~ (n - k) / (n k); half a failure is added so that a side where every arrival counted
    # (k = n, common far below capacity) still has the uncertainty its finite n implies, not none.
    se = math.sqrt((n_old - k_old + 0.5) / (n_old * k_old) + (n_new - k_new + 0.5) / (n_new * k_new))
    p_value = math.erfc(abs(log_ratio) / se / math.sqrt(2.0))
    ci = (math.expm1(log_ratio - z_crit * se), math.expm1(log_ratio + z_crit * se))
    return math.expm1(log_ratio), ci, p_value


def proportion_difference(
    k_old: int, n_old: int, k_new: int, n_new: int, z_crit: float
) -> tuple[float, tuple[float, float], float]:
    """(k_new/n_new - k_old/n_old, its interval, pooled two-sided p-value); n of 0 reads as a rate of 0."""
    p_old = k_old / n_old if n_old else 0.0
    p_new = k_new / n_new if n_new else 0.0
    diff = p_new - p_old
    if not n_old or not n_new:
        return diff, (diff, diff), 1.0
    pooled = (k_old + k_new) / (n_old + n_new)
    se_pooled = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_old + 1.0 / n_new))
    se = math.sqrt(p_old * (1.0 - p_old) / n_old + p_new * (1.0 - p_new) / n_new)
    p_value = 1.0 if se_pooled == 0.0 else math.erfc(abs(diff) / se_pooled / math.sqrt(2.0))
    return diff, (diff - z_crit * se, diff + z_crit * se), p_value
