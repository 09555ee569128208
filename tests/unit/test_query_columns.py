"""Per-query columns end to end: the worker's batches, the parent's table, the run file's encoding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragperf.engine import batch as batch_module
from ragperf.engine.batch import BatchWriter
from ragperf.engine.events import QueryBatch, QueryFailure
from ragperf.engine.stream import Stream, read_stream
from ragperf.engine.table import TableBuilder
from ragperf.queries import Query
from ragperf.schema.queries import Column, QueryRecord, QueryTable

QUERIES = [Query("q0", "first"), Query("q1", "second"), Query("q2", "third")]


def _span(path, ms, metrics=None):
    return (path, 0, int(ms * 1e6), None, metrics)


def _write(tmp_path, rows, monkeypatch=None, max_rows=None):
    if monkeypatch is not None and max_rows is not None:
        monkeypatch.setattr(batch_module, "MAX_ROWS", max_rows)
    path = tmp_path / "stream.jsonl"
    stream = Stream(path)
    writer = BatchWriter(stream)
    for ref, total, spans, failure in rows:
        writer.add(ref, int(total * 1e6), spans, failure, QUERIES[ref].id)
    writer.flush()
    stream.close()
    return read_stream(path)


def _table(events):
    builder = TableBuilder()
    for event in events:
        if isinstance(event, QueryBatch):
            builder.add(event)
    return builder.build(QUERIES)


def test_batches_become_one_table_with_nan_where_a_span_did_not_run(tmp_path, monkeypatch):
    # GIVEN queries whose spans differ: a marked span appears late, one runs twice, one query fails
    failure = QueryFailure(index=2, stage="b", type="ValueError", message="no", traceback=None)
    rows = [
        (1, 5.0, [_span("a", 1.0), _span("b", 2.0)], None),
        (2, 6.0, [_span("a", 1.5), _span("b", 2.5), _span("b.inner", 0.5), _span("b.inner", 0.25)], None),
        (0, 7.0, [_span("a", 2.0)], failure),
    ]
    # WHEN written in batches of two and joined again
    events = _write(tmp_path, rows, monkeypatch, max_rows=2)
    assert [e.n for e in events if isinstance(e, QueryBatch)] == [2, 1]
    table = _table(events)
    # THEN each column has every query, NaN where the span did not run, repeated spans added up
    assert table.n == 3
    assert table.total_ms.values.tolist() == [5.0, 6.0, 7.0]
    assert table.span("a").tolist() == [1.0, 1.5, 2.0]
    assert table.span("b")[:2].tolist() == [2.0, 2.5]
    assert math.isnan(table.span("b")[2])
    inner = table.span("b.inner")
    assert math.isnan(inner[0])
    assert inner[1] == pytest.approx(0.75)
    assert math.isnan(inner[2])
    # AND the failure keeps its index; ok_span leaves it out; the query set holds what ran, in first-run order
    assert table.ok.tolist() == [True, True, False]
    assert table.ok_span("a").tolist() == [1.0, 1.5]
    assert [q.id for q in table.query_set] == ["q1", "q2", "q0"]
    assert table.ids() == ["q1", "q2", "q0"]
    assert table[2].error is not None
    assert table[2].error.message == "no"


def test_a_non_finite_metric_is_missing_and_said_once(tmp_path):
    rows = [(0, 1.0, [_span("g", 1.0, {"tps": math.inf, "ttft": 3.0})], None) for _ in range(3)]
    events = _write(tmp_path, rows)
    table = _table(events)
    assert np.isnan(table.metric("g", "tps")).all()
    assert table.metric("g", "ttft").tolist() == [3.0, 3.0, 3.0]
    assert sum(type(e).__name__ == "RunWarning" for e in events) == 1


def test_an_interrupted_add_leaves_the_batch_rectangular(tmp_path):
    # GIVEN a writer whose second query was cut off half-way (a second Ctrl-C inside add)
    stream = Stream(tmp_path / "s.jsonl")
    writer = BatchWriter(stream)
    writer.add(0, 1_000_000, [_span("a", 1.0)], None, "q0")
    writer._refs.append(1)  # the first appends of a row that never completed
    writer._totals.append(2_000_000)
    writer._spans["a"].append(2_000_000)
    # WHEN flushed
    writer.flush()
    stream.close()
    # THEN only the complete row is written, every column as long as the batch
    table = _table(read_stream(tmp_path / "s.jsonl"))
    assert table.n == 1
    assert table.span("a").tolist() == [1.0]


def test_records_and_columns_are_two_views_of_one_table():
    records = [
        QueryRecord(index=0, id="x", query="q", total_ms=2.0, spans={"a": 1.0}, metrics={"a": {"m": 4.0}}),
        QueryRecord(index=1, id="y", query="r", total_ms=3.0, spans={"a": 2.0, "b": 1.0}),
    ]
    table = QueryTable.from_records(records)
    assert list(table.records()) == records
    again = QueryTable.model_validate_json(table.model_dump_json())
    assert list(again.records()) == records
    assert len(again) == 2


def test_a_column_round_trips_its_dtype_and_is_read_only():
    column = Column.of([1.5, float("nan"), 3.0])
    assert column.dtype == "float64"
    values = Column.model_validate_json(column.model_dump_json()).values
    assert values[0] == 1.5
    assert math.isnan(values[1])
    with pytest.raises(ValueError, match="read-only"):
        values[0] = 2.0
    assert Column.of([1, 2], "int32").values.tolist() == [1, 2]
