"""The terminal view of a diff: per-path table with coloured verdicts, then notes, hotspots, memory, warnings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from ragperf.renderers.diff_common import (
    correction,
    fmt_change,
    fmt_memory,
    fmt_memory_change,
    fmt_shift,
    headline,
    metric,
    stage_label,
    verdict_notes,
)
from ragperf.renderers.format import fmt_ms, fmt_pct

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from ragperf.schema.diff import DiffReport, StageDiff

__all__ = ["VERDICT_STYLE", "path_table", "render_diff_terminal", "target_table"]

VERDICT_STYLE = {
    "regression": "bold red",
    "improvement": "bold green",
    "unchanged": "green",
    "inconclusive": "bold yellow",
    "too_few": "yellow",
}


def render_diff_terminal(report: DiffReport, console: Console) -> None:
    """Print the diff."""
    if report.load is not None:
        from ragperf.renderers.diff_load_terminal import render_load_diff_terminal

        render_load_diff_terminal(report, report.load, console)
        return
    console.print(
        Text.assemble(
            (report.baseline.pipeline, "bold"),
            f": baseline {report.baseline.path} ({report.baseline.n_queries} queries) "
            f"vs new {report.new.path} ({report.new.n_queries} queries)",
        )
    )
    console.print(_stage_table(report))
    notes = verdict_notes(report)
    for note in notes:
        console.print(Text(note, style="yellow"))
    if report.only_in_baseline or report.only_in_new:
        console.print(
            f"Not compared: only in baseline {list(report.only_in_baseline)}, only in new {list(report.only_in_new)}"
        )
    if report.targets:
        console.print(target_table(report))
    if report.hotspots:
        console.print(_hotspot_table(report))
    if report.memory:
        console.print(_memory_table(report))
    for warning in report.warnings:
        console.print(Text(f"warning: {warning.message}", style="magenta"))
    style = "bold red" if report.regressions else ("bold yellow" if report.inconclusive else "bold green")
    console.print(Text(headline(report), style=style))


def _stage_table(report: DiffReport) -> Table:
    gated = ", ".join(f"{k} {v:.0%}" for k, v in report.metric_thresholds.items())
    title = (
        f"Latency, baseline → new (ms); threshold {report.threshold:.0%} on p50"
        + (f", {gated}" if gated else "")
        + f"; alpha {report.alpha:g}, {correction(report)}"
    )
    return path_table(title, report.stages, report.total)


def path_table(title: str, stages: Sequence[StageDiff], total: StageDiff | None) -> Table:
    """The per-path latency table: one row a stage, the pipeline total last."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    columns = ("stage", "n", "p50", "p95", "p99", "mean", "HL shift [CI]", "p adj", "verdict")
    for column in columns:
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in stages:
        table.add_row(*_cells(stage_label(stage), stage))
    if total is not None:
        table.add_section()
        table.add_row(*_cells("pipeline total", total), style="bold")
    return table


def _cells(name: str, stage: StageDiff) -> list[str | Text]:
    cells: list[str | Text] = [name, f"{stage.n_old}/{stage.n_new}"]
    for name_ in ("p50", "p95", "p99", "mean"):
        m = metric(stage, name_)
        text = f"{fmt_ms(m.old)} → {fmt_ms(m.new)}\n{fmt_change(m.rel_change)}"
        style = VERDICT_STYLE.get(m.verdict or "", "")
        cells.append(Text(text, style=style) if m.verdict in ("regression", "improvement") else text)
    p_adj = "-" if stage.p_adjusted is None else f"{stage.p_adjusted:.3g}"
    cells += [fmt_shift(stage), p_adj, Text(stage.verdict.replace("_", " "), style=VERDICT_STYLE[stage.verdict])]
    return cells


def target_table(report: DiffReport) -> Table:
    """Targets whose PASS/FAIL verdict changed; a rate target's goal is a floor, a latency target's a ceiling."""
    table = Table(title="Targets whose verdict changed", title_justify="left")
    for column in ("target", "goal", "baseline", "new"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for t in report.targets:
        bound = ">=" if t.unit == "qps" else "<"
        goal = "-" if t.target is None else f"{bound} {fmt_ms(t.target)} {t.unit}"
        table.add_row(
            t.name,
            goal,
            f"{fmt_ms(t.old_measured)} {t.old_verdict}",
            Text(f"{fmt_ms(t.new_measured)} {t.new_verdict}", style="bold red" if t.new_verdict == "FAIL" else "green"),
        )
    return table


def _hotspot_table(report: DiffReport) -> Table:
    table = Table(title="Hotspots: functions whose share of their stage moved most", title_justify="left")
    for column in ("stage", "function", "baseline", "new", "change"):
        table.add_column(column, justify="left" if column in ("stage", "function") else "right")
    for h in report.hotspots:
        change = f"{h.change * 100:+.1f} pts"
        table.add_row(
            h.stage,
            f"{h.function} ({h.file}:{h.line})",
            fmt_pct(h.old_share),
            fmt_pct(h.new_share),
            Text(change, style="red" if h.change > 0 else "green"),
        )
    return table


def _memory_table(report: DiffReport) -> Table:
    table = Table(title="Memory", title_justify="left")
    for column in ("figure", "baseline", "new", "change"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for m in report.memory:
        table.add_row(m.name, fmt_memory(m.old, m.old_ci), fmt_memory(m.new, m.new_ci), fmt_memory_change(m))
    return table
