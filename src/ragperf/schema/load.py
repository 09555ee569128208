"""The load section of a run file (`kind = "load"`): rate steps, per-stage latency under load.

Durations are milliseconds, rates queries per second. Every step keeps its merged histograms,
so figures can be recomputed or merged with another file's without loss of precision.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HistogramData", "LoadMetric", "LoadReport", "LoadStage", "LoadStep", "LoadWindow", "RateVerdict"]

Verdict = Literal["PASS", "FAIL", "n/a"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HistogramData(_Model):
    """A log-linear histogram of nanoseconds (`ragperf.load.histogram`), sparse counts by bucket."""

    sub_bits: int
    count: int
    total: int
    min: int
    max: int
    buckets: dict[str, int]


class LoadMetric(_Model):
    """A stage metric under load (time to first token and the like), in the metric's own unit."""

    n: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class LoadStage(_Model):
    """Latency of one span path (or the whole pipeline) under load."""

    path: str
    n: int
    n_errors: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    target_ms: float | None
    verdict: Verdict
    metrics: dict[str, LoadMetric] = Field(default_factory=dict)


class LoadWindow(_Model):
    """One time slice of a step: arrivals, completions and latency (from intended start)."""

    t_s: float
    offered: int
    completed: int
    errors: int
    achieved_qps: float
    p50_ms: float | None
    p95_ms: float | None


class LoadStep(_Model):
    """One offered rate held for `duration_s`."""

    step: int
    offered_qps: float
    duration_s: float
    elapsed_s: float
    offered: int = Field(description="arrivals in the step (intended starts)")
    completed: int
    completed_in_time: int = Field(description="queries finished before the step's end")
    errors: int
    unserved: int = Field(description="arrivals never started (overload past the drain limit, or a stop)")
    achieved_qps: float = Field(description="completed_in_time / duration_s")
    error_rate: float
    goodput_qps: float = Field(description="successful queries per second within the p95 latency target")
    sustained: bool = Field(
        description="95% of arrivals finished in time, errors within budget, the latency not growing"
    )
    holds_targets: bool = Field(description="sustained, and the latency p95 is within the p95 target")
    latency_growth: float | None = Field(description="p95 latency of the step's last third / its first third")
    latency: LoadStage = Field(description="from the intended start: queueing included")
    service: LoadStage = Field(description="from the actual start: the pipeline's own time")
    schedule_p50_ms: float | None
    schedule_p99_ms: float | None
    schedule_max_ms: float | None
    stages: tuple[LoadStage, ...]
    ttft: LoadMetric | None = Field(description="ttft_ms of the generation stage, where it records it")
    windows: tuple[LoadWindow, ...]
    histograms: dict[str, HistogramData]
    interrupted: bool = False


class RateVerdict(_Model):
    """A throughput target (sustained_qps, peak_qps) judged against the rates found."""

    name: str
    target: float
    measured: float | None
    unit: str
    verdict: Verdict


class LoadReport(_Model):
    """A load test: one or more rate steps, and what they say about the pipeline's capacity."""

    engine: Literal["ragperf", "locust"]
    mode: Literal["fixed", "ramp", "find-max"]
    arrival: Literal["constant", "poisson"]
    workers: int
    concurrency: int = Field(default=1, description="queries in flight per worker (lanes)")
    p95_target_ms: float | None
    error_budget: float
    steps: tuple[LoadStep, ...]
    max_rate_qps: float | None = Field(description="highest offered rate that held the p95 target and error budget")
    peak_rate_qps: float | None = Field(description="highest offered rate sustained, whatever its latency")
    first_rising_stage: str | None = Field(description="the stage whose latency rose first as the rate stepped up")
    first_rising_qps: float | None
    verdicts: tuple[RateVerdict, ...]
    interrupted: bool = False
