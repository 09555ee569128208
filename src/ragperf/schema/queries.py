"""The measured queries of a run, stored by column: one array per span path, not one object per query.

A million queries of eleven stages are eleven arrays of a million numbers. In JSON each array is
the base64 of its little-endian bytes (`Column`): it loads in milliseconds into a numpy array,
and is a third of the size of the same numbers written as text. Missing values (a span that did
not run in a query, a metric the pipeline did not report, or reported as not finite) are NaN.

`QueryRecord` is the one-query view of the same data, for code and tests that want an object:
`table[i]` or `table.records()` build them on demand; nothing in ragperf's analysis does.
"""

from __future__ import annotations

import base64
import math
import weakref
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Column", "FailedQuery", "QueryError", "QueryRecord", "QueryTable", "QueryText"]

Dtype = Literal["float64", "int32"]
_NUMPY: dict[str, str] = {"float64": "<f8", "int32": "<i4"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(_Model):
    """One value per measured query: `dtype`, and the base64 of the values' little-endian bytes."""

    dtype: Dtype
    data: str = Field(description="base64 of the little-endian values, one per measured query")

    @classmethod
    def of(cls, values: NDArray[Any] | Sequence[float], dtype: Dtype = "float64") -> Column:
        """The column of these values."""
        import numpy as np

        array = np.array(values, dtype=_NUMPY[dtype])  # a copy: the column's values never change under it
        column = cls(dtype=dtype, data=base64.b64encode(array.tobytes()).decode("ascii"))
        array.flags.writeable = False
        _DECODED[column] = array  # read back as it was made, not decoded again
        return column

    @property
    def values(self) -> NDArray[Any]:
        """The values as a read-only numpy array (decoded once per column)."""
        cached = _DECODED.get(self)
        if cached is not None:
            return cached
        import numpy as np

        array = np.frombuffer(base64.b64decode(self.data, validate=True), dtype=_NUMPY[self.dtype])
        array.flags.writeable = False
        _DECODED[self] = array
        return array


# Decoded columns, kept beside the models rather than in them: pydantic's == compares a model's
# __dict__, and an array there has no single truth value. Weak: a column's array goes with it.
_DECODED: weakref.WeakKeyDictionary[Column, NDArray[Any]] = weakref.WeakKeyDictionary()


class QueryText(_Model):
    """A query of the query set, referred to by the measured queries that ran it."""

    id: str
    text: str


class QueryError(_Model):
    """Why a query failed: the stage that raised and the exception."""

    stage: str | None
    type: str
    message: str
    traceback: str | None = None


class FailedQuery(_Model):
    """A measured query that raised: its index among the measured queries, and why."""

    index: int
    error: QueryError


class QueryRecord(_Model):
    """One measured query: span durations by path, stage metrics, and an error if it failed."""

    index: int
    id: str
    query: str
    total_ms: float
    spans: dict[str, float]
    metrics: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="by span path; null where the pipeline reported a non-finite value"
    )
    error: QueryError | None = None


