"""Exact peak working memory, replayed from an allocation record stream (memray's ALL_ALLOCATIONS).

The stream is every allocation and free of the measured queries, in the order they happened on
every thread, with the marks of `ragperf.memory.marks` at each query start and around each
top-level stage. Replaying it keeps the bytes live at each record, so:

- a **top-level stage execution**'s working peak is the highest live total between its enter and
  exit marks above the total at its enter mark (the whole process: background threads and the
  stage's pool work count, as they do in RSS);
- a **query**'s (memory per request) is the highest live total of its stage executions above the
  total at its first stage's start;
- a **sub-span** (fan-out branch, `@ragperf.stage` function, framework component: any stage
  trampoline below the top-level one on an allocation's stack) counts only the allocations made
  under its trampoline, on any thread, during one execution of its top-level stage: its working
  peak there is the most of those live at once. Concurrent branches are told apart this way;
  several calls of one sub-span within a stage execution are one figure (the records carry no
  span instance).

Only memory allocated while recording is known: a free of an older block is ignored, so the live
total never drops below what it was when recording began.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragperf.memory.marks import MarkKind

__all__ = ["PeakReplay", "WorkingPeaks"]


@dataclass
class WorkingPeaks:
    """Peak working memory in bytes: per top-level stage execution, per sub-span, per query."""

    source: str
    stages: dict[str, list[int]] = field(default_factory=dict)  # top-level path -> one peak per execution
    spans: dict[str, list[int]] = field(default_factory=dict)  # sub-span path -> one peak per stage execution
    requests: list[int] = field(default_factory=list)  # one per query


class PeakReplay:
    """Feed it the stream's marks, allocations and frees in order; `result()` gives the peaks."""

    def __init__(self, source: str) -> None:
        self._peaks = WorkingPeaks(source)
        self._live: dict[int, tuple[int, tuple[str, ...], int]] = {}  # address -> (size, sub-spans, execution)
        self._total = 0
        self._execution = 0  # numbers the top-level executions; 0: outside any
        self._stage: str | None = None
        self._stage_start = self._stage_peak = 0
        self._query_start: int | None = None
        self._query_peak = 0
        self._span_live: dict[str, int] = {}
        self._span_peak: dict[str, int] = {}

    def mark(self, kind: MarkKind, path: str) -> None:
        """A query start, or a top-level stage's enter or exit."""
        if kind == "query":
            self._end_query()
            self._query_start = self._query_peak = self._total
        elif kind == "enter":
            self._execution += 1
            self._stage = path
            self._stage_start = self._stage_peak = self._total
            self._span_live.clear()
            self._span_peak.clear()
        elif self._stage == path:
            self._end_stage(path)

    def allocate(self, address: int, size: int, spans: tuple[str, ...]) -> None:
        """A block of `size` bytes at `address`, made under the sub-span trampolines `spans`."""
        execution = self._execution if self._stage is not None else 0
        self._live[address] = (size, spans if execution else (), execution)
        self._total += size
        if self._stage is None:
            return
        self._stage_peak = max(self._stage_peak, self._total)
        span_live, span_peak = self._span_live, self._span_peak
        for path in spans:
            value = span_live[path] = span_live.get(path, 0) + size
            if value > span_peak.get(path, 0):
                span_peak[path] = value

    def free(self, address: int) -> None:
        """The block at `address` was freed (a free of an unknown block is memory from before recording)."""
        found = self._live.pop(address, None)
        if found is not None:
            self._release(*found)

    def unmap(self, address: int, length: int) -> None:
        """`munmap`: the whole mapping at `address`, or its first `length` bytes."""
        found = self._live.pop(address, None)
        if found is None:
            return
        size, spans, execution = found
        if length < size:  # a partial unmap keeps the mapping's tail
            self._live[address + length] = (size - length, spans, execution)
            size = length
        self._release(size, spans, execution)

    def _release(self, size: int, spans: tuple[str, ...], execution: int) -> None:
        self._total -= size
        if execution and execution == self._execution and self._stage is not None:
            span_live = self._span_live
            for path in spans:
                span_live[path] -= size

    def _end_stage(self, path: str) -> None:
        self._peaks.stages.setdefault(path, []).append(self._stage_peak - self._stage_start)
        for span, peak in self._span_peak.items():
            self._peaks.spans.setdefault(span, []).append(peak)
        self._query_peak = max(self._query_peak, self._stage_peak)
        self._stage = None

    def _end_query(self) -> None:
        if self._query_start is not None:
            self._peaks.requests.append(self._query_peak - self._query_start)
        self._query_start = None

    def result(self) -> WorkingPeaks:
        """The peaks of every complete stage execution and query seen."""
        if self._stage is not None:  # the stream ended inside a stage (a stop signal): that execution is cut
            self._stage = None
        self._end_query()
        return self._peaks
