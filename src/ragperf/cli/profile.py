"""`ragperf profile`: the seed's one-command full report.

Pipeline profiling (100 queries), memory profiling (3 queries) and leak detection (30
iterations) in sequence under one progress display, then the report and the raw JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ragperf.cli.common import err_console, locate_config, out_console, user_errors
from ragperf.cli.options import NativeFlag, OptionFlag, RateFlag, backend_options
from ragperf.errors import ExitCode, RagperfError
from ragperf.interrupts import exit_code_for, signal_name

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import Console
    from rich.progress import TaskID

    from ragperf.engine.events import Event
    from ragperf.engine.runner import RunOutcome, RunRequest

__all__ = ["PhasedProgress", "profile"]

LEAK_WARMUP = 5  # as 'ragperf leak': the first iterations fill caches and are not a leak


@dataclass(frozen=True)
class _Phase:
    name: str
    request: RunRequest


class PhasedProgress:
    """One display for several runs: an overall bar of phases, and the current phase's queries."""

    def __init__(self, console: Console, phases: list[str]) -> None:
        from ragperf.cli.progress import query_bar

        self._progress = query_bar(console, 24)
        self._phases = phases
        self._overall: TaskID | None = None
        self._current: TaskID | None = None
        self._index = -1
        self._failed = 0

    def __enter__(self) -> PhasedProgress:
        self._progress.start()
        self._overall = self._progress.add_task("full report", total=len(self._phases), note="")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def begin(self, warmup: int, measured: int) -> None:
        """A phase's run is starting: finish the previous bar, open this one."""
        if self._current is not None:
            self._progress.update(self._current, visible=False)
        self._index += 1
        self._failed = 0
        name = self._phases[self._index] if self._index < len(self._phases) else "run"
        label = f"{self._index + 1}/{len(self._phases)} {name}"
        self._current = self._progress.add_task(label, total=measured + warmup, note="setting up")
        if self._overall is not None:
            self._progress.update(self._overall, completed=self._index, note=name)

    def event(self, event: Event) -> None:
        """Advance the current phase on each worker event."""
        from ragperf.engine.events import QueryBatch, Ready, Teardown, Warmup

        if self._current is None:
            return
        if isinstance(event, Ready):
            self._progress.update(self._current, note=f"setup took {event.setup_ms / 1000:.1f} s")
        elif isinstance(event, Warmup):
            self._progress.update(self._current, advance=1, note="warm-up")
        elif isinstance(event, QueryBatch):
            self._failed += len(event.failures)
            failed = f", {self._failed} failed" if self._failed else ""
            self._progress.update(self._current, advance=event.n, note=f"last {event.last_ms:.0f} ms{failed}")
        elif isinstance(event, Teardown):
            self._progress.update(self._current, note="tearing down")

    def done(self) -> None:
        """Every phase has run."""
        if self._overall is not None:
            self._progress.update(self._overall, completed=len(self._phases), note="writing the report")


def _run_phases(phases: list[_Phase], display: PhasedProgress | None) -> tuple[list[RunOutcome], RagperfError | None]:
    """Run the phases in order; an interrupted or failed phase ends the sequence (what ran is kept)."""
    from ragperf.engine.runner import execute

    outcomes: list[RunOutcome] = []
    for phase in phases:
        try:
            outcome = execute(phase.request, display)
        except RagperfError as exc:
            if not outcomes:
                raise
            return outcomes, exc
        except KeyboardInterrupt as exc:
            if not outcomes:
                raise
            stopped = RagperfError(f"interrupted ({signal_name(getattr(exc, 'signum', 2))}) in the {phase.name} phase")
            stopped.exit_code = ExitCode(exit_code_for(exc))
            return outcomes, stopped
        outcomes.append(outcome)
        if outcome.exit_code >= ExitCode.HANGUP:  # a stop signal: the user wants out, not the next phase
            return outcomes, None
    return outcomes, None


