"""The worker → parent protocol of `ragperf run`: one typed record per event kind, one JSON line each.

The worker encodes these records into its stream file as they happen; the parent decodes each
line once into the same records and never reads a dict by key. The order of a run:
`Ready` (setup done), `Warmup` per warm-up query, `Measuring`, then the measured queries in
`QueryBatch`es (with memory on, a `MemoryReading` per query), then `Teardown`, and `End` last.
`Note`, `RunWarning` and the memory records may come in between; `Fatal` replaces the rest when
the worker cannot run at all. A served worker (`ragperf compare`) ends each block its parent asked
for with a `BlockDone`, after that block's last `QueryBatch`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeAlias

if TYPE_CHECKING:
    from ragperf.schema.memory import WorkingMethod

__all__ = [
    "BlockDone",
    "End",
    "Event",
    "Fatal",
    "LeakSites",
    "Measuring",
    "MemoryBaseline",
    "MemoryReading",
    "Note",
    "ProtocolError",
    "QueryBatch",
    "QueryFailure",
    "Ready",
    "RunWarning",
    "SiteRecord",
    "SpanPath",
    "SpanPaths",
    "StageReading",
    "Teardown",
    "TeardownFailed",
    "Warmup",
    "decode",
    "encode",
]


class ProtocolError(ValueError):
    """A stream line that is not an event this ragperf knows (a bug, or a stream from another version)."""


class _Record:
    """Shared by every event: its kind, JSON encoding and decoding."""

    kind: ClassVar[str]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Any:
        """Build the record from its decoded JSON fields (overridden where fields nest)."""
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Ready(_Record):
    """Setup finished."""

    kind: ClassVar[str] = "ready"
    setup_ms: float  # the pipeline's setup call
    import_ms: float = 0.0  # importing the modules the config names (before setup)


class SpanPath(NamedTuple):
    """A span path seen for the first time: its kind (None: as configured) and when it started in its query."""

    kind: str | None
    start_ns: int  # from the start of the first query it ran in


@dataclass(frozen=True, slots=True)
class SpanPaths(_Record):
    """Span paths that ran for the first time in the batch before it (framework components, marked blocks)."""

    kind: ClassVar[str] = "span_paths"
    paths: dict[str, SpanPath]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> SpanPaths:
        """Paths become named tuples."""
        return cls(paths={path: SpanPath(*value) for path, value in data.pop("paths").items()})


@dataclass(frozen=True, slots=True)
class Warmup(_Record):
    """A warm-up query finished (not measured)."""

    kind: ClassVar[str] = "warmup"
    index: int


@dataclass(frozen=True, slots=True)
class Measuring(_Record):
    """The backend is on; measured queries follow. `packages`: the distributions the pipeline imported."""

    kind: ClassVar[str] = "measuring"
    packages: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueryFailure(_Record):
    """Why a measured query failed: its index, the stage that raised and the exception."""

    kind: ClassVar[str] = "query_failure"
    index: int
    stage: str | None
    type: str
    message: str
    traceback: str | None = None


@dataclass(frozen=True, slots=True)
class QueryBatch(_Record):
    """Measured queries `first` to `first + n - 1`, by column.

    Each column is the base64 of little-endian values, one per query: `query` (int32, the
    query's position in the spec's query set), `total_ns` and each span path's duration (int64
    nanoseconds, -1 where the span did not run: integers are what the clock gives and the
    cheapest to append), and each stage metric (float64, NaN where absent).
    The worker flushes a batch every 50 ms or 1024 queries, so a stream is a few lines a
    second whatever the rate, and a SIGKILL loses at most the last 50 ms.
    """

    kind: ClassVar[str] = "queries"
    first: int
    n: int
    query: str
    total_ns: str
    spans: dict[str, str]
    metrics: dict[str, dict[str, str]]
    failures: tuple[QueryFailure, ...]
    last_ms: float  # the batch's last query total, for the progress display
    cpu_ns: str | None = None  # int64: the worker's CPU time during each query (all its threads)
    preempted: str | None = None  # int32: involuntary context switches during each query
    cpu_spans: dict[str, str] | None = None  # int64 per stage path: its thread's CPU ns (cpu_time on), -1 absent
    # (CPUs busy in all, CPUs other processes used, run queue) over the batch, from /proc/stat
    machine: tuple[float, float, int] | None = None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> QueryBatch:
        """Nested failures become their records."""
        failures = tuple(QueryFailure(**failure) for failure in data.pop("failures"))
        machine = data.pop("machine", None)
        return cls(**data, failures=failures, machine=None if machine is None else tuple(machine))


@dataclass(frozen=True, slots=True)
class BlockDone(_Record):
    """A served worker measured block `block`: `n` queries from measured index `first`, all flushed before this."""

    kind: ClassVar[str] = "block_done"
    block: int
    first: int
    n: int


@dataclass(frozen=True, slots=True)
class Note(_Record):
    """A line the pipeline added with `ragperf.note()`."""

    kind: ClassVar[str] = "note"
    text: str


@dataclass(frozen=True, slots=True)
class RunWarning(_Record):
    """Something ragperf noticed about the measurements (a non-finite metric, a stray thread)."""

    kind: ClassVar[str] = "warning"
    text: str


@dataclass(frozen=True, slots=True)
class MemoryBaseline(_Record):
    """Memory before the first measured query (bytes), and where each reading comes from."""

    kind: ClassVar[str] = "memory_baseline"
    rss_start: int | None
    setup_peak: int
    rss: int | None
    heap: int | None
    rss_source: str | None
    heap_source: str | None
    peak_source: str
    working_source: str
    working_method: WorkingMethod


class StageReading(NamedTuple):
    """One stage's (or nested span's) memory around one call (bytes)."""

    path: str
    rss_before: int | None
    rss_after: int | None
    heap_before: int | None
    heap_after: int | None
    peak: int
    nested: bool = False  # a span inside a top-level stage (its readings: RSS at its start and its peak)


@dataclass(frozen=True, slots=True)
class MemoryReading(_Record):
    """Memory after one measured query, and each stage's readings during it (bytes)."""

    kind: ClassVar[str] = "memory"
    index: int
    id: str
    rss: int | None
    heap: int | None
    stages: tuple[StageReading, ...]
    probe_ns: int | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> MemoryReading:
        """Stage readings become named tuples."""
        stages = tuple(StageReading(*reading) for reading in data.pop("stages"))
        return cls(**data, stages=stages)


