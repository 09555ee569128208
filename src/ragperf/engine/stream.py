"""The worker's stream file: appended one event a line as things happen, followed by the parent.

Line by line (not one file at the end) so that a worker killed mid-run still leaves every
query it finished, and so the parent can follow progress without a pipe (a wrapping profiler
sits between the two processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.engine.events import ProtocolError, QueryBatch, decode, encode

if TYPE_CHECKING:
    from pathlib import Path
    from typing import TextIO

    from ragperf.engine.events import Event

__all__ = ["Stream", "StreamFollower", "measured_in", "read_stream"]


class Stream:
    """The worker's side: append one event and flush it to the OS at once."""

    def __init__(self, path: Path) -> None:
        self._handle: TextIO = path.open("a", encoding="utf-8")

    def emit(self, event: Event) -> None:
        """Append one event."""
        self._handle.write(encode(event) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def _decode_lines(chunk: bytes) -> list[Event]:
    """Each line's event, up to the first line that is not one (only a bug or a foreign file has
    one): what precedes it is kept rather than the run lost."""
    events = []
    for line in chunk.splitlines():
        if line.strip():
            try:
                events.append(decode(line))
            except ProtocolError:
                break
    return events


def read_stream(path: Path) -> list[Event]:
    """Every complete event in the stream; a torn last line (a killed worker) is left out."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return _decode_lines(data[: data.rfind(b"\n") + 1])


def measured_in(path: Path) -> int:
    """How many measured queries a stream holds so far (a running worker's progress, seen from outside)."""
    return sum(event.n for event in read_stream(path) if isinstance(event, QueryBatch))


class StreamFollower:
    """The parent's side while the worker runs: each complete event once, as it is appended.

    Keeps its place in the file, so a poll costs what was appended since the last one; a line
    the worker has not finished writing waits for the next poll.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0

    def poll(self) -> list[Event]:
        """The complete events appended since the last poll."""
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        return _decode_lines(complete)
