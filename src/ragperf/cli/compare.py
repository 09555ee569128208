"""`ragperf compare`: two pipelines in one run, queries interleaved in blocks; a paired diff, exit 1 on a regression."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ragperf.cli.common import err_console, user_errors
from ragperf.cli.diff import AlphaFlag, DiffFormat, FormatFlag, MinMsFlag, ThresholdFlag, checked_settings
from ragperf.errors import ExitCode

__all__ = ["compare"]


@user_errors
def compare(
    baseline: Annotated[
        Path, typer.Argument(help="Baseline pipeline config (TOML): the code to judge against.", show_default=False)
    ],
    new: Annotated[Path, typer.Argument(help="New pipeline config (TOML): the code to judge.", show_default=False)],
    queries: Annotated[
        int, typer.Option("--queries", "-n", min=1, help="Measured queries per side (cycles through the query set).")
    ] = 200,
    block: Annotated[
        int,
        typer.Option(
            "--block",
            min=1,
            help="Queries per block: the sides alternate block by block (ABBA BAAB ...), and the diff pairs "
            "block b of one side with block b of the other. The default, 1, alternates query by query: the "
            "closer in time the two halves of a pair, the more of the machine's state they share.",
        ),
    ] = 1,
    warmup: Annotated[
        int | None, typer.Option("--warmup", min=0, help="Warm-up queries per side (default: each config's).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Folder for baseline.json, new.json and diff.json (default: a new one under .ragperf/compare).",
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", "-b", help="Profiler backend in both workers: timer, pyinstrument or memray."),
    ] = None,
    threshold: ThresholdFlag = None,
    min_ms: MinMsFlag = None,
    alpha: AlphaFlag = 0.05,
    output_format: FormatFlag = DiffFormat.terminal,
    force: Annotated[
        bool, typer.Option("--force", help="Run two different query sets anyway (each side its own).")
    ] = False,
    cpu_time: Annotated[
        bool,
        typer.Option(
            "--cpu-time/--no-cpu-time",
            help="Each stage's CPU time beside its wall time; the diff reads it for the stages that compute all "
            "through, so preemptions by other processes do not blur their change.",
        ),
    ] = True,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            "-p",
            min=1,
            help="Pairs of workers the pairs are spread over, one pair after the other (default 4, or 1 under a "
            "profiler): two processes of one code differ by a few percent, which more pairs average out.",
        ),
    ] = None,
    cpus: Annotated[
        int,
        typer.Option(
            "--cpus",
            min=0,
            help="Pin both workers to this many CPUs (the last ones), the same for both: they never run at once, "
            "and two CPUs can differ in speed. Raise it for a pipeline that computes on parallel threads; 0: no "
            "pinning.",
        ),
    ] = 1,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
) -> None:
    """Run two pipelines side by side, interleaved in blocks so the machine's drift hits both alike.

    Each config's worker is set up once and stays up; measured queries alternate between the two in
    blocks, the same queries on both sides, in a counterbalanced order. A config's [run] python names
    the interpreter its worker runs with (e.g. another checkout's venv), so one command compares this
    branch against main. Writes both run files and the diff (paired by block), prints the diff, and
    exits like 'ragperf diff': 1 on a regression, 0 otherwise, 2 for unusable input, 128 + the signal
    when interrupted (what was measured is kept).
    """
    from ragperf.analysis.diff import diff_runs
    from ragperf.cli.diff import render, show_report
    from ragperf.cli.progress import CompareProgress
    from ragperf.config import load_config
    from ragperf.engine.compare import CompareRequest, execute_compare
    from ragperf.engine.runner import RunRequest, Silent
    from ragperf.schema.io import atomic_write_text

    default, per_metric = checked_settings(threshold, alpha, min_ms)

    def side(config_path: Path) -> RunRequest:
        cfg = load_config(config_path)
        return RunRequest(
            config=cfg,
            config_path=config_path,
            backend=backend or cfg.backend.name,
            backend_options=dict(cfg.backend.options) if backend in (None, cfg.backend.name) else {},
            measured=queries,
            warmup=cfg.run.warmup if warmup is None else warmup,
            cpu_time=cpu_time,
        )

    request = CompareRequest(
        baseline=side(baseline),
        new=side(new),
        block=block,
        folder=output,
        force=force,
        cpus=cpus,
        processes=processes,
    )
    with CompareProgress(err_console) as display:
        views = display.sides if progress else {}
        outcome = execute_compare(request, {name: views.get(name) or Silent() for name in ("baseline", "new")})
    for warning in outcome.warnings:
        err_console.print(f"ragperf: warning: {warning}", markup=False)
    report = diff_runs(
        outcome.baseline.run,
        outcome.new.run,
        baseline_path=outcome.baseline.path,
        new_path=outcome.new.path,
        threshold=default,
        alpha=alpha,
        metric_thresholds=per_metric,
        min_ms=min_ms,
        force=True,  # the user named both configs: different pipeline names are what they asked to compare
    )
    diff_path = outcome.folder / "diff.json"
    atomic_write_text(diff_path, render(report, DiffFormat.json) or "")
    show_report(report, output_format, None)
    err_console.print(f"Compare written to {outcome.folder} (baseline.json, new.json, diff.json)", markup=False)
    code = outcome.exit_code
    if code >= ExitCode.HANGUP:
        kept = f"{outcome.baseline.run.n_queries} and {outcome.new.run.n_queries}"
        err_console.print(f"ragperf: interrupted; the run files keep the {kept} measured queries", markup=False)
    elif code == ExitCode.OK and report.regressions:
        code = ExitCode.FAILED
    raise typer.Exit(int(code))
