"""The load worker's reply stream: one JSON line per event, a typed record per event kind.

The worker encodes `Ready` once after its warm-up, `Progress` a few times a second during a
step, one `Result` per step and `Error` when it stops on a failure; the parent parses each line
once, here, and reads fields, never keys. A lane's tally travels in the same form through the
Locust engine's custom messages, so both engines merge one record type.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ragperf.load.histogram import Histogram
from ragperf.schema.load import HistogramData

__all__ = [
    "Error",
    "LaneTally",
    "Progress",
    "ProtocolError",
    "Ready",
    "Result",
    "WindowTally",
    "WorkerEvent",
    "encode",
    "histogram",
    "histogram_data",
    "parse",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowTally(_Record):
    """One time slice of a lane's step: arrivals, completions, errors, latency from the intended start."""

    offered: int
    completed: int
    errors: int
    latency: HistogramData


class LaneTally(_Record):
    """What one lane (one arrival stream) measured in one step."""

    offered: int
    started: int
    completed: int
    completed_in_time: int
    errors: int
    good: int
    unserved: int
    interrupted: bool
    elapsed_ns: int
    latency: HistogramData
    service: HistogramData
    schedule: HistogramData
    stages: dict[str, HistogramData]
    stage_errors: dict[str, int]
    metrics: dict[str, dict[str, HistogramData]]
    windows: dict[int, WindowTally]


class Ready(_Record):
    """Set up and warmed; the median warm-up service time is a capacity hint for --find-max."""

    type: Literal["ready"] = "ready"
    pid: int
    service_ms: float | None


class Progress(_Record):
    """Queries completed so far in a step, and the p95 of the latest ones."""

    type: Literal["progress"] = "progress"
    step: int
    completed: int
    errors: int
    p95_ms: float | None


class Result(_Record):
    """Every lane's tally for one finished (or stopped) step."""

    type: Literal["result"] = "result"
    step: int
    lanes: tuple[LaneTally, ...]


class Error(_Record):
    """The worker stopped on a failure: a one-line message, its exit code, the traceback's last lines."""

    type: Literal["error"] = "error"
    exit_code: int
    message: str
    traceback: tuple[str, ...] = ()


WorkerEvent = Annotated[Ready | Progress | Result | Error, Field(discriminator="type")]
_EVENT: TypeAdapter[Ready | Progress | Result | Error] = TypeAdapter(WorkerEvent)


class ProtocolError(ValueError):
    """A line that is not a worker event (a bug, or a pipeline writing to the protocol's descriptor)."""


def encode(event: Ready | Progress | Result | Error) -> bytes:
    """One event as one line."""
    return event.model_dump_json().encode() + b"\n"


def parse(line: bytes) -> Ready | Progress | Result | Error:
    """The event one line holds."""
    try:
        return _EVENT.validate_json(line)
    except ValidationError as exc:
        msg = f"not a load worker event: {line[:120]!r} ({exc.error_count()} errors)"
        raise ProtocolError(msg) from None


def histogram_data(hist: Histogram) -> HistogramData:
    """A histogram in its record form."""
    return HistogramData.model_validate(hist.to_dict())


def histogram(data: HistogramData) -> Histogram:
    """A histogram back from its record form."""
    return Histogram.from_dict(data.model_dump())
