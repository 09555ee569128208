"""The worker's event stream: appended line by line, followed incrementally, torn lines held back."""

from __future__ import annotations

from ragperf.spec import Stream, StreamFollower, read_stream


def test_follower_returns_each_event_once_and_waits_for_a_torn_line(tmp_path):
    # GIVEN a stream the worker is writing
    path = tmp_path / "stream.jsonl"
    follower = StreamFollower(path)
    assert follower.poll() == []  # not created yet
    stream = Stream(path)
    stream.write("ready", setup_ms=1.5)
    stream.write("query", index=0)
    # WHEN followed THEN each event comes once
    assert [e["type"] for e in follower.poll()] == ["ready", "query"]
    assert follower.poll() == []
    # AND a line cut mid-write (a killed worker, or a poll between two writes) waits for its end
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"type":"query","ind')
    assert follower.poll() == []
    with path.open("a", encoding="utf-8") as handle:
        handle.write('ex":1}\n')
    assert follower.poll() == [{"type": "query", "index": 1}]
    stream.close()


def test_read_stream_skips_a_torn_last_line(tmp_path):
    path = tmp_path / "stream.jsonl"
    path.write_text('{"type":"query","index":0}\n{"type":"que', encoding="utf-8")
    assert read_stream(path) == [{"type": "query", "index": 0}]
