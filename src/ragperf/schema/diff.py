"""The `ragperf diff` output, schema version 2: what `--format json` writes, and what renderers read.

A diff is **groups of compared paths**. A run diff is one group (its stages, the pipeline total, and the
hotspot, memory and failed-query sections of the run); a load diff is one group per offered rate both
files ran (each with its throughput figures), plus the capacity each file found. Every compared path
(`PathDiff`) carries its `evidence`: how the change was estimated and tested. `kind: "independent"`:
two independent samples, Mann-Whitney U and the Hodges-Lehmann shift, from per-query records or from a
load step's histograms. `kind: "paired"`: the two run files of one `ragperf compare`, paired by block
(the signed-rank test on the log ratios of block medians); the same fields, so readers of `shift`,
`shift_ci`, `p_adjusted` and `verdict` need not change.

One Bonferroni family covers every check of every group: `family` = (paths tested) x (1 + gated
metrics) + (throughput figures tested), so comparing more rates does not raise the chance of a false
alarm. A path regresses when its change is significant at that level, its p50 change exceeds the relative
`threshold`, and the p50 moved by more than `min_ms` milliseconds (the absolute floor).

Relative changes are fractions (0.10 = 10% slower); durations are milliseconds, rates queries per second.
A statistic that cannot be estimated (too few queries) is null, never NaN. Findings are named `<path>` in a
run diff and `<path> @ <group label>` (e.g. `retrieve @ 40 qps`) in a load diff; the pipeline's own path
is `total`.

Version 2 (this one) replaced version 1's two shapes of one report (a load diff left `stages`, `total`,
`hotspots`, `memory` empty and filled `load`) with `groups`, and added `min_ms`, `family` and `evidence`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DIFF_SCHEMA_VERSION",
    "FAILED_QUERIES",
    "TOTAL_PATH",
    "ComparabilityWarning",
    "DiffGroup",
    "DiffReport",
    "DiffVerdict",
    "Evidence",
    "FailureChange",
    "Figure",
    "Finding",
    "HotspotChange",
    "MemoryChange",
    "MetricDelta",
    "PathDiff",
    "RateStep",
    "RunRef",
    "TargetChange",
]

DIFF_SCHEMA_VERSION: Literal[2] = 2
# "contention": slower in wall time only, on a CPU-bound path whose CPU time did not grow, while the new
# run's machine was contended (its `machine` section): the machine's doing, not more work.
DiffVerdict = Literal["regression", "improvement", "unchanged", "inconclusive", "too_few", "contention"]
FAILED_QUERIES = "failed queries"
TOTAL_PATH = "total"  # the whole pipeline's path (as `ragperf.analysis.summary.TOTAL`)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunRef(_Model):
    """Which file a side of the diff came from."""

    path: str
    pipeline: str
    backend: str
    n_queries: int
    n_failed: int
    started_at: str
    git_commit: str | None


class MetricDelta(_Model):
    """One statistic of a path, old vs new; `threshold`/`ci`/`verdict` only where the metric is gated."""

    metric: str
    old: float | None
    new: float | None
    rel_change: float | None
    threshold: float | None = None
    ci: tuple[float, float] | None = None
    verdict: DiffVerdict | None = None


class Evidence(_Model):
    """How a path's change was estimated and tested; the fields every kind of evidence gives."""

    kind: Literal["independent", "paired", "replicated"] = Field(
        default="independent",
        description="independent: two samples, Mann-Whitney U and the Hodges-Lehmann shift; paired: the block pairs "
        "of a compare, the signed-rank test and the Hodges-Lehmann shift of the log ratios of block medians; "
        "replicated: two runs of several processes each, Welch's t test on the processes' log medians",
    )
    samples: Literal["queries", "histogram", "blocks", "processes"] = Field(
        description="per-query durations, a load step's histogram (each query at its bucket's midpoint), "
        "per-block medians (paired), or per-process medians (replicated)"
    )
    shift: float | None = Field(description="relative shift of new vs old (Hodges-Lehmann)")
    shift_ci: tuple[float | None, float | None] | None = Field(description="null ends: unattainable at this n")
    ci_level: float = Field(description="1 - alpha / family")
    p_value: float | None = Field(description="two-sided")
    p_adjusted: float | None = Field(description="Bonferroni over the diff's whole family")
    min_detectable: float | None = Field(description="shift these sample sizes detect with 80% power")
    queries_needed: int | None = Field(description="queries per run that would settle an inconclusive verdict")
    pairs: int | None = Field(default=None, description="paired: the block pairs the shift was estimated from")
    blocks_needed: int | None = Field(
        default=None, description="paired: block pairs that would settle an inconclusive verdict"
    )
    processes: tuple[int, int] | None = Field(
        default=None, description="replicated: the processes of the baseline and of the new run that measured the path"
    )
    processes_needed: int | None = Field(
        default=None, description="replicated: processes per run that would settle an inconclusive verdict"
    )
    measure: Literal["wall", "cpu"] = Field(
        default="wall",
        description="what the shift was estimated on: wall time, or (paired, a path on the CPU all through) its CPU "
        "time, which the machine's preemptions do not inflate",
    )