class SiteRecord(NamedTuple):
    """An allocation site that grew in every snapshot (bytes and blocks per iteration)."""

    stage: str
    file: str
    line: int
    code: str | None
    growth: float
    blocks: float
    size: int
    stack: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LeakSites(_Record):
    """Leak mode: the growing allocation sites found by tracemalloc snapshots after the series."""

    kind: ClassVar[str] = "leak_sites"
    frames: int
    every: int
    stages: dict[str, float]
    sites: tuple[SiteRecord, ...]

    @classmethod
    def parse(cls, data: dict[str, Any]) -> LeakSites:
        """Sites become named tuples."""
        sites = tuple(SiteRecord._make([*site[:-1], tuple(site[-1])]) for site in data.pop("sites"))
        return cls(**data, sites=sites)


@dataclass(frozen=True, slots=True)
class Teardown(_Record):
    """Every query has run; teardown starts."""

    kind: ClassVar[str] = "teardown"


@dataclass(frozen=True, slots=True)
class TeardownFailed(_Record):
    """The pipeline's teardown raised; the measured queries stand."""

    kind: ClassVar[str] = "teardown_failed"
    message: str


@dataclass(frozen=True, slots=True)
class Fatal(_Record):
    """The worker could not run the pipeline (a config or setup error); nothing else follows but End."""

    kind: ClassVar[str] = "error"
    exit_code: int
    message: str


@dataclass(frozen=True, slots=True)
class End(_Record):
    """The worker's last line: whether every requested query ran, and why not."""

    kind: ClassVar[str] = "end"
    complete: bool
    reason: str | None = None
    signal: int | None = None  # the stop signal that ended the run early, if one did


Event: TypeAlias = (
    Ready
    | Warmup
    | Measuring
    | QueryBatch
    | BlockDone
    | SpanPaths
    | Note
    | RunWarning
    | MemoryBaseline
    | MemoryReading
    | LeakSites
    | Teardown
    | TeardownFailed
    | Fatal
    | End
)

_KINDS: dict[str, type[_Record]] = {
    cls.kind: cls
    for cls in (
        Ready,
        Warmup,
        Measuring,
        QueryBatch,
        BlockDone,
        SpanPaths,
        Note,
        RunWarning,
        MemoryBaseline,
        MemoryReading,
        LeakSites,
        Teardown,
        TeardownFailed,
        Fatal,
        End,
    )
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):  # a NamedTuple too: it travels as a JSON array
        return [_plain(item) for item in value]
    return value


def encode(event: Event) -> str:
    """One JSON line (without the newline): the kind first, then the fields."""
    fields = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return json.dumps({"type": event.kind, **fields}, separators=(",", ":"))


def decode(line: str | bytes) -> Event:
    """Parse one line into its record; raise ProtocolError for anything else."""
    try:
        data = json.loads(line)
        kind = data.pop("type")
        cls = _KINDS[kind]
        event: Event = cls.parse(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        text = line.decode(errors="replace") if isinstance(line, bytes) else line
        raise ProtocolError(f"not a worker event: {text[:200]!r} ({type(exc).__name__}: {exc})") from None
    return event
