"""The terminal view of a load diff: per offered rate, throughput then latency per stage; then capacity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from ragperf.renderers.diff_common import fmt_change, path_notes
from ragperf.renderers.diff_load_common import figure_change, figure_value, load_headline, method, step_title
from ragperf.renderers.diff_terminal import VERDICT_STYLE, path_table, target_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from ragperf.schema.diff import DiffReport, LoadDiff, LoadFigure

__all__ = ["render_load_diff_terminal"]


def render_load_diff_terminal(report: DiffReport, load: LoadDiff, console: Console) -> None:
    """Print a diff of two load files."""
    console.print(
        Text.assemble(
            (report.baseline.pipeline, "bold"),
            f" under load: baseline {report.baseline.path} ({report.baseline.n_queries} queries) "
            f"vs new {report.new.path} ({report.new.n_queries} queries)",
        )
    )
    console.print(Text(method(report, load), style="dim"))
    for step in load.steps:
        console.print()
        console.print(Text(step_title(step), style="bold"))
        console.print(_figure_table("Throughput, baseline → new", step.figures))
        console.print(path_table("Latency under load, baseline → new (ms)", step.stages, step.total))
        for note in path_notes(step.stages, step.total):
            console.print(Text(note, style="yellow"))
    if report.only_in_baseline or report.only_in_new:
        console.print(
            f"Stages not compared: only in baseline {list(report.only_in_baseline)}, "
            f"only in new {list(report.only_in_new)}"
        )
    if load.only_in_baseline_qps or load.only_in_new_qps:
        console.print(
            f"Rates not compared: only in baseline {_rates(load.only_in_baseline_qps)}, "
            f"only in new {_rates(load.only_in_new_qps)}"
        )
    if load.capacity:
        console.print(_figure_table("Capacity (--find-max, --ramp)", load.capacity))
    if report.targets:
        console.print(target_table(report))
    for warning in report.warnings:
        console.print(Text(f"warning: {warning.message}", style="magenta"))
    style = "bold red" if report.regressions else ("bold yellow" if report.inconclusive else "bold green")
    console.print(Text(load_headline(report), style=style))


def _rates(rates: Sequence[float]) -> str:
    return "[" + ", ".join(f"{r:g}" for r in rates) + "]"


def _figure_table(title: str, figures: Sequence[LoadFigure]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("figure", "baseline", "new", "change [CI]", "p adj", "verdict", "why"):
        table.add_column(column, justify="left" if column in ("figure", "why") else "right")
    for figure in figures:
        table.add_row(
            figure.name,
            figure_value(figure, figure.old),
            figure_value(figure, figure.new),
            figure_change(figure) + _ci(figure),
            "-" if figure.p_adjusted is None else f"{figure.p_adjusted:.3g}",
            Text(figure.verdict.replace("_", " "), style=VERDICT_STYLE[figure.verdict]),
            figure.note or "",
        )
    return table


def _ci(figure: LoadFigure) -> str:
    if figure.ci is None:
        return ""
    if figure.unit == "fraction":
        return f"\n[{figure.ci[0] * 100:+.2f}, {figure.ci[1] * 100:+.2f}]"
    return f"\n[{fmt_change(figure.ci[0])}, {fmt_change(figure.ci[1])}]"