class PathDiff(_Model):
    """The comparison of one span path (a stage, a sub-stage, or "total" for the whole pipeline)."""

    path: str
    parent: str | None
    n_old: int
    n_new: int
    metrics: tuple[MetricDelta, ...] = Field(description="p50, p95, p99, mean")
    evidence: Evidence
    verdict: DiffVerdict
    threshold: float = Field(
        description="relative p50 change judged against: the larger of the diff's threshold and min_ms / old p50"
    )
    cpu_change: float | None = Field(
        default=None,
        description="relative change of the p50 CPU time (a stage's thread with cpu_time on; the worker for total)",
    )


class HotspotChange(_Model):
    """A function whose share of a stage changed between the runs."""

    stage: str
    function: str
    file: str
    line: int
    old_share: float
    new_share: float
    change: float = Field(description="new_share - old_share, in share points (0.10 = 10 points)")


class MemoryChange(_Model):
    """A memory or leak figure present in both runs (MB, or MB per iteration for leak slopes)."""

    name: str
    unit: str
    old: float
    new: float
    change: float = Field(description="new - old, in the unit: deltas near 0 make a relative change meaningless")
    rel_change: float | None
    old_ci: tuple[float, float] | None = None
    new_ci: tuple[float, float] | None = None


class TargetChange(_Model):
    """A target (pipeline, stage or rate) whose PASS/FAIL verdict differs between the files."""

    name: str
    old_verdict: str
    new_verdict: str
    old_measured: float | None
    new_measured: float | None
    target: float | None
    unit: str
    gated: bool = Field(
        default=False, description="PASS to FAIL is a regression (a rate target: the capacity a load test measured)"
    )


class FailureChange(_Model):
    """Failed queries in each run; a regression when the new run fails significantly more often."""

    old_failed: int
    old_n: int
    new_failed: int
    new_n: int
    p_value: float = Field(description="one-sided Fisher exact test: the new run fails more often")
    verdict: Literal["regression", "unchanged"]


class ComparabilityWarning(_Model):
    """Why the two files may not be comparable."""

    kind: str
    message: str


class Figure(_Model):
    """A throughput or capacity figure of two load files (achieved qps, goodput, error rate, max rate)."""

    name: str
    unit: str
    old: float | None
    new: float | None
    rel_change: float | None = Field(description="new / old - 1; the absolute change for an error rate")
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    verdict: DiffVerdict
    note: str | None = Field(default=None, description="why the verdict is what it is, when not obvious")


class RateStep(_Model):
    """The load step each file ran at one offered rate."""

    offered_qps: float
    old_step: int
    new_step: int
    old_duration_s: float
    new_duration_s: float
    old_sustained: bool
    new_sustained: bool
    old_holds_targets: bool
    new_holds_targets: bool


