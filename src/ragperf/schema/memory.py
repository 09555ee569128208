"""Run file sections for memory (`ragperf run --memory`) and leaks (`ragperf leak`).

Figures are MiB (2**20 bytes, written "MB" as RSS tools do), per-iteration slopes MB per
iteration. "Heap" is the bytes in live allocations (pymalloc blocks + malloc in use); RSS also
holds memory the allocators keep after a free, which is why both are reported.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AllocationSite",
    "LeakPoint",
    "LeakReport",
    "LeakStage",
    "MemoryPoint",
    "MemoryReport",
    "SlopeFit",
    "StageMemory",
]

Verdict = Literal["PASS", "FAIL", "n/a"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageMemory(_Model):
    """One top-level stage's memory over the measured queries (MB)."""

    path: str
    n: int
    rss_delta_mean: float = Field(description="mean RSS after the stage minus before it")
    rss_delta_max: float
    heap_delta_mean: float | None
    heap_delta_max: float | None
    peak_rss: float = Field(description="highest RSS while the stage ran")
    peak_increment: float = Field(description="largest rise of RSS above its value at the stage's start")
    verdict: Verdict = Field(description="PASS when peak_rss and peak_increment are under their targets")


class MemoryPoint(_Model):
    """RSS and heap after one measured query (or leak iteration), for plotting the trend."""

    index: int
    rss: float | None
    heap: float | None


class MemoryReport(_Model):
    """Baseline, peak and per-stage memory of a run, measured without tracemalloc."""

    rss_source: str | None
    heap_source: str | None
    peak_source: str = Field(description="how stage peaks were taken: a reset high-water mark, or before/after only")
    rss_start: float | None = Field(description="RSS before the pipeline's code was imported")
    setup_peak: float | None = Field(description="highest RSS through imports, setup and warm-up")
    baseline_rss: float | None = Field(description="RSS after setup and warm-up, before the first measured query")
    baseline_heap: float | None
    peak_rss: float | None = Field(description="highest RSS of the whole worker process")
    peak_where: str | None = Field(description="'setup' or the stage path the peak happened in")
    end_rss: float | None
    end_heap: float | None
    total_delta_rss: float | None = Field(description="end_rss - baseline_rss")
    total_delta_heap: float | None
    request_peak_max: float | None = Field(description="largest rise of RSS within one query above its start")
    request_peak_p95: float | None
    probe_us_per_stage: float | None = Field(description="the readings' own cost, excluded from the spans and total")
    stages: tuple[StageMemory, ...]
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