@user_errors
def profile(
    config: Annotated[
        Path | None, typer.Argument(help="Pipeline config (TOML). Default: ./ragperf.toml, else the built-in demo.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Report file (.md, .html, .json, .txt).")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Report format (default: from --output).")] = None,
    raw: Annotated[Path | None, typer.Option("--json", help="Raw data (all runs and the roadmap) as JSON.")] = None,
    queries: Annotated[int, typer.Option("--queries", "-n", min=1, help="Measured queries for latency.")] = 100,
    memory_queries: Annotated[int, typer.Option("--memory-queries", min=0, help="Queries for memory (0: skip).")] = 3,
    leak_iterations: Annotated[
        int, typer.Option("--leak-iterations", min=0, help="Leak iterations (0: skip; else at least 5).")
    ] = 30,
    backend: Annotated[
        str | None, typer.Option("--backend", "-b", help="Backend for the latency phase (see 'ragperf backends').")
    ] = None,
    option: OptionFlag = None,
    rate: RateFlag = None,
    native: NativeFlag = None,
    rules: Annotated[
        Path | None,
        typer.Option("--rules", help="TOML file whose report table sets priority thresholds and adds rules."),
    ] = None,
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when any target fails: pipeline, stage, memory, leak (for CI).")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show the progress display.")] = True,
) -> None:
    """Profile latency, memory and leaks in one go, then write the full report and the raw JSON."""
    from ragperf.analysis.verdicts import overall
    from ragperf.cli.report import format_for, load_report_config, write_report
    from ragperf.config import load_config
    from ragperf.engine.runner import RunRequest
    from ragperf.errors import ConfigError
    from ragperf.memory.settings import LeakSettings
    from ragperf.outputs import check_output, file_stamp, safe_name
    from ragperf.renderers.base import assemble

    if 0 < leak_iterations < 5:
        raise ConfigError("--leak-iterations: a trend needs at least 5 iterations; pass 5 or more, or 0 to skip")
    report_config = load_report_config(rules) if rules is not None else None
    config_path = locate_config(config)
    cfg = load_config(config_path)
    stamp = file_stamp()
    # Both outputs are checked before minutes of measuring, not after.
    report_path = output or Path(".ragperf") / "reports" / f"{stamp}-{safe_name(cfg.pipeline.name)}.md"
    report_path = check_output(report_path, what="report", special_ok=True)
    raw_path = check_output(raw or report_path.with_suffix(".json"), what="raw data file", special_ok=True)
    report_format = fmt or format_for(report_path)
    backend_name = backend or cfg.backend.name
    options = backend_options(cfg, backend_name, option, rate=rate, native=native)
    common: dict[str, Any] = {"config": cfg, "config_path": config_path, "stamp": stamp}
    phases = [
        _Phase(
            "latency",
            RunRequest(
                **common,
                backend=backend_name,
                backend_options=options,
                measured=queries,
                warmup=cfg.run.warmup,
            ),
        )
    ]
    if memory_queries:
        request = RunRequest(**common, label="memory", backend="timer", measured=memory_queries, memory=True)
        phases.append(_Phase("memory", request))
    if leak_iterations:
        settings = LeakSettings(snapshot_every=cfg.memory.snapshot_every, frames=cfg.memory.frames)
        leak_request = RunRequest(
            **common,
            backend="timer",
            measured=leak_iterations,
            warmup=max(cfg.run.warmup, LEAK_WARMUP),
            memory=True,
            leak=settings,
        )
        phases.append(_Phase("leak", leak_request))

    if progress:
        with PhasedProgress(err_console, [p.name for p in phases]) as display:
            outcomes, stopped = _run_phases(phases, display)
            display.done()
    else:
        outcomes, stopped = _run_phases(phases, None)

    built = assemble([o.run for o in outcomes], report_config)
    write_report(built, report_format, report_path)
    if raw_path != report_path:
        write_report(built, "json", raw_path)
    for outcome in outcomes:
        out_console.print(f"Run file ({outcome.run.kind}): {outcome.path}")
    out_console.print(f"Report: {report_path}\nRaw data: {raw_path}")
    code = max((int(o.exit_code) for o in outcomes), default=ExitCode.OK)
    if stopped is not None:
        err_console.print(f"ragperf: {stopped}; the report covers the phases measured before it")
        code = max(code, int(stopped.exit_code))
    # The first phase measures latency; the memory and leak phases add their memory targets.
    failed = overall(outcomes[0].run, [o.run for o in outcomes]) == "FAIL"
    if code == ExitCode.OK and gate and failed:
        code = ExitCode.FAILED
    raise typer.Exit(int(code))
