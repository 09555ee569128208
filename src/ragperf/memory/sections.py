"""Build the run file's memory and leak sections from the worker's events, with their target verdicts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.verdicts import judge
from ragperf.engine.events import LeakSites, MemoryBaseline, MemoryReading
from ragperf.memory.leak_report import build_leak_report
from ragperf.memory.report import build_memory_report, with_working_peaks
from ragperf.schema.run import TargetVerdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.config import Targets
    from ragperf.engine.events import Event
    from ragperf.memory.peaks import WorkingPeaks
    from ragperf.memory.settings import LeakSettings
    from ragperf.schema.memory import LeakReport, MemoryReport
    from ragperf.schema.run import RunFile, RunSummary

__all__ = ["memory_sections", "with_profiler_peaks"]


def memory_sections(
    events: Sequence[Event],
    summary: RunSummary,
    targets: Targets,
    *,
    leak: LeakSettings | None,
    warmup: int,
    order: Sequence[str],
) -> tuple[MemoryReport | None, LeakReport | None, RunSummary]:
    """The memory section (when the worker measured memory), the leak section (leak mode), and the
    summary with their target verdicts added to the latency ones; `order`: the run's stage paths."""
    baseline = next((e for e in events if isinstance(e, MemoryBaseline)), None)
    if baseline is None:
        return None, None, summary
    queries = [e for e in events if isinstance(e, MemoryReading)]
    memory = build_memory_report(baseline, queries, targets, order)
    verdicts = [
        _verdict("peak_memory_mb", targets.peak_memory_mb, memory.peak_rss, "MB"),
        _request_verdict(memory, targets),
    ]
    report = None
    if leak is not None:
        found = next((e for e in events if isinstance(e, LeakSites)), None)
        report = build_leak_report(queries, found, leak, warmup=warmup, target=targets.leak_mb_per_iter)
        if targets.leak_mb_per_iter is not None:
            verdicts.append(
                TargetVerdict(
                    name="leak_mb_per_iter",
                    target=targets.leak_mb_per_iter,
                    measured=report.slope,
                    unit="MB/iter",
                    verdict=report.verdict,
                )
            )
    kept = tuple(v for v in verdicts if v is not None)
    return memory, report, summary.model_copy(update={"targets": summary.targets + kept})


def with_profiler_peaks(run: RunFile, peaks: WorkingPeaks, targets: Targets) -> RunFile:
    """The run with a profiler's exact working peaks, and memory per request judged on them."""
    memory = with_working_peaks(run.memory, peaks, targets, [s.path for s in run.stages])
    verdict = _request_verdict(memory, targets)
    kept = tuple(t for t in run.summary.targets if t.name != "request_memory_mb")
    summary = run.summary.model_copy(update={"targets": kept + ((verdict,) if verdict is not None else ())})
    return run.model_copy(update={"memory": memory, "summary": summary})


def _request_verdict(memory: MemoryReport, targets: Targets) -> TargetVerdict | None:
    return _verdict("request_memory_mb", targets.request_memory_mb, memory.request_working_max, "MB")


def _verdict(name: str, target: float | None, measured: float | None, unit: str) -> TargetVerdict | None:
    if target is None:
        return None
    return TargetVerdict(name=name, target=target, measured=measured, unit=unit, verdict=judge(measured, target))
