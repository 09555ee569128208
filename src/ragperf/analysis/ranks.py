"""Rank statistics: Mann-Whitney U and the Hodges-Lehmann shift of two samples; the Wilcoxon signed-rank test
and the one-sample Hodges-Lehmann shift of paired differences (`ragperf compare`'s block pairs)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MAX_WALSH",
    "LogEstimate",
    "hodges_lehmann",
    "kth_difference",
    "mann_whitney",
    "signed_rank",
    "signed_rank_pairs_needed",
    "signed_rank_shift",
]

# Above this many pairwise differences, find order statistics by bisection instead of materialising them.
_DIRECT_PAIRS = 1_000_000
# Paired differences up to this many: their n(n+1)/2 Walsh averages (about a million) are listed directly.
MAX_WALSH = 1400
# Up to this many nonzero, untied differences the signed-rank null distribution is counted exactly (its
# normal approximation is poor in the tails a Bonferroni level reads, with few block pairs).
_EXACT_SIGNED_RANK = 60


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
    ux, cx = np.unique(x, return_counts=True)
    uy, cy = np.unique(y, return_counts=True)
    if ux.size * uy.size <= _DIRECT_PAIRS:
        # Few distinct values (durations quantised by the clock): each distinct difference, weighted by
        # how many pairs make it, gives every order statistic exactly from one sort.
        diffs = np.subtract.outer(uy, ux).ravel()
        order = np.argsort(diffs, kind="stable")
        cumulative = np.cumsum(np.multiply.outer(cy, cx).ravel()[order])
        at = np.searchsorted(cumulative, np.asarray(ranks), side="left")
        return [float(diffs[order[i]]) for i in at]
    brackets = _brackets(x, y, ranks)
    return [kth_difference(x, y, r, bracket) for r, bracket in zip(ranks, brackets, strict=True)]


def kth_difference(x: FloatArray, y: FloatArray, k: int, bracket: tuple[float, float] | None = None) -> float:
    """k-th smallest y_j - x_i without building the m*n differences.

    Bisect on the value, counting the differences at most d with one sorted search (O(n log m)).
    The bisection starts from a bracket read off evenly spaced order statistics of both samples,
    keeps the bracket snapped to actual differences (so ties, durations quantised by the clock,
    end it at once), and stops as soon as the bracket holds few enough differences to list them
    and select the k-th directly: a 100,000-query diff costs a dozen counts per order statistic.
    """
    m, n = x.size, y.size

    def at_most(d: float) -> int:
        # For each y_j, the x_i with y_j - x_i <= d are those with x_i >= y_j - d.
        return int(m * n - np.searchsorted(x, y - d, side="left").sum())

    lo, hi = bracket if bracket is not None else _brackets(x, y, [k])[0]
    below, upto = at_most(lo), at_most(hi)
    if not below < k <= upto:  # the subsample's guess missed: the whole range always brackets
        lo, hi = float(y[0] - x[-1]) - 1.0, float(y[-1] - x[0])
        below, upto = 0, m * n
    limit = _LISTED_PAIRS_PER_VALUE * (m + n)
    # Invariant: below = at_most(lo) < k <= at_most(hi) = upto.
    width = upto - below
    for _ in range(_MAX_HALVINGS):
        if upto - below <= limit:
            break
        bottom, top = lo, hi
        if upto - below > 0.75 * width:
            # The last halving barely narrowed it: ties (durations quantised by the clock) are likely.
            # Snap to actual differences; a bracket holding one distinct value holds the k-th.
            top, bottom = _largest_at_most(x, y, hi), _smallest_above(x, y, lo)
            if bottom >= top:
                return top
        width = upto - below
        mid = (bottom + top) / 2.0
        if not lo < mid < hi:  # float rounding put the snapped values at the bracket's ends
            mid = (lo + hi) / 2.0
        if not lo < mid < hi:  # adjacent floats: every difference left in the bracket is the same number
            return _largest_at_most(x, y, hi)
        count = at_most(mid)
        if count >= k:
            hi, upto = mid, count
        else:
            lo, below = mid, count
    else:  # pragma: no cover - 200 halvings always reach float resolution first
        return _largest_at_most(x, y, hi)
    # List the differences in (lo, hi] and select among them.
    starts = np.searchsorted(x, y - hi, side="left")
    ends = np.searchsorted(x, y - lo, side="left")
    counts = ends - starts
    rows = np.repeat(np.arange(n), counts)
    offsets = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    inside = y[rows] - x[starts[rows] + offsets]
    rank = k - below - 1
    return float(np.partition(inside, rank)[rank])


def _largest_at_most(x: FloatArray, y: FloatArray, d: float) -> float:
    """The largest difference y_j - x_i that is <= d."""
    idx = np.searchsorted(x, y - d, side="left")
    valid = idx < x.size
    return float(np.max(y[valid] - x[idx[valid]]))


def _smallest_above(x: FloatArray, y: FloatArray, d: float) -> float:
    """The smallest difference y_j - x_i that is > d."""
    idx = np.searchsorted(x, y - d, side="left") - 1  # the largest x_i < y_j - d
    valid = idx >= 0
    return float(np.min(y[valid] - x[idx[valid]]))


_LISTED_PAIRS_PER_VALUE = 4  # bisect until the bracket holds at most 4 (m + n) differences
_MAX_HALVINGS = 200
_SUBSAMPLE = 1500  # order statistics of each sample for the first bracket: 1500^2 differences


def _brackets(x: FloatArray, y: FloatArray, ranks: Sequence[int]) -> list[tuple[float, float]]:
    """Likely brackets of the given order statistics, from evenly spaced order statistics of x and y."""
    sx = x[np.linspace(0, x.size - 1, min(_SUBSAMPLE, x.size)).round().astype(int)]
    sy = y[np.linspace(0, y.size - 1, min(_SUBSAMPLE, y.size)).round().astype(int)]
    diffs = np.subtract.outer(sy, sx).ravel()
    size, spread = min(sx.size, sy.size), diffs.size - 1
    spans = []
    for k in ranks:
        p = k / (x.size * y.size)
        margin = 6 * math.sqrt(p * (1 - p) / size) + 2 / size
        spans.append((max(0, math.floor((p - margin) * spread)), min(spread, math.ceil((p + margin) * spread))))
    diffs.partition(sorted({i for span in spans for i in span}))
    return [(float(diffs[a]) - 1e-12, float(diffs[b])) for a, b in spans]


def _signed_rank_cdf(n: int) -> FloatArray:
    """P(T+ <= t) for t = 0 .. n(n+1)/2 under the null: each rank's sign a fair coin (counted exactly)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank]  # the right side is built first: each rank used once
    cdf: FloatArray = np.cumsum(counts) / 2.0**n
    return cdf


