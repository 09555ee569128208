"""What the parent hands the worker (a JSON file), and the stream the worker writes back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ragperf.config import Config
from ragperf.memory.settings import LeakSettings

if TYPE_CHECKING:
    from pathlib import Path
    from typing import TextIO

__all__ = ["QueryItem", "Stream", "StreamFollower", "WorkerSpec", "read_stream"]


class QueryItem(BaseModel):
    """One query as the worker receives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str
    meta: dict[str, Any] = {}


class WorkerSpec(BaseModel):
    """Everything one worker run needs; written by the parent, read by `python -m ragperf.worker`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Config
    config_dir: str
    queries: tuple[QueryItem, ...]
    warmup: int
    measured: int
    fail_fast: bool
    backend: str
    backend_options: dict[str, Any]
    artifacts: str
    memory: bool = False  # per-stage RSS/heap/peak readings (ragperf.memory)
    leak: LeakSettings | None = None  # leak mode: gc between queries, then allocation-site snapshots


class Stream:
    """The worker's append-only JSON-lines log: one line per event, flushed as it happens.

    Written line by line (not as one file at the end) so that a worker killed mid-run still
    leaves every query it finished, and so the parent can follow progress.
    """

    def __init__(self, path: Path) -> None:
        self._handle: TextIO = path.open("a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        """Append one event and flush it to the OS."""
        self._handle.write(json.dumps({"type": kind, **fields}, separators=(",", ":")) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def read_stream(path: Path) -> list[dict[str, Any]]:
    """Every complete event in the stream (a torn last line from a killed worker is skipped)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return events


class StreamFollower:
    """Reads the events a running worker appends, each once (the parent polls this for progress).

    Keeps its place in the file, so a poll costs what was appended since the last one, not the
    whole stream again; a line the worker has not finished writing waits for the next poll.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0

    def poll(self) -> list[dict[str, Any]]:
        """The complete events appended since the last poll."""
        try:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._offset += len(complete)
        return [json.loads(line) for line in complete.splitlines() if line.strip()]
