"""The parent's side of the per-query columns: join the worker's `QueryBatch`es into the run's `QueryTable`.

Each batch is decoded straight into numpy arrays; no Python object is made per query. A span
path that first runs in a later batch gets NaN for the queries before it.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ragperf.schema.machine import MachineBlock
from ragperf.schema.queries import Column, FailedQuery, QueryError, QueryTable, QueryText

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from ragperf.engine.events import QueryBatch
    from ragperf.queries import Query

__all__ = ["TableBuilder"]

_K = TypeVar("_K", str, tuple[str, str])  # a span path, or (span path, metric name)


def _decode(data: str, dtype: str) -> NDArray[Any]:
    return np.frombuffer(base64.b64decode(data), dtype=dtype)


def _unknown_as_nan(data: str | None, dtype: str, size: int) -> NDArray[np.float64]:
    """A batch's usage column as float64, NaN where the worker could not read it (-1) or sent none."""
    if data is None:
        return np.full(size, np.nan)
    values = _decode(data, dtype).astype(np.float64)
    values[values < 0] = np.nan
    return values


def _milliseconds(ns: NDArray[Any]) -> NDArray[np.float64]:
    """The worker's nanoseconds as the run file's milliseconds; its -1 (did not run) as NaN."""
    ms: NDArray[np.float64] = np.where(ns < 0, np.nan, ns / 1e6)
    return ms


class TableBuilder:
    """Accumulates batches in order; `build()` gives the table."""

    def __init__(self) -> None:
        self._sizes: list[int] = []
        self._refs: list[NDArray[Any]] = []
        self._totals: list[NDArray[Any]] = []
        self._spans: dict[str, list[NDArray[Any]]] = {}
        self._cpu_spans: dict[str, list[NDArray[Any]]] = {}
        self._metrics: dict[tuple[str, str], list[NDArray[Any]]] = {}
        self._failures: list[FailedQuery] = []
        self._cpu: list[NDArray[Any]] = []
        self._preempted: list[NDArray[Any]] = []
        self.machine: list[MachineBlock] = []  # one per batch that read /proc/stat
        self._base = 0  # measured queries of the earlier processes (`--processes`): the next one numbers from 0

    def next_process(self) -> None:
        """The batches that follow come from a new worker process, numbered from its own first query."""
        self._base = self.n

    @property
    def n(self) -> int:
        """Queries added so far."""
        return sum(self._sizes)

    def add(self, batch: QueryBatch) -> None:
        """Append one batch (batches arrive in order; a gap means the stream was cut)."""
        first = self._base + batch.first
        if first != self.n:
            return  # a batch out of order can only come from a damaged stream: keep what is contiguous
        size = batch.n
        self._refs.append(_decode(batch.query, "<i4"))
        self._totals.append(_milliseconds(_decode(batch.total_ns, "<i8")))
        self._cpu.append(_unknown_as_nan(batch.cpu_ns, "<i8", size) / 1e6)
        self._preempted.append(_unknown_as_nan(batch.preempted, "<i4", size))
        if batch.machine is not None:
            busy, others, running = batch.machine
            self.machine.append(
                MachineBlock(first=first, n=size, busy_cpus=busy, others_cpus=others, run_queue=running)
            )
        spans = {path: _milliseconds(_decode(data, "<i8")) for path, data in batch.spans.items()}
        _extend(self._spans, spans, self._sizes, size)
        if batch.cpu_spans is not None or self._cpu_spans:
            cpu_spans = {path: _milliseconds(_decode(data, "<i8")) for path, data in (batch.cpu_spans or {}).items()}
            _extend(self._cpu_spans, cpu_spans, self._sizes, size)
        metrics = {(p, m): _decode(data, "<f8") for p, by_name in batch.metrics.items() for m, data in by_name.items()}
        _extend(self._metrics, metrics, self._sizes, size)
        self._failures += [
            FailedQuery(
                index=self._base + f.index,
                error=QueryError(stage=f.stage, type=f.type, message=f.message, traceback=f.traceback),
            )
            for f in batch.failures
        ]
        self._sizes.append(size)

    def build(self, queries: Sequence[Query]) -> QueryTable:
        """The table; `queries` is the query set the worker's `query` column refers to.

        The chunks are released as the columns are made: a run's queries are held once, not twice.
        """
        refs = np.concatenate(self._refs) if self._refs else np.zeros(0, dtype="<i4")
        self._refs = []
        used, first_seen = np.unique(refs, return_index=True)
        # Keep only the queries that ran, renumbered in first-run order, so a file names no query it lacks.
        order = used[np.argsort(first_seen)]
        renumber = np.full(len(queries), -1, dtype="<i4")
        renumber[order] = np.arange(order.size, dtype="<i4")
        metrics: dict[str, dict[str, Column]] = {}
        for (path, name), chunks in self._metrics.items():
            metrics.setdefault(path, {})[name] = Column.of(np.concatenate(chunks))
        spans = {path: Column.of(np.concatenate(chunks)) for path, chunks in self._spans.items()}
        cpu_spans = {path: Column.of(np.concatenate(chunks)) for path, chunks in self._cpu_spans.items()}
        self._cpu_spans = {}
        totals = Column.of(np.concatenate(self._totals) if self._totals else np.zeros(0))
        cpu = Column.of(np.concatenate(self._cpu)) if self._cpu else None
        preempted = Column.of(np.concatenate(self._preempted)) if self._preempted else None
        self._cpu, self._preempted = [], []
        n, self._spans, self._metrics, self._totals, self._sizes = self.n, {}, {}, [], []
        return QueryTable(
            n=n,
            query_set=tuple(QueryText(id=queries[int(i)].id, text=queries[int(i)].text) for i in order),
            query=Column.of(renumber[refs], "int32"),
            total_ms=totals,
            spans=spans,
            metrics=metrics,
            failures=tuple(self._failures),
            cpu_ms=cpu,
            preempted=preempted,
            cpu_spans=cpu_spans,
        )


def _extend(columns: dict[_K, list[NDArray[Any]]], chunk: dict[_K, NDArray[Any]], sizes: list[int], size: int) -> None:
    """Append a batch's chunk to each column; NaN for a column the batch lacks, or a new one's earlier batches."""
    for key, values in chunk.items():
        if key not in columns:
            columns[key] = [np.full(n, np.nan) for n in sizes]
        columns[key].append(values)
    for key, chunks in columns.items():
        if key not in chunk:
            chunks.append(np.full(size, np.nan))
