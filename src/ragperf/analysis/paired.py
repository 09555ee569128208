"""Compare two interleaved runs block pair by block pair (`ragperf compare`): the paired kind of evidence.

Block b of each side ran the same queries, one side right after the other, so whatever the machine was
doing then (a neighbour's job, a frequency change, a cache gone cold) weighed on both alike. Per path
and block the statistic is the block's median (robust to one GC pause in a block); per block pair the
difference is log(new median / old median). Drift over the run moves both medians of a pair together and
cancels in the difference; what is left is the change plus the noise within a pair.

* ``shift`` = exp(one-sample Hodges-Lehmann estimate of the differences) - 1: the median of their Walsh
  averages, the estimate matching the signed-rank test.
* ``shift_ci``: the distribution-free interval inverting the Wilcoxon signed-rank test (order statistics
  of the Walsh averages; the null distribution counted exactly up to 60 pairs), at the family's level.
* ``p_value``: the two-sided signed-rank test; ``p_adjusted`` Bonferroni over the diff's family.

The verdict is `compare.decide`'s rule with the shift as the change: significant at the family's level,
and beyond the relative threshold and the absolute floor (`effective_threshold`, on the baseline's p50).
Fewer than 5 pairs is ``too_few``; an interval still unattainable, or too wide, is ``inconclusive`` with
the block pairs that would settle it (``blocks_needed``; ``queries_needed`` = that times the block size).
Gated tail metrics (p95=...) are judged as `ragperf diff` judges them, on all queries of each side.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.compare import (
    MIN_SAMPLES,
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
from ragperf.analysis.ranks import MAX_WALSH, signed_rank, signed_rank_pairs_needed, signed_rank_shift

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    from ragperf.analysis.compare import Verdict

    FloatArray = npt.NDArray[np.float64]

__all__ = ["block_log_ratios", "compare_paired_stages"]

_FLOOR_MS = 1e-6  # as compare.py: a 0 ms median (timer resolution) must not make log() blow up


def compare_paired_stages(
    old: Mapping[str, Sequence[FloatArray]],
    new: Mapping[str, Sequence[FloatArray]],
    *,
    family: int,
    block_size: int,
    threshold: float,
    alpha: float,
    metric_thresholds: Mapping[str, float] | None = None,
    min_ms: float,
    seed: int = 0,
    cpu: Mapping[str, tuple[Sequence[FloatArray], Sequence[FloatArray]]] | None = None,
) -> list[StageComparison]:
    """Every path in both (in `old`'s order): `old[path][i]` and `new[path][i]` are the durations of pair i.

    `cpu[path]`: each side's CPU times by block, for a CPU-bound path: the shift is then estimated and
    tested on them (``measure="cpu"``), the wall-time figures still shown beside.
    """
    plan = Plan.of(threshold, metric_thresholds, alpha=alpha, family=family, min_ms=min_ms, seed=seed)
    cpu = cpu or {}
    return [_compare(name, old[name], new[name], plan, block_size, cpu.get(name)) for name in old if name in new]


def block_log_ratios(old: Sequence[FloatArray], new: Sequence[FloatArray]) -> FloatArray:
    """log(new block median / old block median) of each pair where both blocks have a sample of the path."""
    kept = [(a, b) for a, b in zip(old, new, strict=True) if a.size and b.size]
    if not kept:
        return np.zeros(0)
    old_median = np.maximum([np.median(a) for a, _ in kept], _FLOOR_MS)
    new_median = np.maximum([np.median(b) for _, b in kept], _FLOOR_MS)
    ratios: FloatArray = np.log(new_median) - np.log(old_median)
    return ratios


def _coarsened(d: FloatArray) -> FloatArray:
    """Consecutive pairs averaged into at most MAX_WALSH groups (a paired comparison of 15,000 blocks)."""
    if d.size <= MAX_WALSH:
        return d
    groups = math.ceil(d.size / math.ceil(d.size / MAX_WALSH))
    return np.array([chunk.mean() for chunk in np.array_split(d, groups)])


def _compare(
    name: str,
    old: Sequence[FloatArray],
    new: Sequence[FloatArray],
    plan: Plan,
    block_size: int,
    cpu: tuple[Sequence[FloatArray], Sequence[FloatArray]] | None,
) -> StageComparison:
    a = durations(np.concatenate(old) if old else np.zeros(0), name, "old")
    b = durations(np.concatenate(new) if new else np.zeros(0), name, "new")
    measured_old, measured_new = cpu or (old, new)
    d = block_log_ratios(measured_old, measured_new)
    if d.size < MIN_SAMPLES:
        return too_few(name, a, b, plan, pairs=int(d.size))
    family = plan.family
    p_value = signed_rank(d)
    p_adjusted = family.adjust(p_value)
    estimate = signed_rank_shift(_coarsened(d), family.level_alpha, family.z_crit)
    shift, shift_ci = math.expm1(estimate.est), (math.expm1(estimate.lo), math.expm1(estimate.hi))
    # The floor in ms, scaled by the baseline's p50 of what is measured.
    base = a if cpu is None else np.concatenate(measured_old) if measured_old else np.zeros(0)
    threshold = effective_threshold(plan.shift_threshold, plan.min_ms, statistic(base, "p50"))
    significant = p_adjusted < family.alpha and shift != 0
    verdicts: list[Verdict] = [decide(shift, shift_ci, significant=significant, threshold=threshold)]
    blocks_needed = None
    needed: list[int | None] = []
    if verdicts[0] == "inconclusive":
        more = samples_needed(estimate, d.size, family.z_crit, threshold)
        blocks_needed = max(more or 0, signed_rank_pairs_needed(family.level_alpha, family.z_crit), d.size + 1)
        needed.append(blocks_needed * block_size)
    return conclude(
        name, a, b, plan, verdicts, needed, shift=shift, shift_ci=shift_ci, se=estimate.se,
        p_value=p_value, p_adjusted=p_adjusted, threshold=threshold,
        kind="paired", pairs=int(d.size), blocks_needed=blocks_needed if verdicts[0] == "inconclusive" else None,
        measure="wall" if cpu is None else "cpu",
    )  # fmt: skip
