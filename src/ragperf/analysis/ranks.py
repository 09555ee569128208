"""Rank statistics for two samples: Mann-Whitney U, and the Hodges-Lehmann shift with its exact interval."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["LogEstimate", "hodges_lehmann", "kth_difference", "mann_whitney"]

# Above this many pairwise differences, find order statistics by bisection instead of materialising them.
_DIRECT_PAIRS = 1_000_000


class LogEstimate(NamedTuple):
    """A log-scale estimate with its CI and standard error."""

    est: float
    lo: float
    hi: float
    se: float


def mann_whitney(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    """Two-sided Mann-Whitney U p-value (normal approximation, tie + continuity corrected) and sd of U."""
    m, n = a.size, b.size
    ranks, tie_counts = average_ranks(np.concatenate([a, b]))
    u = float(ranks[m:].sum()) - n * (n + 1) / 2.0
    total = m + n
    tie_term = float(np.sum(tie_counts.astype(np.float64) ** 3 - tie_counts)) / (total * (total - 1))
    variance = m * n / 12.0 * ((total + 1) - tie_term)
    if variance <= 0:  # every value identical: no evidence of any difference
        return 1.0, 0.0
    sigma = math.sqrt(variance)
    z = max(abs(u - m * n / 2.0) - 0.5, 0.0) / sigma
    return min(1.0, math.erfc(z / math.sqrt(2.0))), sigma


def average_ranks(values: FloatArray) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """1-based ranks with ties sharing their average rank, and the size of each tie group."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.concatenate([[True], ordered[1:] != ordered[:-1]])
    group = np.cumsum(starts) - 1
    counts = np.bincount(group).astype(np.int64)
    last_rank = np.cumsum(counts)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = (last_rank - (counts - 1) / 2.0)[group]
    return ranks, counts


def hodges_lehmann(log_a: FloatArray, log_b: FloatArray, sigma_u: float, z_crit: float) -> LogEstimate:
    """HL shift of sorted log samples, its CI at z_crit (+-inf when unattainable), and its standard error."""
    pairs = log_a.size * log_b.size
    # C = floor(mn/2 - z sd(U)): the CI is the C-th smallest and C-th largest pairwise difference.
    c_crit = math.floor(pairs / 2.0 - z_crit * sigma_u)
    c_one = max(math.floor(pairs / 2.0 - sigma_u), 1)  # the +-1 sd interval estimates the standard error
    wanted = {(pairs + 1) // 2, pairs // 2 + 1, c_one, pairs + 1 - c_one}
    if c_crit >= 1:
        wanted |= {c_crit, pairs + 1 - c_crit}
    ranks = sorted(wanted)
    found = dict(zip(ranks, pairwise_order_stats(log_a, log_b, ranks), strict=True))
    # Median of an even count is the mean of the two middle differences.
    est = (found[(pairs + 1) // 2] + found[pairs // 2 + 1]) / 2.0
    lo, hi = (found[c_crit], found[pairs + 1 - c_crit]) if c_crit >= 1 else (-math.inf, math.inf)
    se = (found[pairs + 1 - c_one] - found[c_one]) / 2.0
    return LogEstimate(est, lo, hi, se)


def pairwise_order_stats(x: FloatArray, y: FloatArray, ranks: Sequence[int]) -> list[float]:
    """The given 1-based order statistics of all differences y_j - x_i; x and y sorted ascending."""
    if x.size * y.size <= _DIRECT_PAIRS:
        diffs = np.subtract.outer(y, x).ravel()
        diffs.partition([r - 1 for r in ranks])
        return [float(diffs[r - 1]) for r in ranks]
    return [kth_difference(x, y, r) for r in ranks]


def kth_difference(x: FloatArray, y: FloatArray, k: int) -> float:
    """k-th smallest y_j - x_i without building the m*n differences: bisect on the value, then snap."""
    m = x.size

    def at_most(d: float) -> int:
        # For each y_j, the x_i with y_j - x_i <= d are those with x_i >= y_j - d.
        return int(m * y.size - np.searchsorted(x, y - d, side="left").sum())

    lo = float(y[0] - x[-1]) - 1.0  # at_most(lo) == 0 < k
    hi = float(y[-1] - x[0])  # at_most(hi) == m*n >= k
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi) or hi - lo <= 1e-13 * max(1.0, abs(hi)):
            break
        if at_most(mid) >= k:
            hi = mid
        else:
            lo = mid
    # The answer lies in (lo, hi]; snap hi to the largest actual difference not above it.
    idx = np.searchsorted(x, y - hi, side="left")
    valid = idx < m
    return float(np.max(y[valid] - x[idx[valid]]))
