"""Span boundaries written into an allocation profiler's record stream, as marker allocations.

memray's records carry no timestamps, and a stage's trampoline frame tells which stage an
allocation belongs to but not which execution of it (two queries' executions of one stage can be
consecutive records). So while memray records, the executor calls this probe at each query start
and around each top-level stage: each call makes one short-lived allocation from a function
compiled with the file name `<exec@ragperf-mark:KIND:PATH>`, whose frame is the innermost one on
the marker's stack. The reader (`ragperf.memory.peaks`) splits the stream at them.

Why a frame and not a distinctive size: any allocation may have any size; no user code runs in a
file named `<exec@ragperf-mark:...>`. The allocation is a `bytes` larger than pymalloc's 512-byte
limit: one record (a calloc) whether or not memray traces Python's allocators (a `bytearray` is
two when it does: an allocation and a resize, which would mark twice).
Measured: 1.8 µs a mark under memray (2.7 µs tracing Python allocators, 0.5 µs without memray), two a
stage; they run outside the stage spans, inside the query totals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MARK_BYTES", "MARK_FILE_PREFIX", "AllocationMarks", "MarkKind", "mark_of_frame"]

MARK_FILE_PREFIX = "<exec@ragperf-mark:"
MARK_BYTES = 4097  # above pymalloc's small-object limit: malloc serves it
MarkKind = Literal["query", "enter", "exit"]
_KINDS: tuple[MarkKind, ...] = ("query", "enter", "exit")
_FUNCTION = "ragperf_mark"


def _compile(kind: MarkKind, path: str) -> Callable[[], Any]:
    namespace: dict[str, Any] = {}
    source = f"def {_FUNCTION}():\n    return bytes({MARK_BYTES})\n"
    exec(compile(source, f"{MARK_FILE_PREFIX}{kind}:{path}>", "exec"), namespace)  # noqa: S102 - fixed source
    return namespace[_FUNCTION]  # type: ignore[no-any-return]


def mark_of_frame(function: str, filename: str) -> tuple[MarkKind, str] | None:
    """(kind, stage path) of a marker's frame, or None for any other frame.

    The function's name counts too: defining a marker (on its first use) runs its file's module
    code, whose allocations are not marks.
    """
    if function != _FUNCTION or not filename.startswith(MARK_FILE_PREFIX) or not filename.endswith(">"):
        return None
    kind, _, path = filename[len(MARK_FILE_PREFIX) : -1].partition(":")
    return (kind, path) if kind in _KINDS else None


class AllocationMarks:
    """A stage probe that marks each query start and each top-level stage's start and end."""

    __slots__ = ("_marks", "_query")

    def __init__(self) -> None:
        self._query = _compile("query", "")
        self._marks: dict[tuple[MarkKind, str], Callable[[], Any]] = {}

    def _mark(self, kind: MarkKind, path: str) -> None:
        found = self._marks.get((kind, path))
        if found is None:
            found = self._marks[kind, path] = _compile(kind, path)
        found()  # the bytes are freed at once: an allocation and a free in the stream

    def begin_query(self) -> None:
        """A query starts."""
        self._query()

    def before(self, path: str) -> None:
        """A top-level stage starts."""
        self._mark("enter", path)

    def after(self, path: str) -> None:
        """A top-level stage has ended (also when it raised)."""
        self._mark("exit", path)