def _signed_rank_sd(n: int, tie_counts: npt.NDArray[np.int64] | None = None) -> float:
    """The standard deviation of T+ under the null, tie corrected."""
    variance = n * (n + 1) * (2 * n + 1) / 24.0
    if tie_counts is not None:
        variance -= float(np.sum(tie_counts.astype(np.float64) ** 3 - tie_counts)) / 48.0
    return math.sqrt(max(variance, 0.0))


def signed_rank(d: FloatArray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped).

    Exact when at most 60 nonzero differences with no ties, else the normal approximation (tie and
    continuity corrected).
    """
    nonzero = d[d != 0]
    n = nonzero.size
    if n == 0:
        return 1.0
    ranks, ties = average_ranks(np.abs(nonzero))
    t_plus = float(ranks[nonzero > 0].sum())
    if n <= _EXACT_SIGNED_RANK and np.all(ties == 1):
        cdf = _signed_rank_cdf(n)
        t = round(t_plus)
        below = cdf[t]  # P(T+ <= t)
        above = 1.0 - (cdf[t - 1] if t > 0 else 0.0)  # P(T+ >= t)
        return min(1.0, 2.0 * float(min(below, above)))
    sd = _signed_rank_sd(n, ties)
    if sd == 0:
        return 1.0
    z = max(abs(t_plus - n * (n + 1) / 4.0) - 0.5, 0.0) / sd
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def _critical_count(n: int, level_alpha: float, z_crit: float) -> int:
    """C: the interval is the C-th smallest and C-th largest Walsh average (0: the level is unattainable)."""
    if n <= _EXACT_SIGNED_RANK:
        # The largest t with P(T+ <= t) <= level/2; the interval starts at Walsh average t + 1.
        return int(np.searchsorted(_signed_rank_cdf(n), level_alpha / 2.0, side="right"))
    return max(math.floor(n * (n + 1) / 4.0 - z_crit * _signed_rank_sd(n)), 0)


def signed_rank_shift(d: FloatArray, level_alpha: float, z_crit: float) -> LogEstimate:
    """One-sample Hodges-Lehmann estimate of paired differences: the median of their Walsh averages.

    Its interval inverts the signed-rank test: the C-th smallest and largest Walsh averages (d_i + d_j) / 2,
    i <= j, at the two-sided `level_alpha` (+-inf when unattainable with this few pairs); the standard error
    is half the +-1 sd interval. At most MAX_WALSH differences (the caller coarsens more).
    """
    n = d.size
    if n > MAX_WALSH:
        raise ValueError(f"at most {MAX_WALSH} paired differences, got {n}")
    rows, cols = np.triu_indices(n)
    walsh = (d[rows] + d[cols]) / 2.0
    total = walsh.size
    c_crit = _critical_count(n, level_alpha, z_crit)
    c_one = min(max(math.floor(total / 2.0 - _signed_rank_sd(n)), 1), (total + 1) // 2)
    wanted = {(total + 1) // 2, total // 2 + 1, c_one, total + 1 - c_one}
    if c_crit >= 1:
        wanted |= {c_crit, total + 1 - c_crit}
    ranks = sorted(wanted)
    walsh.partition([r - 1 for r in ranks])
    found = {r: float(walsh[r - 1]) for r in ranks}
    est = (found[(total + 1) // 2] + found[total // 2 + 1]) / 2.0
    lo, hi = (found[c_crit], found[total + 1 - c_crit]) if c_crit >= 1 else (-math.inf, math.inf)
    se = (found[total + 1 - c_one] - found[c_one]) / 2.0
    return LogEstimate(est, lo, hi, se)


def signed_rank_pairs_needed(level_alpha: float, z_crit: float) -> int:
    """The fewest paired differences whose signed-rank interval is attainable at this level."""
    n = 1
    while _critical_count(n, level_alpha, z_crit) < 1:
        n += 1
    return n
