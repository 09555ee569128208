"""The load worker's wire: typed events parsed once, and the one line a dead worker's log is summed up by."""

from __future__ import annotations

import pytest

from ragperf.load.logtail import frame_of, meaningful_line
from ragperf.load.protocol import Error, Progress, ProtocolError, Ready, encode, parse

PYDANTIC_TAIL = """\
Traceback (most recent call last):
  File "/x/ragperf/load/worker.py", line 64, in main
    spec = LoadWorkerSpec.model_validate_json(text)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
pydantic_core._pydantic_core.ValidationError: 1 validation error for StepCommand
rate
  Input should be a valid number [type=float_type, input_value=None, input_type=NoneType]
    For further information visit https://errors.pydantic.dev/2.14/v/float_type
"""


def test_events_round_trip_and_garbage_is_refused() -> None:
    for event in (Ready(pid=7, service_ms=None), Progress(step=1, completed=3, errors=0, p95_ms=2.5)):
        assert parse(encode(event)) == event
    error = Error(exit_code=3, message="boom", traceback=("line",))
    assert parse(encode(error)) == error
    with pytest.raises(ProtocolError, match="not a load worker event"):
        parse(b'{"type": "ready"}')
    with pytest.raises(ProtocolError):
        parse(b"hello from a print()")


def test_the_exception_line_wins_over_carets_and_notices() -> None:
    lines = PYDANTIC_TAIL.splitlines()
    assert meaningful_line(lines) == "pydantic_core._pydantic_core.ValidationError: 1 validation error for StepCommand"
    assert frame_of(lines) == "worker.py:64 in main"


def test_a_cut_traceback_and_a_plain_log() -> None:
    # A traceback cut before its exception line: the last line that says something, not the carets
    cut = ["setup took 3 ms", "Traceback (most recent call last):", '  File "p.py", line 3, in f', "    g()", "    ^^^"]
    assert meaningful_line(cut) == "g()"
    assert meaningful_line(cut, traceback_only=True) is None
    crash = "Fatal Python error: Segmentation fault"
    assert meaningful_line([crash, "", "~~~~"]) == crash
    assert meaningful_line([]) is None
