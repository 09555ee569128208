"""The parent's side: turn the worker's memory events into the run file's memory section."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from ragperf.analysis.percentiles import percentile
from ragperf.analysis.verdicts import judge, worst
from ragperf.schema.memory import MemoryPoint, MemoryReport, StageMemory
from ragperf.units import BYTES_PER_MB, to_mb

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.config import Targets
    from ragperf.run.events import MemoryBaseline, MemoryReading, StageReading

__all__ = ["build_memory_report", "stage_readings"]


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else (after - before) / BYTES_PER_MB


def stage_readings(events: Sequence[MemoryReading]) -> dict[str, list[StageReading]]:
    """Each top-level stage's readings over the queries, in order."""
    by_stage: dict[str, list[StageReading]] = {}
    for event in events:
        for reading in event.stages:
            by_stage.setdefault(reading.path, []).append(reading)
    return by_stage


def _mean_max(values: list[float | None]) -> tuple[float | None, float | None]:
    known = [v for v in values if v is not None]
    return (statistics.fmean(known), max(known)) if known else (None, None)


def _stage(path: str, readings: list[StageReading], targets: Targets) -> StageMemory:
    rss_mean, rss_max = _mean_max([_delta(r.rss_after, r.rss_before) for r in readings])
    heap_mean, heap_max = _mean_max([_delta(r.heap_after, r.heap_before) for r in readings])
    peak = max(r.peak for r in readings) / BYTES_PER_MB
    increment = max(r.peak - (r.rss_before if r.rss_before is not None else r.peak) for r in readings) / BYTES_PER_MB
    verdict = worst((judge(peak, targets.peak_memory_mb), judge(increment, targets.request_memory_mb)))
    return StageMemory(
        path=path,
        n=len(readings),
        rss_delta_mean=rss_mean or 0.0,
        rss_delta_max=rss_max or 0.0,
        heap_delta_mean=heap_mean,
        heap_delta_max=heap_max,
        peak_rss=peak,
        peak_increment=increment,
        verdict=verdict,
    )


def _request_increments(events: Sequence[MemoryReading]) -> list[float]:
    """Per query: the highest RSS in any of its stages above the RSS when it started."""
    out = []
    for event in events:
        stages = event.stages
        if stages and stages[0].rss_before is not None:
            out.append((max(r.peak for r in stages) - stages[0].rss_before) / BYTES_PER_MB)
    return out


def build_memory_report(baseline: MemoryBaseline, events: Sequence[MemoryReading], targets: Targets) -> MemoryReport:
    """Baseline, peak, total delta, per-stage deltas and peaks, and the per-query series."""
    by_stage = stage_readings(events)
    stages = tuple(_stage(path, readings, targets) for path, readings in by_stage.items())
    candidates: list[tuple[float, str]] = [(baseline.setup_peak / BYTES_PER_MB, "setup")]
    candidates += [(s.peak_rss, s.path) for s in stages]
    candidates += [(e.rss / BYTES_PER_MB, "between queries") for e in events if e.rss is not None]
    peak, where = max(candidates)
    end_rss, end_heap = (events[-1].rss, events[-1].heap) if events else (baseline.rss, baseline.heap)
    increments = _request_increments(events)
    probe_ns = [e.probe_ns for e in events]
    n_stage_calls = sum(len(e.stages) for e in events)
    known_ns = [ns for ns in probe_ns if ns is not None]
    return MemoryReport(
        rss_source=baseline.rss_source,
        heap_source=baseline.heap_source,
        peak_source=baseline.peak_source,
        rss_start=to_mb(baseline.rss_start),
        setup_peak=to_mb(baseline.setup_peak),
        baseline_rss=to_mb(baseline.rss),
        baseline_heap=to_mb(baseline.heap),
        peak_rss=peak,
        peak_where=where,
        end_rss=to_mb(end_rss),
        end_heap=to_mb(end_heap),
        total_delta_rss=_delta(end_rss, baseline.rss),
        total_delta_heap=_delta(end_heap, baseline.heap),
        request_peak_max=max(increments) if increments else None,
        request_peak_p95=percentile(increments, 95) if increments else None,
        probe_us_per_stage=sum(known_ns) / n_stage_calls / 1e3 if known_ns and n_stage_calls else None,
        stages=stages,
        series=tuple(MemoryPoint(index=e.index, rss=to_mb(e.rss), heap=to_mb(e.heap)) for e in events),
    )
