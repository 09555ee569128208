"""One worker's open-loop loop for one rate step: issue queries at intended times, record histograms.

Latency is measured from the intended start, so time spent queued behind a slow query counts
(no coordinated omission, as in wrk2); service time is measured from the actual start.
Schedule error is how late a query started when the worker was idle and waiting for it: the
generator's own precision, apart from queueing. Nothing crosses a process boundary per query.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from ragperf.load.arrivals import intended_starts
from ragperf.load.histogram import Histogram
from ragperf.load.protocol import LaneTally, WindowTally
from ragperf.load.protocol import histogram_data as _data
from ragperf.pipeline import StageFailed
from ragperf.state import State

if TYPE_CHECKING:
    from collections.abc import Callable

    from ragperf.load.spec import StepCommand
    from ragperf.pipeline import Executor
    from ragperf.queries import Query
    from ragperf.spans import SpanRecord

__all__ = ["StepTally", "record_spans", "run_step"]

_NS = 1_000_000_000
_SPIN_NS = 100_000  # the last stretch before an intended start is spun, not slept (sleeps overshoot)


@dataclass
class StepTally:
    """What one lane measured in one step; turned into a `LaneTally` record once, at the end of the step."""

    offered: int = 0
    started: int = 0
    completed: int = 0
    completed_in_time: int = 0
    errors: int = 0
    good: int = 0
    unserved: int = 0
    interrupted: bool = False
    elapsed_ns: int = 0
    latency: Histogram = field(default_factory=Histogram)
    service: Histogram = field(default_factory=Histogram)
    schedule: Histogram = field(default_factory=Histogram)
    stages: dict[str, Histogram] = field(default_factory=dict)
    stage_errors: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, dict[str, Histogram]] = field(default_factory=dict)
    windows: dict[int, list[Any]] = field(default_factory=dict)  # index -> [offered, done, errors, latency hist]

    def finish(
        self, window: list[Any], ok: bool, intended: int, started: int, end: int, horizon: int, good_ns: int | None
    ) -> bool:
        """Count one finished query; record its latency and service time if it succeeded (then True)."""
        self.completed += 1
        window[1] += 1
        if end <= horizon:
            self.completed_in_time += 1
        if not ok:
            self.errors += 1
            window[2] += 1
            return False
        waited = end - intended
        self.latency.record(waited)
        self.service.record(end - started)
        window[3].record(waited)
        if end <= horizon and (good_ns is None or waited <= good_ns):
            self.good += 1
        return True

    def record(self) -> LaneTally:
        """The typed form sent to the parent (and, in the Locust engine, to the master)."""
        return LaneTally(
            offered=self.offered,
            started=self.started,
            completed=self.completed,
            completed_in_time=self.completed_in_time,
            errors=self.errors,
            good=self.good,
            unserved=self.unserved,
            interrupted=self.interrupted,
            elapsed_ns=self.elapsed_ns,
            latency=_data(self.latency),
            service=_data(self.service),
            schedule=_data(self.schedule),
            stages={path: _data(h) for path, h in self.stages.items()},
            stage_errors=dict(self.stage_errors),
            metrics={p: {k: _data(h) for k, h in m.items()} for p, m in self.metrics.items()},
            windows={
                i: WindowTally(offered=w[0], completed=w[1], errors=w[2], latency=_data(w[3]))
                for i, w in self.windows.items()
            },
        )


def record_spans(tally: StepTally, records: list[SpanRecord]) -> None:
    """Add one query's spans (and their metrics) to the per-path histograms."""
    stages = tally.stages
    for path, _start, duration, error, metrics in records:
        hist = stages.get(path)
        if hist is None:
            hist = stages[path] = Histogram()
        hist.record(duration)
        if error is not None:
            tally.stage_errors[path] = tally.stage_errors.get(path, 0) + 1
        if metrics:
            by_name = tally.metrics.setdefault(path, {})
            for name, value in metrics.items():
                if math.isfinite(value):  # a histogram holds numbers; tokens/0 s is not one
                    by_name.setdefault(name, Histogram()).record(int(value * 1e6))  # ms -> ns units


def _window(tally: StepTally, index: int) -> list[Any]:
    found = tally.windows.get(index)
    if found is None:
        found = tally.windows[index] = [0, 0, 0, Histogram()]
    return found


def run_step(
    executor: Executor,
    queries: tuple[Query, ...],
    ctx: Any,
    command: StepCommand,
    index: int,
    workers: int,
    seed: int,
    *,
    stop: Callable[[], bool],
    progress: Callable[[StepTally, list[int]], None],
    good_ns: int | None,
) -> StepTally:
    """Issue this worker's share of the step's arrivals and measure every query."""
    tally = StepTally()
    recorder = executor.recorder
    # perf_counter is the clock on the hot path; map the common wall-clock start onto it once.
    t0 = perf_counter_ns() + (command.start_wall_ns - time.time_ns())
    horizon = t0 + int(command.duration_s * _NS)
    cutoff = horizon + int(command.drain_s * _NS)
    window_ns = int(command.window_s * _NS)
    progress_ns = int(command.progress_s * _NS)
    next_progress = t0 + progress_ns
    recent: list[int] = []
    n_queries = len(queries)
    schedule = tally.schedule
    starts = intended_starts(command.rate, workers, index, command.duration_s, command.arrival, seed + command.step)
    _wait_until(t0, stop)
    for offset in starts:
        intended = t0 + offset
        tally.offered += 1
        _window(tally, offset // window_ns)[0] += 1
        now = perf_counter_ns()
        if now < intended:
            now = _wait_until(intended, stop)
            schedule.record(now - intended)
        if stop() or now > cutoff:
            tally.interrupted = stop()
            break
        item = queries[tally.started % n_queries]
        tally.started += 1
        state = State(item.text, ctx, {}, item.id, dict(item.meta))
        failed: StageFailed | None = None
        try:
            executor.run_query(state)
        except StageFailed as exc:
            failed = exc
        end = perf_counter_ns()
        window = _window(tally, (end - t0) // window_ns)
        record_spans(tally, recorder.drain())
        if tally.finish(window, failed is None, intended, now, end, horizon, good_ns):
            recent.append(end - intended)
        if end >= next_progress:
            progress(tally, recent)
            recent = []
            next_progress = end + progress_ns
    # Arrivals never started (overload past the drain limit, or a stop) are counted, not hidden.
    tally.unserved = tally.offered - tally.started + starts.left()
    tally.offered = tally.started + tally.unserved
    tally.elapsed_ns = max(0, perf_counter_ns() - t0)
    return tally


def _wait_until(target: int, stop: Callable[[], bool]) -> int:
    """Sleep, then spin the last _SPIN_NS, until perf_counter_ns() reaches target; return the time it woke."""
    now = perf_counter_ns()
    while now < target and not stop():
        gap = target - now
        if gap > 2 * _SPIN_NS:
            time.sleep((gap - _SPIN_NS) / _NS)
        now = perf_counter_ns()
    return now
