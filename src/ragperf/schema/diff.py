"""The `ragperf diff` output, schema version 1: what `--format json` writes, and what renderers read.

Relative changes are fractions (0.10 = 10% slower); durations are milliseconds, rates queries per second.
A statistic that cannot be estimated (too few queries) is null, never NaN. A diff of two load files fills
`load` (every offered rate both ran, capacity, throughput) and leaves `stages` empty and `total` null.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DIFF_SCHEMA_VERSION",
    "ComparabilityWarning",
    "DiffReport",
    "DiffVerdict",
    "HotspotChange",
    "LoadDiff",
    "LoadFigure",
    "MemoryChange",
    "MetricDelta",
    "RunRef",
    "StageDiff",
    "StepDiff",
    "TargetChange",
]

DIFF_SCHEMA_VERSION: Literal[1] = 1
DiffVerdict = Literal["regression", "improvement", "unchanged", "inconclusive", "too_few"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunRef(_Model):
    """Which run file a side of the diff came from."""

    path: str
    pipeline: str
    backend: str
    n_queries: int
    n_failed: int
    started_at: str
    git_commit: str | None


class MetricDelta(_Model):
    """One statistic of a stage, old vs new; `threshold`/`ci`/`verdict` only where the metric is gated."""

    metric: str
    old: float | None
    new: float | None
    rel_change: float | None
    threshold: float | None = None
    ci: tuple[float, float] | None = None
    verdict: DiffVerdict | None = None


class StageDiff(_Model):
    """The comparison of one span path (a stage, a sub-stage, or "total" for the whole pipeline)."""

    path: str
    parent: str | None
    n_old: int
    n_new: int
    metrics: tuple[MetricDelta, ...] = Field(description="p50, p95, p99, mean")
    shift: float | None = Field(description="Hodges-Lehmann relative shift of new vs old")
    shift_ci: tuple[float | None, float | None] | None = Field(description="null ends: unattainable at this n")
    ci_level: float
    p_value: float | None = Field(description="Mann-Whitney U, two-sided")
    p_adjusted: float | None = Field(description="Bonferroni over every path compared")
    verdict: DiffVerdict
    threshold: float = Field(description="threshold the observed p50 change was judged against")
    min_detectable: float | None = Field(description="shift these sample sizes detect with 80% power")
    queries_needed: int | None = Field(description="queries per run that would settle an inconclusive verdict")


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
    """A target (pipeline or stage) whose PASS/FAIL verdict differs between the runs."""

    name: str
    old_verdict: str
    new_verdict: str
    old_measured: float | None
    new_measured: float | None
    target: float | None
    unit: str


class FailureChange(_Model):
    """Failed queries in each run; a regression when the new run fails significantly more often."""

    old_failed: int
    old_n: int
    new_failed: int
    new_n: int
    p_value: float = Field(description="one-sided Fisher exact test: the new run fails more often")
    verdict: Literal["regression", "unchanged"]


class ComparabilityWarning(_Model):
    """Why the two runs may not be comparable."""

    kind: str
    message: str


class LoadFigure(_Model):
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


class StepDiff(_Model):
    """One offered rate both load files ran: throughput figures, then latency per stage from the histograms."""

    offered_qps: float
    old_step: int
    new_step: int
    old_duration_s: float
    new_duration_s: float
    old_sustained: bool
    new_sustained: bool
    old_holds_targets: bool
    new_holds_targets: bool
    figures: tuple[LoadFigure, ...] = Field(description="achieved qps, goodput, error rate")
    stages: tuple[StageDiff, ...] = Field(description="service time of each stage")
    total: StageDiff | None = Field(description="pipeline latency from the intended start: queueing included")
    verdict: DiffVerdict = Field(description="the worst of the step's figures and paths")


class LoadDiff(_Model):
    """Two load files compared: every offered rate both ran, and the capacity each found."""

    steps: tuple[StepDiff, ...]
    only_in_baseline_qps: tuple[float, ...]
    only_in_new_qps: tuple[float, ...]
    capacity: tuple[LoadFigure, ...] = Field(
        description="highest rate holding the targets; peak sustained (empty when either file ran one fixed rate)"
    )
    hypotheses: int = Field(description="the Bonferroni family: latency checks plus step figures tested")


class DiffReport(_Model):
    """Two runs compared: per-path verdicts, hotspots, memory, targets, and comparability warnings."""

    schema_version: Literal[1] = DIFF_SCHEMA_VERSION
    baseline: RunRef
    new: RunRef
    alpha: float
    threshold: float
    metric_thresholds: dict[str, float]
    paths_compared: int = Field(description="the Bonferroni family size")
    stages: tuple[StageDiff, ...]
    total: StageDiff | None = Field(description="null for a load diff: per-step latency is in `load.steps`")
    only_in_baseline: tuple[str, ...]
    only_in_new: tuple[str, ...]
    hotspots: tuple[HotspotChange, ...]
    memory: tuple[MemoryChange, ...]
    targets: tuple[TargetChange, ...]
    failures: FailureChange | None = Field(default=None, description="null for a load diff (errors are per step)")
    warnings: tuple[ComparabilityWarning, ...]
    regressions: tuple[str, ...]
    improvements: tuple[str, ...]
    inconclusive: tuple[str, ...]
    load: LoadDiff | None = None