Finding = PathDiff | Figure | FailureChange | TargetChange


class DiffGroup(_Model):
    """One condition both files measured (a run, one offered rate): its paths and the sections it has."""

    label: str | None = Field(description="null for a run; '40 qps' for a load step; suffixes its finding names")
    rate: RateStep | None = None
    stages: tuple[PathDiff, ...] = Field(description="every stage both measured, in the pipeline's order")
    total: PathDiff | None = Field(description="the pipeline (under load: latency from the intended start)")
    figures: tuple[Figure, ...] = Field(default=(), description="throughput: achieved qps, goodput, error rate")
    failures: FailureChange | None = None
    hotspots: tuple[HotspotChange, ...] = ()
    memory: tuple[MemoryChange, ...] = ()

    @property
    def paths(self) -> tuple[PathDiff, ...]:
        """The stages, then the total."""
        return (*self.stages, *(() if self.total is None else (self.total,)))

    def name(self, what: str) -> str:
        """A finding's name: `what`, and `@ label` in a labelled group."""
        return what if self.label is None else f"{what} @ {self.label}"

    def findings(self) -> Iterator[tuple[str, DiffVerdict, Finding]]:
        """(name, verdict, item) of every judged check, in report order: failures, paths, figures."""
        if self.failures is not None:
            yield self.name(FAILED_QUERIES), self.failures.verdict, self.failures
        for path in self.paths:
            yield self.name(path.path), path.verdict, path
        for figure in self.figures:
            yield self.name(figure.name), figure.verdict, figure


class DiffReport(_Model):
    """Two files compared: groups of compared paths, capacity, targets, comparability warnings, verdicts."""

    schema_version: Literal[2] = DIFF_SCHEMA_VERSION
    kind: Literal["run", "leak", "load"] = Field(description="the kind of the two files compared")
    baseline: RunRef
    new: RunRef
    alpha: float
    threshold: float = Field(description="the relative change of the p50 that counts")
    min_ms: float = Field(description="the absolute change of the p50 (ms) that counts")
    metric_thresholds: dict[str, float] = Field(description="gated metrics other than the p50 (p95, p99, mean)")
    family: int = Field(description="the Bonferroni family: hypotheses tested across all groups")
    paths_compared: int = Field(description="paths tested (not too_few) across all groups")
    groups: tuple[DiffGroup, ...]
    only_in_baseline: tuple[str, ...] = Field(description="stage paths only the baseline measured")
    only_in_new: tuple[str, ...]
    only_in_baseline_groups: tuple[str, ...] = Field(default=(), description="group labels (rates) only in one")
    only_in_new_groups: tuple[str, ...] = ()
    capacity: tuple[Figure, ...] = Field(
        default=(), description="highest rate holding the targets; peak sustained (load diffs of searches, ramps)"
    )
    targets: tuple[TargetChange, ...]
    warnings: tuple[ComparabilityWarning, ...]
    regressions: tuple[str, ...]
    improvements: tuple[str, ...]
    inconclusive: tuple[str, ...] = Field(description="inconclusive and too_few checks")
    contention: tuple[str, ...] = Field(default=(), description="slower in wall time only, on a contended machine")

    def findings(self) -> Iterator[tuple[str, DiffVerdict, Finding]]:
        """Every judged check of the diff: each group's, then capacity, then gated targets."""
        for group in self.groups:
            yield from group.findings()
        for figure in self.capacity:
            yield figure.name, figure.verdict, figure
        for target in self.targets:
            flip = (target.old_verdict, target.new_verdict)
            if target.gated and flip in (("PASS", "FAIL"), ("FAIL", "PASS")):
                verdict: DiffVerdict = "regression" if flip == ("PASS", "FAIL") else "improvement"
                yield f"{target.name} target", verdict, target
