"""`ragperf leak`: run one query per iteration, gc between, fit the memory trend, name the growing stage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ragperf.cli.common import err_console, locate_config, out_console, user_errors
from ragperf.errors import ExitCode

__all__ = ["leak"]

MIN_LEAK_WARMUP = 5


@user_errors
def leak(
    config: Annotated[
        Path | None, typer.Argument(help="Pipeline config (TOML). Default: ./ragperf.toml, else the built-in demo.")
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option(
            "--iterations", "-n", min=5, help="Iterations, one query each (default: [memory] iterations, 50)."
        ),
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option(
            "--warmup",
            min=0,
            help=f"Iterations run first and discarded (default: run.warmup, at least {MIN_LEAK_WARMUP}).",
        ),
    ] = None,
    snapshot_every: Annotated[
        int | None,
        typer.Option(
            "--snapshot-every", min=0, help="Iterations between tracemalloc snapshots (0: no allocation sites)."
        ),
    ] = None,
    frames: Annotated[
        int | None, typer.Option("--frames", min=1, help="tracemalloc frames kept (enough to reach the stage).")
    ] = None,
    min_slope: Annotated[
        float | None,
        typer.Option("--min-slope", min=0.0001, help="MB/iter under which growth counts as noise (default 0.01)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Leak file to write (JSON).")] = None,
    gate: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when the leak or a memory target fails (for CI).")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
) -> None:
    """Find memory that grows with every query: trend with a confidence interval, the stage, the sites."""
    from rich.text import Text

    from ragperf.analysis.verdicts import overall
    from ragperf.cli.progress import RunProgress
    from ragperf.config import load_config
    from ragperf.engine.runner import RunRequest, execute
    from ragperf.memory.settings import LeakSettings
    from ragperf.renderers.terminal import render_memory

    config_path = locate_config(config)
    cfg = load_config(config_path)
    settings = LeakSettings(
        snapshot_every=cfg.memory.snapshot_every if snapshot_every is None else snapshot_every,
        frames=frames or cfg.memory.frames,
        min_slope=min_slope or cfg.memory.min_leak_mb_per_iter,
    )
    request = RunRequest(
        config=cfg,
        config_path=config_path,
        output=output,
        backend="timer",
        measured=iterations or cfg.memory.iterations,
        warmup=max(cfg.run.warmup, MIN_LEAK_WARMUP) if warmup is None else warmup,
        memory=True,
        leak=settings,
    )
    if progress:
        with RunProgress(err_console) as display:
            outcome = execute(request, display)
    else:
        outcome = execute(request)
    run = outcome.run
    out_console.print(Text.assemble((run.pipeline, "bold"), f": leak check, {len(run.queries)} iterations"))
    render_memory(run, out_console)
    out_console.print(f"Leak file: {outcome.path}")
    code = outcome.exit_code
    if code == ExitCode.OK and gate and overall(None, [run]) == "FAIL":
        code = ExitCode.FAILED
    raise typer.Exit(int(code))
