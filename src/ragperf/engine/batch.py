"""The worker's side of the per-query columns: buffer measured queries, flush them as `QueryBatch` lines.

The hot path per query is a few appends to `array('d')` buffers (no numpy in the worker: it
stays light for the profilers that see everything it loads). A batch is written when it holds
1024 queries or is 50 ms old, and whenever the measured loop ends, however it ends.
"""

from __future__ import annotations

import base64
import math
import sys
from array import array
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from ragperf.engine.events import QueryBatch, QueryFailure, RunWarning, SpanPath, SpanPaths
from ragperf.engine.machine import MachineSampler

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ragperf.engine.stream import Stream
    from ragperf.spans import SpanRecord

__all__ = ["BatchWriter"]

MAX_ROWS = 1024
MAX_AGE_NS = 50_000_000
_NAN = math.nan
_ABSENT = -1  # a span column's value where the span did not run (durations are >= 0 ns)


def _b64(values: array[Any]) -> str:
    if sys.byteorder == "big":  # pragma: no cover - the columns are little-endian on every machine
        values = array(values.typecode, values)
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def _pad(columns: Iterable[array[Any]], row: int, missing: float) -> None:
    """Give `missing` to each column that has no value for this row yet."""
    for column in columns:
        if len(column) == row:
            column.append(missing)


class BatchWriter:
    """Buffers measured queries by column and writes them to the stream in batches."""

    def __init__(self, stream: Stream, kinds: dict[str, str] | None = None) -> None:
        self._stream = stream
        self._kinds = {} if kinds is None else kinds  # the recorder's, filled as spans open
        self._new_paths: dict[str, SpanPath] = {}
        self._seen_paths: set[str] = set()
        self._machine = MachineSampler()
        self._first = 0
        self._started_ns = 0
        self._warned: set[tuple[str, str]] = set()
        self._reset()

    def _reset(self) -> None:
        self._rows = 0
        self._refs: array[int] = array("i")
        self._totals: array[int] = array("q")  # ns
        self._cpu: array[int] = array("q")  # ns, -1 where not measured
        self._preempted: array[int] = array("i")
        self._spans: dict[str, array[int]] = {}  # ns, -1 where the span did not run
        self._cpu_spans: dict[str, array[int]] = {}  # a stage's thread CPU ns (cpu_time on), -1 where absent
        self._metrics: dict[tuple[str, str], array[float]] = {}
        self._failures: list[QueryFailure] = []

    @property
    def measured(self) -> int:
        """Queries added so far, flushed or not."""
        return self._first + self._rows

    def add(
        self,
        query_ref: int,
        total_ns: int,
        records: list[SpanRecord],
        failure: QueryFailure | None,
        query_id: str,
        start_ns: int = 0,
        usage: tuple[int, int] = (_ABSENT, _ABSENT),
        cpu: list[tuple[str, int]] | None = None,
    ) -> None:
        """One measured query: its position in the query set, wall time, span records and failure.

        `start_ns` is when the query started, on the recorder's clock (its spans' `start`);
        `usage` the worker's CPU time (ns) and involuntary context switches during it; `cpu` its
        stages' thread CPU times (cpu_time on).
        """
        row = self._rows
        if row == 0:
            self._started_ns = perf_counter_ns()
        self._refs.append(query_ref)
        self._totals.append(total_ns)
        self._cpu.append(usage[0])
        self._preempted.append(usage[1])
        spans = self._spans
        appended = 0
        for record in records:  # (path, start, duration ns, error, metrics); indexed: the hot loop of a run
            column = spans.get(record[0])
            if column is None:
                column = spans[record[0]] = array("q", [_ABSENT]) * row
                if record[0] not in self._seen_paths:  # once per path and batch, not per span
                    self._seen_paths.add(record[0])
                    self._new_paths[record[0]] = SpanPath(self._kinds.get(record[0]), record[1] - start_ns)
            if len(column) > row:  # a span that ran several times in one query (a marked loop) adds up
                column[row] += record[2]
            else:
                column.append(record[2])
                appended += 1
            if record[4]:
                self._metric_row(record[0], record[4], row, query_id)
        if appended != len(spans):  # some path did not run in this query (rare, so not checked per span)
            _pad(spans.values(), row, _ABSENT)
        if self._metrics:
            _pad(self._metrics.values(), row, _NAN)
        if failure is not None:
            self._failures.append(failure)
        if cpu is not None:
            self._cpu_row(cpu, row)
        self._rows = row + 1
        if self._rows >= MAX_ROWS or perf_counter_ns() - self._started_ns >= MAX_AGE_NS:
            self.flush()

    def _cpu_row(self, records: list[tuple[str, int]], row: int) -> None:
        columns = self._cpu_spans
        for path, cpu_ns in records:
            column = columns.get(path)
            if column is None:
                column = columns[path] = array("q", [_ABSENT]) * row
            if len(column) > row:
                column[row] += cpu_ns
            else:
                column.append(cpu_ns)
        _pad(columns.values(), row, _ABSENT)

    def _metric_row(self, path: str, metrics: dict[str, float], row: int, query_id: str) -> None:
        for name, value in metrics.items():
            column = self._metrics.get((path, name))
            if column is None:
                column = self._metrics[path, name] = array("d", [_NAN]) * row
            finite = isinstance(value, (int, float)) and math.isfinite(value)
            if not finite:
                self._warn_once(path, name, value, query_id)
            number = float(value) if finite else _NAN
            if len(column) > row:
                column[row] = number
            else:
                column.append(number)

    def _warn_once(self, path: str, name: str, value: object, query_id: str) -> None:
        """A non-finite metric (tokens / 0 s) is stored as missing and said once, not refused later."""
        if (path, name) in self._warned:
            return
        self._warned.add((path, name))
        self._stream.emit(
            RunWarning(
                f"metric '{name}' of stage '{path}' was {value!r} in query '{query_id}' "
                "(not a finite number); stored as null, left out of its statistics"
            )
        )

    def flush(self) -> None:
        """Write the buffered queries as one batch (nothing when empty).

        A second Ctrl-C can land in the middle of `add`: the row it was adding is cut from every
        column (rows count only once all of a query is in), so the batch stays rectangular.
        """
        rows = self._rows
        if not rows:
            return
        del self._refs[rows:]
        del self._totals[rows:]
        del self._cpu[rows:]
        del self._preempted[rows:]
        for span_column in (*self._spans.values(), *self._cpu_spans.values()):
            del span_column[rows:]
        for metric_column in self._metrics.values():
            del metric_column[rows:]
        self._failures = [f for f in self._failures if f.index < self._first + rows]
        if self._new_paths:
            self._stream.emit(SpanPaths(self._new_paths))
            self._new_paths = {}
        metrics: dict[str, dict[str, str]] = {}
        for (path, name), column in self._metrics.items():
            metrics.setdefault(path, {})[name] = _b64(column)
        self._stream.emit(
            QueryBatch(
                first=self._first,
                n=self._rows,
                query=_b64(self._refs),
                total_ns=_b64(self._totals),
                spans={path: _b64(column) for path, column in self._spans.items()},
                metrics=metrics,
                failures=tuple(self._failures),
                last_ms=self._totals[-1] / 1e6,
                cpu_ns=_b64(self._cpu),
                cpu_spans={path: _b64(column) for path, column in self._cpu_spans.items()} or None,
                preempted=_b64(self._preempted),
                machine=self._machine.sample(),
            )
        )
        self._first += self._rows
        self._reset()
