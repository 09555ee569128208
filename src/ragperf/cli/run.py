"""`ragperf run`: profile a pipeline over a query set and write the run file."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from ragperf.cli.common import err_console, locate_config, out_console, user_errors
from ragperf.cli.options import NativeFlag, OptionFlag, RateFlag, backend_options
from ragperf.errors import ExitCode

__all__ = ["run"]

INTENSIVE_QUERIES = 100


class Mode(str, enum.Enum):
    """The seed's two modes: one query, or enough queries for p95/p99."""

    single = "single"
    intensive = "intensive"


@user_errors
def run(
    config: Annotated[
        Path | None, typer.Argument(help="Pipeline config (TOML). Default: ./ragperf.toml, else the built-in demo.")
    ] = None,
    backend: Annotated[
        str | None, typer.Option("--backend", "-b", help="Profiler backend (see 'ragperf backends').")
    ] = None,
    option: OptionFlag = None,
    rate: RateFlag = None,
    native: NativeFlag = None,
    queries: Annotated[
        int | None, typer.Option("--queries", "-n", min=1, help="Measured queries (cycles through the query set).")
    ] = None,
    warmup: Annotated[
        int | None, typer.Option("--warmup", min=0, help="Warm-up queries run first, not measured.")
    ] = None,
    query: Annotated[str | None, typer.Option("--query", help="Profile this one query text.")] = None,
    mode: Annotated[Mode | None, typer.Option("--mode", help="single: one query; intensive: 100 queries.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Run file to write (JSON).")] = None,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Stop at the first query that fails.")] = False,
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when any target fails, stage targets included (for CI).")
    ] = False,
    memory: Annotated[
        bool | None,
        typer.Option("--memory/--no-memory", help="RSS, heap and peak per stage (default: [memory] enabled)."),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    cpu_time: Annotated[
        bool,
        typer.Option("--cpu-time", help="Each stage's CPU time beside its wall time (about 1.5 µs a stage call)."),
    ] = False,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            "-p",
            min=1,
            help="Share the measured queries out over K worker processes, one after the other (each set up "
            "anew), so 'ragperf diff' judges the variation between processes, not only between queries.",
        ),
    ] = 1,
) -> None:
    """Run the pipeline's queries in a worker process, per-stage timed and profiled."""
    from ragperf.analysis.verdicts import overall
    from ragperf.cli.progress import RunProgress
    from ragperf.config import load_config
    from ragperf.engine.runner import RunRequest, execute
    from ragperf.renderers.terminal import render_run

    config_path = locate_config(config)
    cfg = load_config(config_path)
    measured = queries or (1 if query is not None or mode is Mode.single else None)
    measured = measured or (INTENSIVE_QUERIES if mode is Mode.intensive else cfg.run.queries)
    backend_name = backend or cfg.backend.name
    options = backend_options(cfg, backend_name, option, rate=rate, native=native)
    request = RunRequest(
        config=cfg,
        config_path=config_path,
        output=output,
        backend=backend_name,
        backend_options=options,
        measured=measured,
        warmup=cfg.run.warmup if warmup is None else warmup,
        query_text=query,
        fail_fast=fail_fast,
        memory=cfg.memory.enabled if memory is None else memory,
        cpu_time=cpu_time,
        processes=processes,
    )
    if progress:
        with RunProgress(err_console) as display:
            outcome = execute(request, display)
    else:
        outcome = execute(request)
    render_run(outcome.run, out_console)
    for artifact in outcome.run.artifacts:
        opener = f": open with {artifact.open_command}" if artifact.open_command else ""
        out_console.print(f"{artifact.kind}: {artifact.path}{opener}")
    out_console.print(f"Run file: {outcome.path}")
    if outcome.exit_code >= ExitCode.HANGUP:
        err_console.print(f"ragperf: interrupted; the run file keeps the {len(outcome.run.queries)} measured queries")
    code = outcome.exit_code
    if code == ExitCode.OK and gate and overall(outcome.run, [outcome.run]) == "FAIL":
        code = ExitCode.FAILED
    raise typer.Exit(int(code))
