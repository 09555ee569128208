"""The parent's side: turn the worker's memory events into the run file's memory section."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from ragperf.analysis.percentiles import percentile
from ragperf.analysis.verdicts import judge
from ragperf.schema.memory import MemoryPoint, MemoryReport, StageMemory
from ragperf.units import BYTES_PER_MB, to_mb

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.config import Targets
    from ragperf.engine.events import MemoryBaseline, MemoryReading, StageReading
    from ragperf.memory.peaks import WorkingPeaks

__all__ = ["build_memory_report", "stage_readings", "with_working_peaks", "working_stage"]


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else (after - before) / BYTES_PER_MB


def stage_readings(events: Sequence[MemoryReading]) -> dict[str, list[StageReading]]:
    """Each top-level stage's readings over the queries, in order."""
    by_stage: dict[str, list[StageReading]] = {}
    for event in events:
        for reading in event.stages:
            by_stage.setdefault(reading.path, []).append(reading)
    return by_stage


def _mean_max(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    known = [v for v in values if v is not None]
    return (statistics.fmean(known), max(known)) if known else (None, None)


def _working(peak: int, rss_before: int | None, heap_before: int | None, heap_after: int | None) -> float | None:
    """The rise of the resident high-water mark, and at least what the heap kept (MB)."""
    rises = [r for r in (_delta(peak, rss_before), _delta(heap_after, heap_before)) if r is not None]
    return max(0.0, *rises) if rises else None


def working_stage(path: str, n: int, peaks_mb: Sequence[float], targets: Targets) -> StageMemory:
    """A span measured for its peak working memory only (a backend's sub-span: no RSS of its own)."""
    mean, top = _mean_max(peaks_mb)
    return StageMemory(
        path=path,
        n=n,
        working_peak_mean=mean,
        working_peak_max=top,
        rss_delta_mean=None,
        rss_delta_max=None,
        heap_delta_mean=None,
        heap_delta_max=None,
        rss_rise_max=None,
        rss_high_water=None,
        verdict=judge(top, targets.request_memory_mb),
    )


def _stage(path: str, readings: list[StageReading], targets: Targets) -> StageMemory:
    working = [_working(r.peak, r.rss_before, r.heap_before, r.heap_after) for r in readings]
    rss_mean, rss_max = _mean_max([_delta(r.rss_after, r.rss_before) for r in readings])
    heap_mean, heap_max = _mean_max([_delta(r.heap_after, r.heap_before) for r in readings])
    base = working_stage(path, len(readings), [w for w in working if w is not None], targets)
    return base.model_copy(
        update={
            "rss_delta_mean": rss_mean,
            "rss_delta_max": rss_max,
            "heap_delta_mean": heap_mean,
            "heap_delta_max": heap_max,
            "rss_rise_max": _mean_max([_delta(r.peak, r.rss_before) for r in readings])[1],
            "rss_high_water": max(r.peak for r in readings) / BYTES_PER_MB,
        }
    )


def _requests(events: Sequence[MemoryReading]) -> tuple[list[float], list[float]]:
    """Per query: its peak working memory, and the rise of RSS within it above its start (MB)."""
    working, rss_rises = [], []
    for event in events:
        stages = [r for r in event.stages if not r.nested]
        if not stages:
            continue
        first = stages[0]
        peak = max(r.peak for r in stages)
        heap_after = max((r.heap_after for r in stages if r.heap_after is not None), default=None)
        value = _working(peak, first.rss_before, first.heap_before, heap_after)
        if value is not None:
            working.append(value)
        rise = _delta(peak, first.rss_before)
        if rise is not None:
            rss_rises.append(rise)
    return working, rss_rises


def build_memory_report(
    baseline: MemoryBaseline, events: Sequence[MemoryReading], targets: Targets, order: Sequence[str]
) -> MemoryReport:
    """Baseline, the process's peak and where, per-stage and per-request working memory, and the series.

    Stages and the nested spans measured come in the run's stage `order`.
    """
    by_stage = stage_readings(events)
    stages = _in_order([_stage(path, readings, targets) for path, readings in by_stage.items()], order)
    candidates: list[tuple[float, str]] = [(baseline.setup_peak / BYTES_PER_MB, "setup")]
    candidates += [(s.rss_high_water, s.path) for s in stages if s.rss_high_water is not None]
    candidates += [(e.rss / BYTES_PER_MB, "between queries") for e in events if e.rss is not None]
    peak, where = max(candidates)
    end_rss, end_heap = (events[-1].rss, events[-1].heap) if events else (baseline.rss, baseline.heap)
    working, rss_rises = _requests(events)
    probe_ns = [e.probe_ns for e in events]
    n_stage_calls = sum(len(e.stages) for e in events)
    known_ns = [ns for ns in probe_ns if ns is not None]
    return MemoryReport(
        rss_source=baseline.rss_source,
        heap_source=baseline.heap_source,
        peak_source=baseline.peak_source,
        working_source=baseline.working_source,
        working_method=baseline.working_method,
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
        request_working_max=max(working) if working else None,
        request_working_mean=statistics.fmean(working) if working else None,
        request_working_p95=percentile(working, 95) if working else None,
        request_rss_rise_max=max(rss_rises) if rss_rises else None,
        probe_us_per_stage=sum(known_ns) / n_stage_calls / 1e3 if known_ns and n_stage_calls else None,
        stages=stages,
        series=tuple(MemoryPoint(index=e.index, rss=to_mb(e.rss), heap=to_mb(e.heap)) for e in events),
    )


# What a profiler's peaks replace in a stage the readings measured (its RSS and heap figures stay).
_WORKING_FIELDS = {"n", "working_peak_mean", "working_peak_max", "verdict"}


def _in_mb(values: Sequence[int]) -> list[float]:
    return [v / BYTES_PER_MB for v in values]


def with_working_peaks(
    memory: MemoryReport | None, peaks: WorkingPeaks, targets: Targets, order: Sequence[str]
) -> MemoryReport:
    """The memory section with a profiler's exact working peaks in place of the readings' (or alone).

    Top-level stages keep their RSS and heap figures; the sub-spans the profiler told apart join
    them, all in the run's stage `order` (a span it does not list goes last).
    """
    readings = {} if memory is None else {s.path: s for s in memory.stages}
    stages = []
    for path, values in (peaks.stages | peaks.spans).items():
        exact = working_stage(path, len(values), _in_mb(values), targets)
        read = readings.get(path)
        stages.append(exact if read is None else read.model_copy(update=exact.model_dump(include=_WORKING_FIELDS)))
    requests = _in_mb(peaks.requests)
    update = {
        "working_source": peaks.source,
        "working_method": "memray",
        "request_working_max": max(requests) if requests else None,
        "request_working_mean": statistics.fmean(requests) if requests else None,
        "request_working_p95": percentile(requests, 95) if requests else None,
        "stages": _in_order(stages, order),
    }
    return (memory or _unread()).model_copy(update=update)


def _in_order(stages: list[StageMemory], order: Sequence[str]) -> tuple[StageMemory, ...]:
    """In the run's stage order; a span it does not list goes last."""
    rank = {path: i for i, path in enumerate(order)}
    return tuple(sorted(stages, key=lambda s: (rank.get(s.path, len(rank)), s.path)))


def _unread() -> MemoryReport:
    """A memory section with no process readings (a run without --memory), for a profiler's peaks."""
    unread: dict[str, object] = dict.fromkeys(MemoryReport.model_fields)
    unread |= {"peak_source": "not read: run with --memory for RSS and heap", "working_source": ""}
    return MemoryReport.model_validate(unread | {"stages": (), "series": ()})
