"""memray in the worker: every allocation of the measured queries, attributed to its stage.

One `memray.Tracker` is opened just before the first measured query and closed after the last,
writing every allocation (file format ALL_ALLOCATIONS) to a `.bin` beside the run file. Hotspots
are the bytes and the number of allocations each function made per stage (a function's self value
is what it allocated directly, its total what it and its callees allocated). Without
`trace_python_allocators` small Python objects (pymalloc's arenas) are invisible; with it they
are seen at several times the cost.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends.attribution import Frame, HotspotBuilder
from ragperf.backends.base import Backend, BackendOutput, OptionSpec, missing_profile, require_module, shell_command
from ragperf.errors import BackendUnavailable
from ragperf.schema.run import Artifact

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from ragperf.schema.run import StageInfo

__all__ = ["MemrayBackend", "normalise_allocations"]

CAPTURE_FILE = "memray.bin"
# memray's deallocators (AllocatorType): PYMALLOC_FREE, FREE, MUNMAP. Everything else allocates.
_DEALLOCATORS = frozenset({1, 5, 15})


class MemrayBackend(Backend):
    """Allocations with their stacks, recorded inside the worker by memray."""

    name = "memray"
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

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:  # noqa: ARG002 - stack frames name the stages
        """Read every allocation record and attribute it to its stage."""
        path = artifacts / CAPTURE_FILE
        if not path.exists():
            return missing_profile(self.name, path)
        from memray import FileReader

        reader = FileReader(path)
        try:
            native = bool(reader.metadata.has_native_traces)
            builder = normalise_allocations(reader.get_allocation_records(), self.name, native=native)
        finally:
            reader.close()
        return BackendOutput(
            hotspots=builder.hotspots(),
            profiles=builder.profiles(),
            artifacts=[
                Artifact(
                    kind="memray capture", path=str(path), open_command=shell_command("memray", "flamegraph", path)
                )
            ],
        )


def normalise_allocations(records: Iterable[Any], backend: str, *, native: bool = False) -> HotspotBuilder:
    """Turn memray allocation records into a builder of bytes (one count per allocation)."""
    builder = HotspotBuilder(backend, "bytes")
    stacks: dict[tuple[int, int], list[Frame]] = {}
    for record in records:
        if record.allocator in _DEALLOCATORS:
            continue
        key = (record.stack_id, record.native_stack_id if native else 0)
        stack = stacks.get(key)
        if stack is None:
            trace = record.hybrid_stack_trace() if native else record.stack_trace()
            # memray lists the innermost frame first; attribution wants the root first.
            stack = stacks[key] = [Frame(function, file, line) for function, file, line in reversed(trace)]
        builder.add(stack, float(record.size), samples=record.n_allocations, count=record.n_allocations, waiting=False)
    return builder
