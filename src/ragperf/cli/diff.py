"""`ragperf diff`: compare two run files (or two load files) stage by stage; exit 1 on a regression (a CI gate)."""

from __future__ import annotations

import enum
import io
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ragperf.cli.common import err_console, user_errors
from ragperf.errors import ExitCode
from ragperf.outputs import check_output

if TYPE_CHECKING:
    from ragperf.schema.diff import DiffReport
    from ragperf.schema.run import RunFile

__all__ = [
    "AlphaFlag",
    "DiffFormat",
    "FormatFlag",
    "MinMsFlag",
    "ThresholdFlag",
    "checked_settings",
    "diff",
    "render",
    "show_report",
]

# Piped output (CI logs) has no width of its own; rich's 80 columns would squeeze the table unreadable.
PIPED_WIDTH = 140


class DiffFormat(str, enum.Enum):
    """Output formats of the diff."""

    terminal = "terminal"
    md = "md"
    json = "json"
    html = "html"


ThresholdFlag = Annotated[
    list[str] | None,
    typer.Option(
        "--threshold",
        "-t",
        help="Smallest change that counts, on the p50 (default 5%); METRIC=PCT gates p95, p99 or mean too, "
        "e.g. -t p95=10%. Repeatable.",
    ),
]
MinMsFlag = Annotated[
    float | None,
    typer.Option(
        "--min-ms",
        help="Absolute floor: a stage's p50 must also move by more than this many ms to count as a "
        "regression (default 0.25, or min_ms in the new run's [diff] config table; 0 turns it off), so "
        "sub-millisecond stages are not flagged for jitter.",
        show_default=False,
    ),
]
AlphaFlag = Annotated[
    float, typer.Option("--alpha", help="Significance level, Bonferroni-corrected over every check of the diff.")
]
FormatFlag = Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")]


@user_errors
def diff(
    baseline: Annotated[
        Path,
        typer.Argument(help="Baseline run file (JSON from 'ragperf run', or 'ragperf load').", show_default=False),
    ],
    new: Annotated[
        Path, typer.Argument(help="New file of the same kind to judge against the baseline.", show_default=False)
    ],
    threshold: ThresholdFlag = None,
    min_ms: MinMsFlag = None,
    alpha: AlphaFlag = 0.05,
    output_format: FormatFlag = DiffFormat.terminal,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the diff to this file.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Compare runs of different pipelines anyway.")] = False,
) -> None:
    """Compare two runs (or two load tests): per-stage verdicts with confidence intervals; exit 1 on a regression."""
    from ragperf.analysis.diff import diff_runs
    from ragperf.schema import load_run

    if output is not None:
        output = check_output(output, what="diff output", inputs=(baseline, new), special_ok=True)
    default, per_metric = checked_settings(threshold, alpha, min_ms)
    runs = load_run(baseline), load_run(new)
    report = diff_runs(
        *runs,
        baseline_path=baseline,
        new_path=new,
        threshold=default,
        alpha=alpha,
        metric_thresholds=per_metric,
        min_ms=min_ms,
        force=force,
    )
    show_report(report, output_format, output, runs)
    raise typer.Exit(int(ExitCode.FAILED if report.regressions else ExitCode.OK))


def checked_settings(threshold: list[str] | None, alpha: float, min_ms: float | None) -> tuple[float, dict[str, float]]:
    """The thresholds parsed (default, per metric), once alpha and the floor are checked; a bad one is a usage error."""
    from ragperf.analysis.compare import parse_thresholds

    try:
        default, per_metric = parse_thresholds(threshold or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--threshold'") from None
    if not 0.0 < alpha < 1.0:
        raise typer.BadParameter(f"{alpha} is not in (0, 1); e.g. --alpha 0.05", param_hint="'--alpha'")
    if min_ms is not None and not (math.isfinite(min_ms) and min_ms >= 0):
        raise typer.BadParameter(f"{min_ms} is not a duration >= 0 ms; e.g. --min-ms 1", param_hint="'--min-ms'")
    return default, per_metric


def show_report(
    report: DiffReport, output_format: DiffFormat, output: Path | None, runs: tuple[RunFile, RunFile] | None = None
) -> None:
    """Print the diff in the format asked for; with `output`, the terminal view here and the format in the file.

    `runs`, the two files compared, give the HTML page their distributions and flame graphs.
    """
    if output is None:
        text = render(report, output_format, runs)
        if text is None:
            _print_terminal(report, runs)
        else:
            typer.echo(text, nl=False)
    else:
        # As 'ragperf run' does: the terminal view for the log, the chosen format in the file (a CI summary).
        _print_terminal(report, runs)
        from ragperf.schema.io import atomic_write_text

        atomic_write_text(output, render(report, output_format, runs) or _terminal_text(report, runs))
        err_console.print(f"Diff written to {output}", markup=False)


def render(report: DiffReport, output_format: DiffFormat, runs: tuple[RunFile, RunFile] | None = None) -> str | None:
    """The diff as text in a file format; None for the terminal view."""
    if output_format is DiffFormat.html:
        from ragperf.renderers.diff_content import diff_document
        from ragperf.renderers.html import render_document

        return render_document(diff_document(report, runs))
    if output_format is DiffFormat.json:
        from ragperf.renderers.json_renderer import render_diff_json

        return render_diff_json(report)
    if output_format is DiffFormat.md:
        from ragperf.renderers.markdown import render_diff_markdown

        return render_diff_markdown(report)
    return None


def _print_terminal(report: DiffReport, runs: tuple[RunFile, RunFile] | None) -> None:
    from ragperf.renderers.console import make_console
    from ragperf.renderers.terminal import render_diff_terminal

    render_diff_terminal(report, make_console(width=None if sys.stdout.isatty() else PIPED_WIDTH), runs)


def _terminal_text(report: DiffReport, runs: tuple[RunFile, RunFile] | None) -> str:
    from ragperf.renderers.console import make_console
    from ragperf.renderers.terminal import render_diff_terminal

    buffer = io.StringIO()
    render_diff_terminal(report, make_console(file=buffer, width=PIPED_WIDTH), runs)
    return buffer.getvalue()
