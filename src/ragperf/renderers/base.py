"""What every renderer receives (a Report) and the small interface a renderer implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ragperf.errors import RunFileError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from ragperf.analysis.roadmap import Roadmap
    from ragperf.report_rules import ReportConfig
    from ragperf.schema.memory import MemoryReport
    from ragperf.schema.run import RunFile

__all__ = ["Renderer", "Report", "assemble"]


@dataclass(frozen=True, slots=True)
class Report:
    """The files a report covers (at most one of each kind) and the roadmap derived from the run."""

    run: RunFile | None
    leak: RunFile | None = None
    load: RunFile | None = None
    roadmap: Roadmap | None = None
    memory_run: RunFile | None = None  # a short `ragperf run --memory`, beside a latency run without memory
    base: Path | None = None  # the folder the report is written to: links to native files are relative to it

    @property
    def files(self) -> tuple[RunFile, ...]:
        """The run files present, in a fixed order."""
        return tuple(f for f in (self.run, self.memory_run, self.leak, self.load) if f is not None)

    @property
    def named_files(self) -> tuple[tuple[str, RunFile], ...]:
        """The files present, each with what it is for a reader."""
        named = (
            ("run", self.run),
            ("memory run", self.memory_run),
            ("leak check", self.leak),
            ("load test", self.load),
        )
        return tuple((name, f) for name, f in named if f is not None)

    @property
    def memory(self) -> MemoryReport | None:
        """Per-stage memory, from the run itself or from the memory run beside it."""
        return next((f.memory for f in (self.memory_run, self.run) if f is not None and f.memory is not None), None)

    @property
    def title(self) -> str:
        """The pipeline's name, from whichever file is present."""
        return self.files[0].pipeline if self.files else "ragperf"


class Renderer:
    """An output format: a name, a file extension, and one method that turns a Report into text."""

    name: ClassVar[str]
    description: ClassVar[str]
    extension: ClassVar[str]

    def render(self, report: Report) -> str:
        """The whole report as text in this format."""
        raise NotImplementedError


def assemble(files: Sequence[RunFile], config: ReportConfig | None = None, *, force: bool = False) -> Report:
    """A report of at most one run, one leak and one load file of one pipeline (unless `force`), with its roadmap."""
    from ragperf.analysis.roadmap import build_roadmap

    pipelines = {f.pipeline: f.kind for f in files}
    if len(pipelines) > 1 and not force:
        named = " and ".join(f"'{name}' ({kind} file)" for name, kind in pipelines.items())
        msg = f"the files are of different pipelines: {named}; report one pipeline's files, or pass --force"
        raise RunFileError(msg)
    by_kind: dict[str, RunFile] = {}
    memory_run = None
    for f in files:
        other = by_kind.get(f.kind)
        if other is not None and f.kind == "run" and memory_run is None and _read_memory(f) != _read_memory(other):
            # A latency run and a short memory run of the same pipeline, as 'ragperf profile' writes.
            memory_run = f if _read_memory(f) else other
            by_kind["run"] = other if _read_memory(f) else f
            continue
        if other is not None:
            msg = (
                f"two {f.kind} files given; pass at most one of each kind (a second run only when one of the "
                "two measured memory), and use 'ragperf diff' to compare runs"
            )
            raise RunFileError(msg)
        by_kind[f.kind] = f
    run = by_kind.get("run")
    leak = by_kind["leak"].leak if "leak" in by_kind else None
    roadmap = build_roadmap(run, config, leak) if run is not None or leak is not None else None
    return Report(run=run, leak=by_kind.get("leak"), load=by_kind.get("load"), roadmap=roadmap, memory_run=memory_run)


def _read_memory(f: RunFile) -> bool:
    """Whether the run read the process's memory (--memory): a profiler's working peaks alone (memray) do not."""
    return f.memory is not None and bool(f.memory.series)