class QueryTable(_Model):
    """Every measured query, by column. Index i is the i-th measured query in every column."""

    n: int = Field(ge=0)
    query_set: tuple[QueryText, ...] = Field(description="the distinct queries that ran, in first-run order")
    query: Column = Field(description="int32: each measured query's position in query_set")
    total_ms: Column = Field(description="float64: each query's wall time (ms), stage calls and harness")
    spans: dict[str, Column] = Field(description="float64 per span path (ms); NaN where the span did not run")
    metrics: dict[str, dict[str, Column]] = Field(
        default_factory=dict, description="float64 per span path and metric name; NaN where absent or not finite"
    )
    failures: tuple[FailedQuery, ...] = Field(default=(), description="the queries that raised, by index")
    cpu_ms: Column | None = Field(
        default=None, description="float64: the worker's CPU time during each query (ms, all its threads); NaN unknown"
    )
    preempted: Column | None = Field(
        default=None, description="float64: the worker's involuntary context switches during each query; NaN unknown"
    )
    cpu_spans: dict[str, Column] = Field(
        default_factory=dict,
        description="float64 per stage path: its thread's CPU time (ms) where [run] cpu_time was on; NaN where absent",
    )

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> QueryRecord:
        if not -self.n <= index < self.n:
            raise IndexError(index)
        return self._record(index % self.n if self.n else index)

    def __iter__(self) -> Iterator[QueryRecord]:  # type: ignore[override]  # a table iterates its queries
        """`for query in run.queries` reads as it did when queries were a list (records built on demand)."""
        return self.records()

    def records(self) -> Iterator[QueryRecord]:
        """Each query as an object, in order (a view for small runs and tests; the analysis reads columns)."""
        return (self._record(i) for i in range(self.n))

    def span(self, path: str) -> NDArray[np.float64]:
        """Each query's duration of this span path (ms), NaN where it did not run."""
        import numpy as np

        column = self.spans.get(path)
        return np.full(self.n, np.nan) if column is None else column.values

    @property
    def ok(self) -> NDArray[np.bool_]:
        """True for each query that did not raise."""
        import numpy as np

        mask = np.ones(self.n, dtype=bool)
        mask[[failure.index for failure in self.failures]] = False
        mask.flags.writeable = False
        return mask

    @property
    def paths(self) -> tuple[str, ...]:
        """The span paths measured, in the order they first ran."""
        return tuple(self.spans)

    def ok_span(self, path: str) -> NDArray[np.float64]:
        """The durations of this span in successful queries where it ran (what statistics are made of)."""
        import numpy as np

        values = self.span(path)
        return values[self.ok & ~np.isnan(values)]

    def metric(self, path: str, name: str) -> NDArray[np.float64]:
        """Each query's value of a stage metric, NaN where absent."""
        import numpy as np

        column = self.metrics.get(path, {}).get(name)
        return np.full(self.n, np.nan) if column is None else column.values

    def ids(self) -> list[str]:
        """Each measured query's id."""
        ids = [q.id for q in self.query_set]
        return [ids[i] for i in self.query.values]

    def _record(self, i: int) -> QueryRecord:
        import numpy as np

        text = self.query_set[int(self.query.values[i])]
        spans = {path: float(col.values[i]) for path, col in self.spans.items() if not np.isnan(col.values[i])}
        metrics: dict[str, dict[str, float | None]] = {}
        for path, by_name in self.metrics.items():
            for name, col in by_name.items():
                if not np.isnan(col.values[i]):
                    metrics.setdefault(path, {})[name] = float(col.values[i])
        error = next((f.error for f in self.failures if f.index == i), None)
        return QueryRecord(
            index=i,
            id=text.id,
            query=text.text,
            total_ms=float(self.total_ms.values[i]),
            spans=spans,
            metrics=metrics,
            error=error,
        )

    @classmethod
    def empty(cls) -> QueryTable:
        """No measured query (a load file keeps histograms per step instead)."""
        return cls.from_records(())

    @classmethod
    def from_records(cls, records: Iterable[QueryRecord]) -> QueryTable:
        """The table of these queries (reading a version-1 file, or building one by hand)."""
        import numpy as np

        rows = list(records)
        n = len(rows)
        texts: dict[tuple[str, str], int] = {}
        refs = [texts.setdefault((r.id, r.query), len(texts)) for r in rows]
        paths = list(dict.fromkeys(path for r in rows for path in r.spans))
        spans = {path: Column.of([r.spans.get(path, np.nan) for r in rows]) for path in paths}
        names = dict.fromkeys((path, name) for r in rows for path, m in r.metrics.items() for name in m)
        metrics: dict[str, dict[str, Column]] = {}
        for path, name in names:
            values = [_or_nan(r.metrics.get(path, {}).get(name)) for r in rows]
            metrics.setdefault(path, {})[name] = Column.of(values)
        return cls(
            n=n,
            query_set=tuple(QueryText(id=i, text=t) for i, t in texts),
            query=Column.of(refs, "int32"),
            total_ms=Column.of([r.total_ms for r in rows]),
            spans=spans,
            metrics=metrics,
            failures=tuple(FailedQuery(index=i, error=r.error) for i, r in enumerate(rows) if r.error is not None),
        )


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value
