"""The executor's per-stage probe: RSS and heap before and after each top-level stage, and its peak."""

from __future__ import annotations

from time import perf_counter_ns
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragperf.memory.readings import MemoryReader
    from ragperf.pipeline import StageProbe as Probe

__all__ = ["ProbePair", "StageProbe", "StageReading"]

# (path, rss before, rss after, heap before, heap after, peak rss during), bytes.
StageReading = tuple[str, "int | None", "int | None", "int | None", "int | None", int]


class StageProbe:
    """Brackets each top-level stage with readings; the executor calls before() and after().

    Parallel branches share the process, so their memory cannot be told apart by RSS: the
    probe sees the fan-out stage as a whole (allocation sites still name the branch).
    """

    __slots__ = ("_open", "cost_ns", "first_peak", "reader", "readings")

    def __init__(self, reader: MemoryReader) -> None:
        self.reader = reader
        self.readings: list[StageReading] = []
        self.cost_ns = 0
        self.first_peak: int | None = None  # the high-water mark of imports and setup, before any reset
        self._open: tuple[int | None, int | None] = (None, None)

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
        self.cost_ns += perf_counter_ns() - start

    def after(self, path: str) -> None:
        """Read the stage's peak first (before the readings allocate), then RSS and heap."""
        start = perf_counter_ns()
        reader = self.reader
        peak = reader.peak()
        rss = reader.rss()
        heap = reader.heap()
        rss0, heap0 = self._open
        # Without a resettable high-water mark the peak is at least the larger end point.
        if not reader.peak_resets:
            peak = max(x for x in (rss0, rss, 0) if x is not None)
        self.readings.append((path, rss0, rss, heap0, heap, peak))
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
