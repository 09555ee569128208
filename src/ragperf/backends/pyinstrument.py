"""pyinstrument in the worker: a wall-clock statistical profile of the measured queries.

pyinstrument samples the thread that starts it (the worker's main thread): stages that run there
(sequential stages, async stages) get function-level detail; sub-stages on the fan-out thread
pool show up as the main thread waiting for them. Its session keeps the raw stacks
(`frame_records`: each a stack and the wall time it held), which are normalised here without
pyinstrument's display processors, so nothing under 1% is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends.attribution import Frame, HotspotBuilder
from ragperf.backends.base import Backend, BackendOutput, OptionSpec, missing_profile, require_module, shell_command
from ragperf.schema.run import Artifact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ragperf.schema.run import StageInfo

__all__ = ["PyinstrumentBackend", "normalise_session"]

SESSION_FILE = "pyinstrument.pyisession"
_IDENTIFIER_SEP, _ATTRIBUTES_SEP = "\x00", "\x01"


class PyinstrumentBackend(Backend):
    """Wall-clock call stacks sampled inside the worker by pyinstrument."""

    name = "pyinstrument"
    summary = "wall-clock call stacks per stage (in the worker; waits visible as blocking calls)"
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {
        "rate": OptionSpec(int, 1000, "samples per second (pyinstrument's interval = 1/rate)"),
        "async_mode": OptionSpec(str, "enabled", "pyinstrument async_mode: enabled, disabled or strict"),
    }

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._profiler: Any = None
        self._artifacts: Path | None = None

    def check_available(self) -> None:
        """pyinstrument must import in this interpreter (the worker's)."""
        require_module("pyinstrument", "pyinstrument")

    def start(self, artifacts: Path) -> None:
        """Start sampling the worker's main thread."""
        from pyinstrument import Profiler

        self._artifacts = artifacts
        self._profiler = Profiler(
            interval=1.0 / max(1, int(self.options["rate"])), async_mode=self.options["async_mode"]
        )
        self._profiler.start()

    def stop(self) -> None:
        """Stop and save the session beside the run file."""
        if self._profiler is None or self._artifacts is None:
            return
        session = self._profiler.stop()
        session.save(str(self._artifacts / SESSION_FILE))
        self._profiler = None

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:  # noqa: ARG002 - stack frames name the stages
        """Load the saved session and attribute its stacks to stages."""
        path = artifacts / SESSION_FILE
        if not path.exists():
            return missing_profile(self.name, path)
        from pyinstrument.session import Session

        session = Session.load(str(path))
        builder = normalise_session(session.frame_records, session.min_interval, self.name)
        return BackendOutput(
            hotspots=builder.hotspots(),
            profiles=builder.profiles(),
            warnings=[*builder.sample_warnings(), *builder.unseen_thread_warnings()],
            artifacts=[
                Artifact(
                    kind="pyinstrument session",
                    path=str(path),
                    open_command=shell_command("pyinstrument", f"--load={path}"),
                )
            ],
        )


def normalise_session(records: list[tuple[list[str], float]], interval: float, backend: str) -> HotspotBuilder:
    """Turn pyinstrument frame records (stack of frame-info strings, seconds) into a builder in ms."""
    builder = HotspotBuilder(backend, "ms")
    for stack, seconds in records:
        frames = [frame for frame in (_parse(info) for info in stack) if frame is not None]
        # pyinstrument merges consecutive identical samples into one record; give back the count.
        samples = max(1, round(seconds / interval)) if interval > 0 else 1
        builder.add(frames, seconds * 1000.0, samples=samples)
    return builder


def _parse(info: str) -> Frame | None:
    """`function\\0file\\0defline[\\1attr...]` → Frame with the executing line (attribute `l`)."""
    identifier, _, attributes = info.partition(_ATTRIBUTES_SEP)
    parts = identifier.split(_IDENTIFIER_SEP)
    if len(parts) != 3 or parts[1] == "<thread>":  # the thread's pseudo-frame at the root
        return None
    function, file, def_line = parts
    line = int(def_line) if def_line.isdigit() else 0
    for attribute in attributes.split(_ATTRIBUTES_SEP) if attributes else ():
        if attribute.startswith("l") and attribute[1:].isdigit():
            line = int(attribute[1:])
    return Frame(function, file, line)
