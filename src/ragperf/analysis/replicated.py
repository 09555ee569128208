"""Compare two runs measured in several worker processes each (`ragperf run --processes K`): replicated evidence.

The queries of one process share its memory layout, hash seed, and the machine's state while it ran, so
they are not independent samples of what the code costs: the unit that replicates is the process (why
pyperf spreads a benchmark over 20 processes; Kalibera and Jones, 2013). Per path and process the
statistic is the log of the process's median; each side's processes give a mean and a variance of it.

* ``shift`` = exp(mean new log median - mean old log median) - 1;
* ``shift_ci``: Welch's t interval (Welch-Satterthwaite degrees of freedom) at the family's level;
* ``p_value``: Welch's two-sided t test; ``p_adjusted`` Bonferroni over the diff's family.

The verdict is `compare.decide`'s rule on the shift, with the same threshold and absolute floor as any
diff. A run whose processes disagree (the machine changed while it ran) gets a wide interval and comes
out inconclusive, with the processes per side that would settle it, where queries alone would have
called a regression. Fewer than 2 processes a side is ``too_few``. Gated tail metrics are judged as
`ragperf diff` judges them, on all queries of each side.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.compare import (
    Plan,
    StageComparison,
    conclude,
    decide,
    durations,
    effective_threshold,
    samples_needed,
    too_few,
)
from ragperf.analysis.metric_ci import statistic
from ragperf.analysis.ranks import LogEstimate
from ragperf.analysis.student import t_quantile, t_sf

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    from ragperf.analysis.compare import Verdict

    FloatArray = npt.NDArray[np.float64]

__all__ = ["MIN_PROCESSES", "compare_replicated_stages", "process_log_medians"]

MIN_PROCESSES = 2  # a variance needs two
_FLOOR_MS = 1e-6  # as compare.py: a 0 ms median (timer resolution) must not make log() blow up


def compare_replicated_stages(
    old: Mapping[str, Sequence[FloatArray]],
    new: Mapping[str, Sequence[FloatArray]],
    *,
    family: int,
    threshold: float,
    alpha: float,
    metric_thresholds: Mapping[str, float] | None = None,
    min_ms: float,
    seed: int = 0,
) -> list[StageComparison]:
    """Every path in both (in `old`'s order): `old[path][k]` holds the durations of process k of the old run."""
    plan = Plan.of(threshold, metric_thresholds, alpha=alpha, family=family, min_ms=min_ms, seed=seed)
    return [_compare(name, old[name], new[name], plan) for name in old if name in new]


def process_log_medians(processes: Sequence[FloatArray]) -> FloatArray:
    """log(median) of each process that measured the path at all."""
    medians = [max(float(np.median(p)), _FLOOR_MS) for p in processes if p.size]
    return np.log(np.asarray(medians, dtype=np.float64))


def _compare(name: str, old: Sequence[FloatArray], new: Sequence[FloatArray], plan: Plan) -> StageComparison:
    a = durations(np.concatenate(old) if old else np.zeros(0), name, "old")
    b = durations(np.concatenate(new) if new else np.zeros(0), name, "new")
    lo, ln = process_log_medians(old), process_log_medians(new)
    processes = (int(lo.size), int(ln.size))
    if min(processes) < MIN_PROCESSES:
        return too_few(name, a, b, plan, kind="replicated", processes=processes)
    family = plan.family
    estimate, p_value, t_crit = _welch(lo, ln, family.level_alpha)
    shift, shift_ci = math.expm1(estimate.est), (math.expm1(estimate.lo), math.expm1(estimate.hi))
    p_adjusted = family.adjust(p_value)
    threshold = effective_threshold(plan.shift_threshold, plan.min_ms, statistic(a, "p50"))
    verdicts: list[Verdict] = [decide(shift, shift_ci, significant=p_adjusted < family.alpha, threshold=threshold)]
    processes_needed = None
    if verdicts[0] == "inconclusive":
        more = samples_needed(estimate, min(processes), t_crit, threshold)
        processes_needed = max(more or 0, min(processes) + 1)
    return conclude(
        name, a, b, plan, verdicts, [None], shift=shift, shift_ci=shift_ci, se=estimate.se,
        p_value=p_value, p_adjusted=p_adjusted, threshold=threshold,
        kind="replicated", processes=processes, processes_needed=processes_needed,
    )  # fmt: skip


def _welch(old: FloatArray, new: FloatArray, level_alpha: float) -> tuple[LogEstimate, float, float]:
    """The difference of means with Welch's interval at `level_alpha`, its two-sided p-value, and t's quantile."""
    est = float(new.mean() - old.mean())
    parts = (float(old.var(ddof=1)) / old.size, float(new.var(ddof=1)) / new.size)
    se = math.sqrt(sum(parts))
    if se == 0.0:  # every process gave the same median on both sides: no spread to judge a change by
        return LogEstimate(est, est, est, 0.0), 1.0 if est == 0.0 else 0.0, math.inf
    df = se**4 / sum(part**2 / (n - 1) for part, n in zip(parts, (old.size, new.size), strict=True) if part > 0)
    t_crit = t_quantile(1.0 - level_alpha / 2.0, df)
    p_value = min(1.0, 2.0 * t_sf(abs(est) / se, df))
    return LogEstimate(est, est - t_crit * se, est + t_crit * se, se), p_value, t_crit
