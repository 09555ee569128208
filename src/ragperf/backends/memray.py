"""memray in the worker: every allocation of the measured queries, attributed to its stage.

One `memray.Tracker` is opened just before the first measured query and closed after the last,
writing every allocation (file format ALL_ALLOCATIONS) to a `.bin` beside the run file. Hotspots
are the bytes and the number of allocations each function made per stage (a function's self value
is what it allocated directly, its total what it and its callees allocated). The same pass
replays the records between the worker's stage marks into exact working peaks per stage
execution, sub-span and query (`ragperf.memory.peaks`). Without `trace_python_allocators` small
Python objects are seen only as the 1 MiB arenas pymalloc maps for them; with it every object is
seen, at several times the cost.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends.attribution import Frame, HotspotBuilder
from ragperf.backends.base import Backend, BackendOutput, OptionSpec, missing_profile, require_module, shell_command
from ragperf.errors import BackendUnavailable
from ragperf.memory.marks import mark_of_frame
from ragperf.memory.peaks import PeakReplay
from ragperf.schema.run import Artifact
from ragperf.trampoline import stage_of_filename

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence
    from pathlib import Path

    from ragperf.memory.marks import MarkKind
    from ragperf.memory.peaks import WorkingPeaks
    from ragperf.schema.run import StageInfo

__all__ = ["MemrayBackend", "normalise_allocations"]

CAPTURE_FILE = "memray.bin"
# memray's deallocators (AllocatorType): PYMALLOC_FREE and FREE by address, MUNMAP by address and length.
# Everything else allocates (a realloc is a FREE of the old block, then the new one).
_FREES = frozenset({1, 5})
_MUNMAP = 15
WORKING_SOURCE = (
    "memray's allocation records replayed between marks at each stage boundary; a sub-span counts the "
    "allocations under its trampoline"
)


class MemrayBackend(Backend):
    """Allocations with their stacks, recorded inside the worker by memray."""

    name = "memray"
    marks_stages = True
    summary = "bytes and allocations per stage and function (in the worker; Linux and macOS)"
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {
        "native": OptionSpec(bool, False, "record C/C++ frames too (memray native_traces)"),
        "trace_python_allocators": OptionSpec(
            bool, False, "see small Python objects (pymalloc) too; several times slower"
        ),
    }

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._tracker: Any = None

    def check_available(self) -> None:
        """memray runs on Linux and macOS only, and must be installed."""
        if sys.platform not in {"linux", "darwin"}:
            msg = f"memray does not run on {sys.platform}; use it on Linux or macOS, or pick another backend"
            raise BackendUnavailable(msg)
        require_module("memray", "memray")

    def start(self, artifacts: Path) -> None:
        """Open the tracker (one per process) just before the measured queries."""
        import memray

        path = artifacts / CAPTURE_FILE
        path.unlink(missing_ok=True)  # memray refuses to overwrite
        self._tracker = memray.Tracker(
            path,
            native_traces=bool(self.options["native"]),
            trace_python_allocators=bool(self.options["trace_python_allocators"]),
            file_format=memray.FileFormat.ALL_ALLOCATIONS,
        )
        self._tracker.__enter__()

    def stop(self) -> None:
        """Close the tracker, which finishes the capture file."""
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            tracker.__exit__(None, None, None)

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:
        """Read every allocation record: attribute it to its stage, and replay the working peaks."""
        path = artifacts / CAPTURE_FILE
        if not path.exists():
            return missing_profile(self.name, path)
        from memray import FileReader

        reader = FileReader(path)
        try:
            native = bool(reader.metadata.has_native_traces)
            top_level = {stage.path for stage in stages if stage.parent is None}
            builder, working = normalise_allocations(
                reader.get_allocation_records(), self.name, native=native, top_level=top_level
            )
        finally:
            reader.close()
        return BackendOutput(
            hotspots=builder.hotspots(),
            working=working if working.stages else None,
            profiles=builder.profiles(),
            artifacts=[
                Artifact(
                    kind="memray capture", path=str(path), open_command=shell_command("memray", "flamegraph", path)
                )
            ],
        )


def normalise_allocations(
    records: Iterable[Any], backend: str, *, native: bool = False, top_level: Collection[str] = ()
) -> tuple[HotspotBuilder, WorkingPeaks]:
    """Turn memray allocation records into a builder of bytes (one count per allocation) and the working peaks.

    One pass over the records: each allocation's stack (classified once per stack) is a marker of
    `ragperf.memory.marks`, or bytes for the hotspots and the replay; `top_level` names the
    top-level stages, whose trampolines are not sub-spans.
    """
    builder = HotspotBuilder(backend, "bytes")
    replay = PeakReplay(WORKING_SOURCE)
    stacks: dict[tuple[int, int], _Stack] = {}
    marker_blocks: set[int] = set()
    for record in records:
        allocator = record.allocator
        if allocator in _FREES:
            if record.address in marker_blocks:
                marker_blocks.discard(record.address)
            else:
                replay.free(record.address)
            continue
        if allocator == _MUNMAP:
            replay.unmap(record.address, record.size)
            continue
        key = (record.stack_id, record.native_stack_id if native else 0)
        stack = stacks.get(key)
        if stack is None:
            python = record.stack_trace()
            trace = record.hybrid_stack_trace() if native else python
            stack = stacks[key] = _classify(python, trace, top_level)
        if stack.mark is not None:
            marker_blocks.add(record.address)
            replay.mark(*stack.mark)
            continue
        replay.allocate(record.address, record.size, stack.spans)
        builder.add(
            stack.frames, float(record.size), samples=record.n_allocations, count=record.n_allocations, waiting=False
        )
    return builder, replay.result()


_Trace = tuple[str, str, int]  # memray's (function, file, line)


@dataclass(frozen=True, slots=True)
class _Stack:
    frames: list[Frame]  # root first
    spans: tuple[str, ...]  # the sub-span trampolines on it, outermost first
    mark: tuple[MarkKind, str] | None


def _classify(python: Sequence[_Trace], trace: Sequence[_Trace], top_level: Collection[str]) -> _Stack:
    """`python`: the Python frames (a marker's is the innermost); `trace`: the frames to attribute."""
    # memray lists the innermost frame first; attribution wants the root first.
    frames = [Frame(function, file, line) for function, file, line in reversed(trace)]
    mark = mark_of_frame(*python[0][:2]) if python else None
    if mark is not None:
        return _Stack(frames, (), mark)
    paths = (stage_of_filename(file) for _, file, _ in reversed(python))
    spans = tuple(dict.fromkeys(p for p in paths if p is not None and p not in top_level))
    return _Stack(frames, spans, None)
