"""Memory and leak figures of two runs side by side: peak, growth, per-stage deltas, leak slopes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.schema.diff import MemoryChange

if TYPE_CHECKING:
    from ragperf.schema.memory import LeakReport, MemoryReport, SlopeFit
    from ragperf.schema.run import RunFile

__all__ = ["memory_changes"]

MB = "MB"
MB_PER_ITER = "MB/iter"


def memory_changes(old: RunFile, new: RunFile) -> tuple[MemoryChange, ...]:
    """Every memory and leak figure both runs measured, old vs new."""
    changes: list[MemoryChange] = []
    if old.memory is not None and new.memory is not None:
        changes += _memory(old.memory, new.memory)
    if old.leak is not None and new.leak is not None:
        changes += _leak(old.leak, new.leak)
    return tuple(changes)


def _memory(old: MemoryReport, new: MemoryReport) -> list[MemoryChange]:
    figures = [
        ("process peak RSS", old.peak_rss, new.peak_rss),
        ("RSS after setup", old.baseline_rss, new.baseline_rss),
        ("RSS growth over the run", old.total_delta_rss, new.total_delta_rss),
        ("heap growth over the run", old.total_delta_heap, new.total_delta_heap),
        ("memory per request, p95", old.request_working_p95, new.request_working_p95),
    ]
    was = {stage.path: stage for stage in old.stages}
    for stage in new.stages:
        before = was.get(stage.path)
        if before is not None:
            figures += [
                (f"{stage.path}: peak working memory", before.working_peak_max, stage.working_peak_max),
                (f"{stage.path}: RSS change per query", before.rss_delta_mean, stage.rss_delta_mean),
                (f"{stage.path}: heap change per query", before.heap_delta_mean, stage.heap_delta_mean),
            ]
    return [_change(name, MB, a, b) for name, a, b in figures if a is not None and b is not None]


def _leak(old: LeakReport, new: LeakReport) -> list[MemoryChange]:
    fits: list[tuple[str, SlopeFit | None, SlopeFit | None]] = [
        ("leak slope, heap", old.heap, new.heap),
        ("leak slope, RSS", old.rss, new.rss),
    ]
    return [
        _change(name, MB_PER_ITER, a.slope, b.slope, (a.ci_low, a.ci_high), (b.ci_low, b.ci_high))
        for name, a, b in fits
        if a is not None and b is not None
    ]


def _change(
    name: str,
    unit: str,
    old: float,
    new: float,
    old_ci: tuple[float, float] | None = None,
    new_ci: tuple[float, float] | None = None,
) -> MemoryChange:
    return MemoryChange(
        name=name,
        unit=unit,
        old=old,
        new=new,
        change=new - old,
        rel_change=None if old == 0 else new / old - 1.0,
        old_ci=old_ci,
        new_ci=new_ci,
    )
