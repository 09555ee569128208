"""`ragperf load`: open-loop load on the pipeline, per stage; a fixed rate, a ramp, or --find-max."""

from __future__ import annotations

import enum
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragperf.cli.common import err_console, locate_config, out_console, user_errors
from ragperf.errors import ConfigError, ExitCode
from ragperf.load.limits import check_budget, check_duration, check_lanes, check_rate, check_workers

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["load"]

DEFAULT_QPS = 10.0


class ArrivalKind(str, enum.Enum):
    """How arrivals are spaced: evenly, or as a Poisson process."""

    constant = "constant"
    poisson = "poisson"


class Engine(str, enum.Enum):
    """Who generates the load: ragperf's own workers, or Locust's runners."""

    ragperf = "ragperf"
    locust = "locust"


class _Display:
    """Live rate and p95 of the running step (stderr)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._rate = 0.0
        self._start = 0.0

    def step_started(self, step: int, rate: float, duration_s: float) -> None:
        import time

        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
        self._rate, self._start = rate, time.monotonic()
        self._task = self._progress.add_task(f"step {step}: {rate:g} qps", total=int(rate * duration_s), note="")

    def update(self, completed: int, errors: int, p95_ms: float | None) -> None:
        import time

        if self._task is None:
            return
        elapsed = max(1e-9, time.monotonic() - self._start)
        p95 = "-" if p95_ms is None else f"{p95_ms:.1f} ms"
        note = f"rate {completed / elapsed:.1f} qps, p95 {p95}" + (f", {errors} errors" if errors else "")
        self._progress.update(self._task, completed=completed, note=note)


class _Quiet:
    def step_started(self, step: int, rate: float, duration_s: float) -> None:
        pass

    def update(self, completed: int, errors: int, p95_ms: float | None) -> None:
        pass


@user_errors
def load(
    config: Annotated[
        Path | None, typer.Argument(help="Pipeline config (TOML). Default: ./ragperf.toml, else the built-in demo.")
    ] = None,
    qps: Annotated[
        float | None,
        typer.Option(
            "--qps", help="Offered rate (queries/s, at most 1e9); --find-max starts here (default: from the warm-up)."
        ),
    ] = None,
    duration: Annotated[
        float, typer.Option("--duration", help="Seconds per rate step (longer if needed for 50 arrivals).")
    ] = 10.0,
    arrival: Annotated[ArrivalKind, typer.Option("--arrival", help="Arrival process.")] = ArrivalKind.poisson,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: CPU count; at most 2 per CPU, then use -c)."),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", "-c", help="Queries in flight per worker (threads; for I/O-bound stages)."),
    ] = 1,
    warmup: Annotated[int | None, typer.Option("--warmup", help="Warm-up queries per worker.")] = None,
    find_max: Annotated[
        bool, typer.Option("--find-max", help="Step the rate up to find the highest that holds the p95 target.")
    ] = False,
    ramp: Annotated[str | None, typer.Option("--ramp", help="Rates START:STOP:STEP, one step each.")] = None,
    max_qps: Annotated[float, typer.Option("--max-qps", help="Ceiling for --find-max.")] = 100_000.0,
    error_budget: Annotated[
        float, typer.Option("--error-budget", help="Largest error rate a step may have (0 to 1).")
    ] = 0.01,
    engine: Annotated[Engine, typer.Option("--engine", help="ragperf workers, or Locust runners.")] = Engine.ragperf,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Load file to write (JSON).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Allow --duration over an hour.")] = False,
    gate: Annotated[bool, typer.Option("--gate", help="Exit 1 when a throughput target fails.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show live rate and p95.")] = True,
) -> None:
    """Offer queries at a fixed rate (open loop) and measure every stage under load."""
    from ragperf.config import load_config
    from ragperf.load.findmax import parse_ramp
    from ragperf.load.runner import LoadRequest, execute_load
    from ragperf.renderers.terminal import render_load

    workers = _check_numbers(qps, duration, workers, concurrency, warmup, max_qps, error_budget, force=force)
    if find_max and ramp is not None:
        raise ConfigError("give --find-max or --ramp, not both")
    config_path = locate_config(config)
    cfg = load_config(config_path)
    if engine is Engine.locust:
        if find_max or ramp is not None:
            raise ConfigError("--find-max and --ramp need the ragperf engine; drop --engine locust")
        from ragperf.load.locust_run import run_locust
        from ragperf.schema import load_run

        path, stopped = run_locust(
            config_path,
            output,
            qps,
            duration,
            workers,
            cfg.run.warmup if warmup is None else warmup,
        )
        render_load(load_run(path), out_console)
        out_console.print(f"Load file: {path}")
        if stopped is not None:
            raise stopped
        raise typer.Exit(int(ExitCode.OK))
    if ramp is not None:
        rates: tuple[float, ...] = tuple(parse_ramp(ramp))
    elif find_max:
        rates = () if qps is None else (qps,)  # no --qps: start from the warm-up's estimate
    else:
        rates = (check_rate("--qps", qps or cfg.targets.sustained_qps or DEFAULT_QPS),)
    stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
    request = LoadRequest(
        config=cfg,
        config_path=config_path,
        output=output or Path(".ragperf") / "runs" / f"{stamp}-{cfg.pipeline.name}-load.json",
        rates=rates,
        find_max=find_max,
        duration_s=duration,
        arrival=arrival.value,
        workers=workers,
        warmup=cfg.run.warmup if warmup is None else warmup,
        error_budget=error_budget,
        max_rate=max_qps,
        concurrency=concurrency,
    )
    if progress:
        from ragperf.cli.progress import query_bar

        bar = query_bar(err_console, 0, eta=False)
        with bar:
            outcome = execute_load(request, _Display(bar))
    else:
        outcome = execute_load(request, _Quiet())
    render_load(outcome.run, out_console)
    out_console.print(f"Load file: {outcome.path}")
    if outcome.stopped is not None:
        raise outcome.stopped  # one line and the exit code it calls for (3 for a failure, 128+signal)
    report = outcome.run.load
    failed = gate and report is not None and any(v.verdict == "FAIL" for v in report.verdicts)
    raise typer.Exit(int(ExitCode.FAILED if failed else ExitCode.OK))


def _check_numbers(
    qps: float | None,
    duration: float,
    workers: int | None,
    lanes: int,
    warmup: int | None,
    max_qps: float,
    error_budget: float,
    *,
    force: bool,
) -> int:
    """Refuse a number the test cannot honour before anything starts; return the worker count to use."""
    if qps is not None:
        check_rate("--qps", qps)
    check_rate("--max-qps", max_qps)
    check_duration(duration, force=force)
    check_budget(error_budget)
    check_lanes(lanes)
    if warmup is not None and warmup < 0:
        raise ConfigError(f"--warmup {warmup}: need 0 or more warm-up queries")
    return check_workers(os.cpu_count() or 1 if workers is None else workers)
