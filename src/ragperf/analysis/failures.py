"""Did more queries fail? A one-sided Fisher exact test on the failed/succeeded counts of two runs.

A run whose queries all failed has no latency left to compare; without this check a diff of it
found "no regression". Failures need no size threshold: any significant rise is a regression.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ragperf.schema.diff import FailureChange

if TYPE_CHECKING:
    from ragperf.schema.run import RunFile

__all__ = ["FAILED_QUERIES", "failure_change", "more_failures_p"]

FAILED_QUERIES = "failed queries"


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def more_failures_p(failed_old: int, n_old: int, failed_new: int, n_new: int) -> float:
    """P(at least `failed_new` of the new run's queries fail) if both runs fail alike (hypergeometric tail)."""
    failed, total = failed_old + failed_new, n_old + n_new
    if failed == 0 or n_new == 0:
        return 1.0
    denominator = _log_comb(total, n_new)
    tail = [
        _log_comb(failed, x) + _log_comb(total - failed, n_new - x) - denominator
        for x in range(failed_new, min(failed, n_new) + 1)
        if n_new - x <= total - failed
    ]
    if not tail:
        return 0.0
    top = max(tail)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in tail))


def failure_change(baseline: RunFile, new: RunFile, alpha: float) -> FailureChange:
    """The two runs' failure counts, and whether the new one fails significantly more often."""
    old_failed, old_n = baseline.summary.n_failed, baseline.summary.n_queries
    new_failed, new_n = new.summary.n_failed, new.summary.n_queries
    p = more_failures_p(old_failed, old_n, new_failed, new_n)
    worse = new_n > 0 and new_failed / new_n > (old_failed / old_n if old_n else 0.0)
    return FailureChange(
        old_failed=old_failed,
        old_n=old_n,
        new_failed=new_failed,
        new_n=new_n,
        p_value=p,
        verdict="regression" if worse and p < alpha else "unchanged",
    )
