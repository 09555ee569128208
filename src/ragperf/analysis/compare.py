"""Compare two runs stage by stage: relative shift, confidence interval, rank test, and an honest verdict.

Inputs are plain sequences of per-query durations (ms) per stage; nothing here knows the run-file format.

How a stage is judged (all on the log scale, so every change is multiplicative: +0.10 means 10% slower):

* ``shift`` is the Hodges-Lehmann estimate: the median of all pairwise differences log(new_j) - log(old_i).
  It is the location shift matching the Mann-Whitney test, robust to the GC-pause / cold-cache outliers
  that dominate means of latency samples.
* ``shift_ci`` is the distribution-free interval obtained by inverting the Mann-Whitney test (order
  statistics of the same pairwise differences), at level 1 - alpha / m, where m is the number of
  hypotheses in the family (``family_size``: every path tested times its gated checks, plus the other
  checks of the same diff, such as a load step's throughput figures; one number for the whole diff).
  Bonferroni, not Holm, so that the interval and the adjusted p-value are read at the same level: a CI
  excluding 0 and ``p_adjusted < alpha`` agree (up to the discreteness of ranks). The gate fails on *any*
  regression, and Holm only gains power after a first rejection, so Bonferroni costs the gate almost nothing.
* ``p_value`` is the two-sided Mann-Whitney U test (normal approximation, tie and continuity corrected);
  ``p_adjusted`` = min(1, p * m).

Verdict for a stage with threshold t (relative, e.g. 0.05) and absolute floor f (ms, e.g. 0.25):

* ``too_few``: fewer than 5 queries on either side; nothing is estimated.
* ``regression`` / ``improvement``: significant (``p_adjusted < alpha``), the HL shift in that direction,
  AND the observed change of the sample p50 (the number the report shows) beyond +t / -t AND beyond f
  milliseconds. Both bounds are one relative threshold, t' = max(t, f / old p50), so every rule below
  reads t' for t: a 0.2 ms stage must move by 0.25 ms (+125%) to count, a 400 ms stage by 5%.
* ``unchanged``: the whole CI lies inside (-t, +t). A change that is significant but smaller than the
  threshold is therefore ``unchanged`` when its CI also excludes the threshold, else ``inconclusive``.
* ``inconclusive``: anything else -- the samples cannot tell. ``queries_needed`` is about how many queries
  per run would settle it: enough that an unchanged stage is shown ``unchanged`` with 80% probability
  (which also detects a change of size t with more than 80% power), or, when that power is already there
  but the estimate sits on the threshold, enough to shrink the CI clear of it.

``min_detectable`` (every verdict but ``too_few``) is the smallest shift these sample sizes detect as
significant with 80% power. Because tests are two-sided, the chance that an A/A comparison flags *any*
stage as a regression is at most about alpha / 2 (2.5% at the default alpha; use a smaller alpha for a
stricter gate).

Per-metric thresholds (``p95=10%``) add a gated check of that metric: a percentile-bootstrap CI of
log(new_metric / old_metric), same level, same decision rule (the floor applies to the metric's own
old value). A tail percentile is only checked when each
run has at least 5 queries beyond it (p95 needs 100 queries, p99 needs 500); below that it is ``too_few``.
The stage verdict is the worst of its gated checks in the order regression > inconclusive > improvement >
unchanged (a metric's ``too_few`` counts as inconclusive: the user asked about that tail and we cannot
tell).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ragperf.analysis.family import MIN_SAMPLES, Family, family_size, tested
from ragperf.analysis.metric_ci import PERCENTILE, log_ratio_ci, statistic
from ragperf.analysis.ranks import LogEstimate, hodges_lehmann, mann_whitney
from ragperf.analysis.thresholds import (
    DEFAULT_MIN_MS,
    DEFAULT_THRESHOLD,
    METRICS,
    parse_thresholds,
    split_thresholds,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_MS",
    "DEFAULT_THRESHOLD",
    "METRICS",
    "MIN_SAMPLES",
    "SEVERITY",
    "Z_POWER",
    "MetricChange",
    "Plan",
    "StageComparison",
    "Verdict",
    "check_min_ms",
    "compare_stage",
    "compare_stages",
    "conclude",
    "decide",
    "describe",
    "durations",
    "effective_threshold",
    "gated_metric",
    "metric_changes",
    "parse_thresholds",
    "samples_needed",
    "too_few",
]

Verdict = Literal["regression", "improvement", "unchanged", "inconclusive", "too_few"]
EvidenceKind = Literal["independent", "paired", "replicated"]

DEFAULT_ALPHA = 0.05
POWER = 0.80

# A bootstrap of a tail percentile with fewer than this many points beyond it mostly resamples one or two
# values: its interval is far too narrow. Refuse instead.
_MIN_TAIL = 5
# Durations of 0 ms (timer resolution) would make log() blow up; 1 ns is below any real stage.
_FLOOR_MS = 1e-6
_STD_NORMAL = NormalDist()
Z_POWER = _STD_NORMAL.inv_cdf(POWER)
# Showing "unchanged" needs |estimate| + half-width < threshold; at a true change of 0 the estimate must land
# within +-z SE, so 80% probability takes the two-sided z (1.28), not the one-sided 0.84 of detection.
_Z_EQUIVALENCE = _STD_NORMAL.inv_cdf((1.0 + POWER) / 2.0)
# Order used to merge the verdicts of a stage's gated checks: the first one present wins.
SEVERITY: tuple[Verdict, ...] = ("regression", "inconclusive", "improvement", "unchanged")


@dataclass(frozen=True)
class MetricChange:
    """One summary statistic of a stage, old vs new; ``ci``/``verdict`` only when the metric is gated."""

    metric: str
    old: float
    new: float
    rel_change: float
    threshold: float | None = None
    ci: tuple[float, float] | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True)
class StageComparison:
    """The comparison of one stage; relative numbers (0.10 = +10%), NaN where ``too_few``."""

    name: str
    n_old: int
    n_new: int
    metrics: tuple[MetricChange, ...]  # p50, p95, p99, mean in that order
    shift: float  # Hodges-Lehmann multiplicative shift, new vs old
    shift_ci: tuple[float, float]  # (-1.0, inf) when the runs are too small to reach ci_level at all
    ci_level: float  # 1 - alpha / (hypotheses in the family)
    p_value: float  # Mann-Whitney U, two-sided
    p_adjusted: float  # Bonferroni over the family
    verdict: Verdict
    threshold: float  # the one the shift was judged against
    min_detectable: float | None  # shift detected with 80% power at these sizes; None when too_few
    queries_needed: int | None  # per run, to settle an inconclusive verdict; None otherwise
    kind: EvidenceKind = "independent"  # paired: block pairs of a compare; replicated: processes (`replicated.py`)
    pairs: int | None = None  # paired: the block pairs the shift was estimated from
    blocks_needed: int | None = None  # paired: block pairs that would settle an inconclusive verdict
    processes: tuple[int, int] | None = None  # replicated: the processes of each side that measured the path
    processes_needed: int | None = None  # replicated: processes per side that would settle an inconclusive verdict
    measure: Literal["wall", "cpu"] = "wall"  # what the shift was estimated on (cpu: a compare's CPU-bound path)

    def metric(self, name: str) -> MetricChange:
        """The named metric ("p50", "p95", "p99", "mean")."""
        for change in self.metrics:
            if change.metric == name:
                return change
        raise KeyError(name)


def effective_threshold(threshold: float, min_ms: float, old_ms: float) -> float:
    """The relative change that is beyond both the relative threshold and the absolute floor."""
    if min_ms <= 0:
        return threshold
    if not old_ms > 0:  # no baseline value to scale the floor by (too few queries): nothing is judged anyway
        return threshold
    return max(threshold, min_ms / old_ms)


def compare_stage(
    name: str,
    old: Sequence[float],
    new: Sequence[float],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    n_comparisons: int = 1,
    metric_thresholds: Mapping[str, float] | None = None,
    min_ms: float = DEFAULT_MIN_MS,
    seed: int = 0,
) -> StageComparison:
    """Compare one stage; ``n_comparisons`` is the number of stages in the family being corrected for."""
    if n_comparisons < 1:
        raise ValueError(f"n_comparisons must be at least 1, got {n_comparisons}")
    shift_threshold, gated = split_thresholds(threshold, metric_thresholds)
    family = Family(alpha, family_size(n_comparisons, len(gated)))
    plan = Plan(shift_threshold, gated, family, check_min_ms(min_ms), seed)
    return _compare(name, durations(old, name, "old"), durations(new, name, "new"), plan)


def compare_stages(
    old: Mapping[str, Sequence[float] | FloatArray],
    new: Mapping[str, Sequence[float] | FloatArray],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    metric_thresholds: Mapping[str, float] | None = None,
    min_ms: float = DEFAULT_MIN_MS,
    family: int | None = None,
    seed: int = 0,
) -> list[StageComparison]:
    """Compare every stage present in both runs (in ``old``'s order), correcting for all of them at once.

    ``family`` is the number of hypotheses of the whole diff (``family_size``), when these stages are part
    of a larger one (several rates of a load test); by default, the hypotheses these stages test.
    """
    shift_threshold, gated = split_thresholds(threshold, metric_thresholds)
    names = [name for name in old if name in new]
    samples = {name: (durations(old[name], name, "old"), durations(new[name], name, "new")) for name in names}
    if family is None:
        family = family_size(tested([(a.size, b.size) for a, b in samples.values()]), len(gated))
    plan = Plan(shift_threshold, gated, Family(alpha, family), check_min_ms(min_ms), seed)
    return [_compare(name, a, b, plan) for name, (a, b) in samples.items()]


# --- the comparison ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Settings shared by every stage of one comparison."""

    shift_threshold: float
    gated: Mapping[str, float]
    family: Family
    min_ms: float
    seed: int

    @classmethod
    def of(
        cls, threshold: float, metric_thresholds: Mapping[str, float] | None, *, alpha: float, family: int,
        min_ms: float, seed: int = 0,
    ) -> Plan:  # fmt: skip
        """The plan of a diff's settings, its family's size given."""
        shift_threshold, gated = split_thresholds(threshold, metric_thresholds)
        return cls(shift_threshold, gated, Family(alpha, family), check_min_ms(min_ms), seed)


def too_few(
    name: str,
    a: FloatArray,
    b: FloatArray,
    plan: Plan,
    *,
    pairs: int | None = None,
    kind: EvidenceKind | None = None,
    processes: tuple[int, int] | None = None,
) -> StageComparison:
    """A path with too few samples to test: descriptive numbers where there are any, nothing inferential guessed."""
    metrics = tuple(
        describe(m, a, b, threshold=plan.gated.get(m), verdict="too_few" if m in plan.gated else None) for m in METRICS
    )
    return StageComparison(
        name=name,
        n_old=int(a.size),
        n_new=int(b.size),
        metrics=metrics,
        shift=math.nan,
        shift_ci=(math.nan, math.nan),
        ci_level=1.0 - plan.family.level_alpha,
        p_value=math.nan,
        p_adjusted=math.nan,
        verdict="too_few",
        threshold=plan.shift_threshold,
        min_detectable=None,
        queries_needed=None,
        kind=kind or ("independent" if pairs is None else "paired"),
        pairs=pairs,
        processes=processes,
    )


def _compare(name: str, a: FloatArray, b: FloatArray, plan: Plan) -> StageComparison:
    if min(a.size, b.size) < MIN_SAMPLES:
        return too_few(name, a, b, plan)

    z_crit = plan.family.z_crit
    p_value, sigma_u = mann_whitney(a, b)
    p_adjusted = plan.family.adjust(p_value)
    shift_log = hodges_lehmann(np.sort(np.log(a)), np.sort(np.log(b)), sigma_u, z_crit)
    shift, shift_ci = math.expm1(shift_log.est), (math.expm1(shift_log.lo), math.expm1(shift_log.hi))
    old_p50 = statistic(a, "p50")
    threshold = effective_threshold(plan.shift_threshold, plan.min_ms, old_p50)
    # The threshold is judged on the sample p50 change (the number the user reads), the direction and
    # significance on the rank test and HL shift: the two are correlated but not identical, so requiring
    # both trims false alarms at the Bonferroni level without costing detection (benchmarks/diff_validation.py).
    observed = _relative(old_p50, statistic(b, "p50"))
    significant = p_adjusted < plan.family.alpha
    verdicts: list[Verdict] = [
        decide(
            observed,
            shift_ci,
            significant=significant and (shift > 0) == (observed > 0) and shift != 0,
            threshold=threshold,
        )
    ]
    n_per_run = 2.0 * a.size * b.size / (a.size + b.size)  # harmonic mean: equal-size runs with the same SE
    needed: list[int | None] = []
    if verdicts[0] == "inconclusive":
        needed.append(samples_needed(shift_log, n_per_run, z_crit, threshold))

    return conclude(
        name, a, b, plan, verdicts, needed, shift=shift, shift_ci=shift_ci, se=shift_log.se,
        p_value=p_value, p_adjusted=p_adjusted, threshold=threshold,
    )  # fmt: skip


def conclude(
    name: str,
    a: FloatArray,
    b: FloatArray,
    plan: Plan,
    verdicts: list[Verdict],
    needed: list[int | None],
    *,
    shift: float,
    shift_ci: tuple[float, float],
    se: float,
    p_value: float,
    p_adjusted: float,
    threshold: float,
    **evidence: Any,
) -> StageComparison:
    """The comparison of a path from its shift test: the gated metrics judged, the worst verdict, the power.

    Shared by independent and paired evidence; `evidence` holds a kind's own fields (pairs, blocks).
    """
    changes = metric_changes(name, a, b, plan, verdicts, needed)
    verdict = next(v for v in SEVERITY if v in verdicts)
    known = [q for q in needed if q is not None]
    min_detectable = math.expm1((plan.family.z_crit + Z_POWER) * se)
    return StageComparison(
        name=name,
        n_old=int(a.size),
        n_new=int(b.size),
        metrics=changes,
        shift=shift,
        shift_ci=shift_ci,
        ci_level=1.0 - plan.family.level_alpha,
        p_value=p_value,
        p_adjusted=p_adjusted,
        verdict=verdict,
        threshold=threshold,
        min_detectable=min_detectable if math.isfinite(min_detectable) else None,
        queries_needed=max(known) if verdict == "inconclusive" and known else None,
        **evidence,
    )


def metric_changes(
    name: str, a: FloatArray, b: FloatArray, plan: Plan, verdicts: list[Verdict], needed: list[int | None]
) -> tuple[MetricChange, ...]:
    """p50, p95, p99 and mean of a path; each gated one checked, its verdict and queries needed appended."""
    changes: list[MetricChange] = []
    for index, metric in enumerate(METRICS):
        if metric not in plan.gated:
            changes.append(describe(metric, a, b))
            continue
        # Seeded per stage and metric, so a stage's interval does not depend on which other stages exist.
        rng = np.random.default_rng([plan.seed, zlib.crc32(name.encode()), index])
        change, queries = gated_metric(metric, a, b, plan, rng)
        changes.append(change)
        verdicts.append("inconclusive" if change.verdict in (None, "too_few") else change.verdict)
        needed.append(queries)
    return tuple(changes)


def decide(est: float, ci: tuple[float, float], *, significant: bool, threshold: float) -> Verdict:
    """The verdict rule of `ragperf diff`, for a relative change and its interval (run and load diffs)."""
    if significant and est > threshold:
        return "regression"
    if significant and est < -threshold:
        return "improvement"
    if -threshold < ci[0] and ci[1] < threshold:
        return "unchanged"
    return "inconclusive"


def samples_needed(estimate: LogEstimate, n_per_run: float, z_crit: float, threshold: float) -> int | None:
    """Samples per run (queries, or block pairs) to settle an inconclusive check, from SE ~ 1/sqrt(n)."""
    if threshold <= 0 or not math.isfinite(estimate.se):
        # With a zero threshold there is no size of change to aim for: no honest number to give.
        return None
    bound = math.log1p(threshold)
    # Enough queries that a stage that did not change would be shown "unchanged" with 80% probability; that
    # also detects a change of the threshold's size with more than 80% power, so either way it is decided.
    ratio = (z_crit + _Z_EQUIVALENCE) * estimate.se / bound
    if ratio > 1.0:
        return math.ceil(n_per_run * ratio**2)
    # That power is already there: the estimate sits near a threshold, so the CI must shrink to clear it.
    edges = [bound] + ([math.log1p(-threshold)] if threshold < 1 else [])
    gap = min(abs(estimate.est - edge) for edge in edges)
    half_width = (estimate.hi - estimate.lo) / 2.0
    if gap <= 0 or not math.isfinite(half_width):
        return None
    return max(math.ceil(n_per_run * (half_width / gap) ** 2), math.ceil(n_per_run) + 1)


def gated_metric(
    metric: str, a: FloatArray, b: FloatArray, plan: Plan, rng: np.random.Generator
) -> tuple[MetricChange, int | None]:
    """Bootstrap check of one metric against its own threshold, and the queries per run it would need."""
    threshold = effective_threshold(plan.gated[metric], plan.min_ms, statistic(a, metric))
    q = PERCENTILE.get(metric)
    if q is not None:
        # Each run needs _MIN_TAIL points beyond the percentile for the bootstrap to mean anything.
        need = math.ceil(_MIN_TAIL / (1.0 - q / 100.0) - 1e-9)
        if min(a.size, b.size) < need:
            return describe(metric, a, b, threshold=threshold, verdict="too_few"), need
    lo, hi = log_ratio_ci(a, b, metric, plan.family.level_alpha, rng)
    change = describe(metric, a, b, threshold=threshold)
    ci = (math.expm1(lo), math.expm1(hi))
    verdict = decide(change.rel_change, ci, significant=lo > 0 or hi < 0, threshold=threshold)
    queries = None
    if verdict == "inconclusive":
        est = math.log1p(change.rel_change) if change.rel_change > -1 else -math.inf
        se = (hi - lo) / 2.0 / plan.family.z_crit  # the percentile interval is ~ +-z*SE wide
        n_per_run = 2.0 * a.size * b.size / (a.size + b.size)
        queries = samples_needed(LogEstimate(est, lo, hi, se), n_per_run, plan.family.z_crit, threshold)
    return MetricChange(metric, change.old, change.new, change.rel_change, threshold, ci, verdict), queries


def describe(
    metric: str, a: FloatArray, b: FloatArray, *, threshold: float | None = None, verdict: Verdict | None = None
) -> MetricChange:
    old, new = statistic(a, metric), statistic(b, metric)
    return MetricChange(metric, old, new, _relative(old, new), threshold, None, verdict)


def _relative(old: float, new: float) -> float:
    if math.isnan(old) or math.isnan(new):
        return math.nan
    if old == 0:
        return 0.0 if new == 0 else math.inf
    return new / old - 1.0


# --- input checking ------------------------------------------------------------------------------------


def durations(values: Sequence[float] | FloatArray, name: str, side: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"stage {name!r} ({side}): expected a flat sequence of durations")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"stage {name!r} ({side}): durations must be finite and non-negative")
    return np.maximum(array, _FLOOR_MS)


def check_min_ms(min_ms: float) -> float:
    if not (math.isfinite(min_ms) and min_ms >= 0):
        raise ValueError(f"min_ms must be a finite number of milliseconds >= 0, got {min_ms}")
    return float(min_ms)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
