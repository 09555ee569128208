"""The worker's event stream: typed records, appended line by line, followed incrementally, torn lines held back."""

from __future__ import annotations

import pytest

from ragperf.engine.events import (
    End,
    LeakSites,
    MemoryReading,
    ProtocolError,
    QueryBatch,
    QueryFailure,
    Ready,
    SiteRecord,
    StageReading,
    decode,
    encode,
)
from ragperf.engine.stream import Stream, StreamFollower, read_stream


def test_follower_returns_each_event_once_and_waits_for_a_torn_line(tmp_path):
    # GIVEN a stream the worker is writing
    path = tmp_path / "stream.jsonl"
    follower = StreamFollower(path)
    assert follower.poll() == []  # not created yet
    stream = Stream(path)
    stream.emit(Ready(setup_ms=1.5))
    stream.emit(End(complete=True))
    # WHEN followed THEN each event comes once, as its record
    assert follower.poll() == [Ready(setup_ms=1.5), End(complete=True)]
    assert follower.poll() == []
    # AND a line cut mid-write (a killed worker, or a poll between two writes) waits for its end
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"type":"ready","setup')
    assert follower.poll() == []
    with path.open("a", encoding="utf-8") as handle:
        handle.write('_ms":2.0}\n')
    assert follower.poll() == [Ready(setup_ms=2.0)]
    stream.close()


def test_read_stream_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "stream.jsonl"
    path.write_text('{"type":"warmup","index":0}\n{"type":"que', encoding="utf-8")
    assert [type(e).__name__ for e in read_stream(path)] == ["Warmup"]


def test_read_stream_keeps_what_precedes_a_line_that_is_no_event(tmp_path):
    path = tmp_path / "stream.jsonl"
    path.write_text('{"type":"warmup","index":0}\n{"type":"nonsense"}\n{"type":"warmup","index":1}\n', encoding="utf-8")
    assert len(read_stream(path)) == 1


@pytest.mark.parametrize(
    "event",
    [
        QueryBatch(
            first=3,
            n=1,
            query="AAAAAA==",
            total_ns="AAAAAAAA9D8=",
            spans={"a": "AAAAAAAA8D8="},
            metrics={"b": {"ttft_ms": "AAAAAAAA+H8="}},
            failures=(QueryFailure(index=3, stage="b", type="ValueError", message="what [/INST] is", traceback="T"),),
            last_ms=1.25,
        ),
        MemoryReading(
            index=0, id="q0", rss=10, heap=None, stages=(StageReading("a", 1, 2, None, None, 3),), probe_ns=7
        ),
        LeakSites(
            frames=40,
            every=3,
            stages={"a": 1024.0},
            sites=(SiteRecord("a", "f.py", 3, None, 1024.0, 2.0, 4096, ("f.py:3", "g.py:9")),),
        ),
        End(complete=False, reason="interrupted (SIGTERM)", signal=15),
    ],
)
def test_every_event_decodes_to_the_record_it_was_encoded_from(event):
    assert decode(encode(event)) == event


@pytest.mark.parametrize("line", ["", "[]", '{"type":"ready"}', '{"type":"ready","setup_ms":1,"extra":2}', '{"no":1}'])
def test_a_line_that_is_no_event_is_a_protocol_error(line):
    with pytest.raises(ProtocolError):
        decode(line)
