"""Run file sections for memory (`ragperf run --memory`) and leaks (`ragperf leak`).

Figures are MiB (2**20 bytes, written "MB" as RSS tools do), per-iteration slopes MB per
iteration. Three kinds of memory, never interchanged (docs/memory.md):

- **RSS**: what the OS sees resident for the whole process, including memory the allocators
  keep after a free. A process figure.
- **Heap**: the bytes in live allocations (pymalloc blocks + malloc in use) at one moment.
- **Peak working memory** ("working"): the most memory live at once during a span, above what
  was live when it started, so an allocation made and freed inside the span counts in full.
  Per span and per request; `working_source` says how it was measured.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "HEAP_MEANS",
    "RSS_MEANS",
    "RSS_SHARED",
    "WORKING_MEANS",
    "AllocationSite",
    "LeakPoint",
    "LeakReport",
    "LeakStage",
    "MemoryPoint",
    "MemoryReport",
    "SlopeFit",
    "StageMemory",
    "WorkingMethod",
]

Verdict = Literal["PASS", "FAIL", "n/a"]
WorkingMethod = Literal["rss-high-water", "rss-heap-ends", "memray"]

# What each kind of memory is, in the words every report uses (one place, so formats agree).
WORKING_MEANS = "peak working memory: the most memory live at once during it, above what was live when it started"
RSS_MEANS = "RSS: what the OS sees resident for the whole process, including freed memory the allocators keep"
HEAP_MEANS = "heap: bytes in live allocations at one moment"
# Said under a table of working peaks read from RSS, which has one high-water mark per process.
RSS_SHARED = (
    "Fan-out branches and spans on other threads share the process's one RSS mark, so they are not told "
    "apart: '-b memray' measures each from its allocations"
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageMemory(_Model):
    """One span's memory over the measured queries (MB): its peak working memory first."""

    path: str
    n: int = Field(description="executions measured")
    working_peak_mean: float | None = Field(
        description="peak working memory, mean over executions: the most memory live at once during the span "
        "above what was live when it started; None when not measured"
    )
    working_peak_max: float | None
    rss_delta_mean: float | None = Field(description="mean RSS after the stage minus before it; None for sub-spans")
    rss_delta_max: float | None
    heap_delta_mean: float | None = Field(description="mean live heap after the stage minus before it")
    heap_delta_max: float | None
    rss_rise_max: float | None = Field(
        description="largest rise of RSS above its value at the stage's start: what the OS saw"
    )
    rss_high_water: float | None = Field(
        description="the process's RSS high-water mark while the stage ran (a process figure, not the stage's)"
    )
    verdict: Verdict = Field(description="PASS when working_peak_max is under the request_memory_mb target")


class MemoryPoint(_Model):
    """RSS and heap after one measured query (or leak iteration), for plotting the trend."""

    index: int
    rss: float | None
    heap: float | None


class MemoryReport(_Model):
    """A run's memory: the process's RSS and heap, and each span's and request's peak working memory."""

    rss_source: str | None
    heap_source: str | None
    peak_source: str = Field(description="how RSS high-water marks were taken: reset per stage, or before/after only")
    working_source: str = Field(description="how peak working memory was measured, in words")
    working_method: WorkingMethod | None = Field(
        default=None,
        description="the mechanism that measured peak working memory: 'rss-high-water' (--memory on Linux), "
        "'rss-heap-ends' (no resettable high-water mark: transients missed), 'memray' (its allocation records, "
        "exact); None in files written before it was recorded",
    )
    rss_start: float | None = Field(description="RSS before the pipeline's code was imported")
    setup_peak: float | None = Field(description="highest RSS through imports, setup and warm-up")
    baseline_rss: float | None = Field(description="RSS after setup and warm-up, before the first measured query")
    baseline_heap: float | None
    peak_rss: float | None = Field(description="the process's RSS high-water mark over the whole run")
    peak_where: str | None = Field(description="'setup', 'between queries' or the stage the process peak happened in")
    end_rss: float | None
    end_heap: float | None
    total_delta_rss: float | None = Field(description="end_rss - baseline_rss")
    total_delta_heap: float | None
    request_working_max: float | None = Field(
        description="memory per request: the largest peak working memory of one whole query (judged by "
        "request_memory_mb)"
    )
    request_working_mean: float | None
    request_working_p95: float | None
    request_rss_rise_max: float | None = Field(description="largest rise of RSS within one query above its start")
    probe_us_per_stage: float | None = Field(description="the readings' own cost, excluded from the spans and total")
    stages: tuple[StageMemory, ...] = Field(
        description="top-level stages, and the sub-spans where they were told apart, in the run's stage order"
    )
    series: tuple[MemoryPoint, ...]


class SlopeFit(_Model):
    """A robust straight line through one series: MB per iteration with a 95% confidence interval."""

    method: Literal["theil-sen"] = "theil-sen"
    n: int
    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    late_slope: float | None = Field(description="slope over the second half alone: growth that has stopped is no leak")


class AllocationSite(_Model):
    """A line whose live allocations grew across the tracemalloc snapshots, with its stage."""

    stage: str
    file: str
    line: int
    code: str | None
    growth_per_iter: float = Field(description="MB per iteration")
    blocks_per_iter: float
    size: float = Field(description="MB live at the last snapshot")
    stack: tuple[str, ...] = Field(description="'file:line' frames, innermost first, up to the stage's trampoline")


class LeakStage(_Model):
    """How much of the growth one stage holds (snapshots), and its net memory per query (probes)."""

    path: str
    growth_per_iter: float | None = Field(description="MB per iteration held by the stage's growing sites")
    share: float | None = Field(description="share of all growing bytes the snapshots saw")
    rss_delta_mean: float | None
    heap_delta_mean: float | None


class LeakPoint(_Model):
    """One leak iteration: RSS and heap after it (gc'd), and each stage's (RSS, heap) change in it."""

    iteration: int
    query_id: str
    rss: float | None
    heap: float | None
    stages: dict[str, tuple[float | None, float | None]]


class LeakReport(_Model):
    """The trend of memory over iterations, its verdict, and where the growth comes from."""

    iteration: Literal["query"] = Field(default="query", description="one iteration = one query, cycling the set")
    iterations: int
    warmup: int
    gc_between: bool
    basis: Literal["heap", "rss"] = Field(description="the series the verdict is judged on")
    rss: SlopeFit | None
    heap: SlopeFit | None
    min_slope: float = Field(description="growth below this (MB/iter) counts as noise, not a leak")
    detected: bool
    slope: float | None = Field(description="the basis series' slope, MB per iteration")
    ci: tuple[float, float] | None
    target: float | None
    verdict: Verdict = Field(description="PASS when no leak at or above the target is detected")
    stage: str | None = Field(description="the stage the growth belongs to")
    message: str
    snapshot_every: int = Field(description="iterations between tracemalloc snapshots; 0 when none were taken")
    tracemalloc_frames: int
    stages: tuple[LeakStage, ...]
    sites: tuple[AllocationSite, ...]
    series: tuple[LeakPoint, ...]
