"""The executor's per-stage probe: RSS and heap before and after each top-level stage, and its peak.

Nested spans (`ragperf.stage` blocks and functions, framework components) opened on the thread
that runs the stages get a peak of their own: at each of their boundaries the high-water mark
read so far is folded into every open span's (and the stage's) and then reset, so each span's
mark covers its own time. A span opened on another thread (a fan-out branch, pool work) shares
the process's one mark with its siblings and is not measured; nor are spans that overlap
instead of nesting (async tasks of one loop). Cost: ~60 µs a nested span (two high-water reads and
resets, measured on a loaded 2-core VM), in its parent's time, left out of the query total.
"""

from __future__ import annotations

import threading
from time import perf_counter_ns
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragperf.memory.readings import MemoryReader
    from ragperf.pipeline import StageProbe as Probe
    from ragperf.spans import OpenSpan

__all__ = ["ProbePair", "StageProbe", "StageReading"]

# (path, rss before, rss after, heap before, heap after, peak rss during, nested), bytes. A nested
# span reads only RSS at its start and its peak: the heap's reading costs too much for every span.
StageReading = tuple[str, "int | None", "int | None", "int | None", "int | None", int, bool]


class _Open:
    """A nested span being measured: its RSS at the start and its highest mark so far."""

    __slots__ = ("peak", "rss", "span")

    def __init__(self, span: OpenSpan, rss: int | None) -> None:
        self.span = span
        self.rss = rss
        self.peak = 0


class StageProbe:
    """Brackets each top-level stage with readings; the executor calls before() and after().

    Parallel branches share the process, so their memory cannot be told apart by RSS: the
    probe sees the fan-out stage as a whole (allocation sites still name the branch).
    """

    __slots__ = ("_nested", "_open", "_stage_peak", "_thread", "cost_ns", "first_peak", "reader", "readings")

    def __init__(self, reader: MemoryReader) -> None:
        self.reader = reader
        self.readings: list[StageReading] = []
        self.cost_ns = 0
        self.first_peak: int | None = None  # the high-water mark of imports and setup, before any reset
        self._open: tuple[int | None, int | None] = (None, None)
        self._thread: int | None = None  # the thread running a top-level stage now; None between stages
        self._nested: list[_Open] = []
        self._stage_peak = 0  # the highest mark folded in at the stage's nested boundaries

    def begin_query(self) -> None:
        """Nothing: a query's memory is read from its stages' readings."""

    def before(self, path: str) -> None:  # noqa: ARG002 - the executor names the stage for every probe
        """Read RSS and heap, then start a fresh high-water mark for the stage."""
        start = perf_counter_ns()
        reader = self.reader
        if self.first_peak is None:
            self.first_peak = reader.peak()
        heap = reader.heap()
        self._open = (reader.rss(), heap)
        reader.reset_peak()
        self._thread, self._stage_peak = threading.get_ident(), 0
        self.cost_ns += perf_counter_ns() - start

    def after(self, path: str) -> None:
        """Read the stage's peak first (before the readings allocate), then RSS and heap."""
        start = perf_counter_ns()
        reader = self.reader
        peak = max(reader.peak(), self._stage_peak)
        rss = reader.rss()
        heap = reader.heap()
        rss0, heap0 = self._open
        # Without a resettable high-water mark the peak is at least the larger end point.
        if not reader.peak_resets:
            peak = max(x for x in (rss0, rss, 0) if x is not None)
        self.readings.append((path, rss0, rss, heap0, heap, peak, False))
        self._thread = None
        self._nested.clear()  # spans left open (a stage that raised) are not measured
        self.cost_ns += perf_counter_ns() - start

    def _fold(self) -> None:
        """The mark since the last reset counts for the stage and every open span; then a fresh one."""
        reader = self.reader
        peak = reader.peak()
        self._stage_peak = max(self._stage_peak, peak)
        for entry in self._nested:
            entry.peak = max(entry.peak, peak)
        reader.reset_peak()

    def enter_span(self, span: OpenSpan) -> None:
        """A nested span opens (called by `ragperf.spans`); measured on the stage's own thread only."""
        if self._thread != threading.get_ident() or not self.reader.peak_resets:
            return
        start = perf_counter_ns()
        self._fold()
        self._nested.append(_Open(span, self.reader.rss()))
        self.cost_ns += perf_counter_ns() - start

    def exit_span(self, span: OpenSpan, path: str) -> None:
        """A nested span closes: its peak is the highest mark folded in while it was open."""
        nested = self._nested
        if self._thread != threading.get_ident() or not nested:
            return
        start = perf_counter_ns()
        self._fold()
        if nested[-1].span is span:
            entry = nested.pop()
            self.readings.append((path, entry.rss, None, None, None, entry.peak, True))
        else:  # spans that overlap (tasks on one loop) cannot be told apart by one process's mark
            nested.clear()
        self.cost_ns += perf_counter_ns() - start

    def take(self) -> tuple[list[StageReading], int]:
        """This query's readings and the probe's own time, then start afresh."""
        readings, cost = self.readings, self.cost_ns
        self.readings, self.cost_ns = [], 0
        return readings, cost


class ProbePair:
    """Two probes around each stage (the readings, and a profiler's marks): `outer` brackets `inner`."""

    __slots__ = ("inner", "outer")

    def __init__(self, outer: Probe, inner: Probe) -> None:
        self.outer = outer
        self.inner = inner

    def begin_query(self) -> None:
        """Both hear of the query."""
        self.outer.begin_query()
        self.inner.begin_query()

    def before(self, path: str) -> None:
        """Outer first, so its reading comes before the inner probe's work."""
        self.outer.before(path)
        self.inner.before(path)

    def after(self, path: str) -> None:
        """Inner first, so the outer reading comes last."""
        self.inner.after(path)
        self.outer.after(path)
