"""The terminal view of a diff: per group, its throughput and per-path tables with coloured verdicts and notes;
then what was not compared, capacity, targets, warnings and the headline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from ragperf.renderers.diff_text import (
    figure_change,
    figure_value,
    fmt_change,
    fmt_ci,
    fmt_memory,
    fmt_memory_change,
    fmt_shift,
    group_title,
    headline,
    method,
    metric,
    not_compared,
    path_label,
    path_notes,
    replication_advice,
    sides,
)
from ragperf.renderers.format import fmt_ms, fmt_pct

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from ragperf.schema.diff import DiffGroup, DiffReport, Figure, HotspotChange, MemoryChange, PathDiff

__all__ = ["render_diff_terminal"]

VERDICT_STYLE = {
    "regression": "bold red",
    "improvement": "bold green",
    "unchanged": "green",
    "inconclusive": "bold yellow",
    "too_few": "yellow",
    "contention": "yellow",
}


def render_diff_terminal(report: DiffReport, console: Console) -> None:
    """Print the diff."""
    under_load = " under load" if report.kind == "load" else ""
    console.print(Text.assemble((report.baseline.pipeline, "bold"), f"{under_load}: {sides(report)}"))
    console.print(Text(method(report), style="dim"))
    for group in report.groups:
        _group(group, report, console)
    for line in (*not_compared(report), *replication_advice(report)):
        console.print(line)
    if report.capacity:
        console.print(_figure_table("Capacity (--find-max, --ramp)", report.capacity))
    if report.targets:
        console.print(_target_table(report))
    for warning in report.warnings:
        console.print(Text(f"warning: {warning.message}", style="magenta"))
    style = "bold red" if report.regressions else ("bold yellow" if report.inconclusive else "bold green")
    console.print(Text(headline(report), style=style))


def _group(group: DiffGroup, report: DiffReport, console: Console) -> None:
    heading = group_title(group)
    if heading is not None:
        console.print()
        console.print(Text(heading, style="bold"))
    if group.figures:
        console.print(_figure_table("Throughput, baseline → new", group.figures))
    console.print(_path_table(group))
    for note in path_notes(group, report):
        console.print(Text(note, style="yellow"))
    if group.hotspots:
        console.print(_hotspot_table(group.hotspots))
    if group.memory:
        console.print(_memory_table(group.memory))


def _path_table(group: DiffGroup) -> Table:
    """The per-path latency table: one row a stage, the pipeline total last."""
    table = Table(title="Latency, baseline → new (ms)", title_justify="left", box=box.SIMPLE_HEAD)
    columns = ("stage", "n", "p50", "p95", "p99", "mean", "shift [CI]", "p adj", "verdict")
    for column in columns:
        table.add_column(column, justify="left" if column == "stage" else "right")
    for path in group.stages:
        table.add_row(*_cells(path_label(path, group), path))
    if group.total is not None:
        table.add_section()
        table.add_row(*_cells(path_label(group.total, group), group.total), style="bold")
    return table


def _cells(name: str, path: PathDiff) -> list[str | Text]:
    cells: list[str | Text] = [name, f"{path.n_old}/{path.n_new}"]
    for name_ in ("p50", "p95", "p99", "mean"):
        m = metric(path, name_)
        text = f"{fmt_ms(m.old)} → {fmt_ms(m.new)}\n{fmt_change(m.rel_change)}"
        style = VERDICT_STYLE.get(m.verdict or "", "")
        cells.append(Text(text, style=style) if m.verdict in ("regression", "improvement") else text)
    p_adj = "-" if path.evidence.p_adjusted is None else f"{path.evidence.p_adjusted:.3g}"
    cells += [fmt_shift(path), p_adj, Text(path.verdict.replace("_", " "), style=VERDICT_STYLE[path.verdict])]
    return cells


def _figure_table(title: str, figures: Sequence[Figure]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("figure", "baseline", "new", "change [CI]", "p adj", "verdict", "why"):
        table.add_column(column, justify="left" if column in ("figure", "why") else "right")
    for figure in figures:
        ci = fmt_ci(figure)
        table.add_row(
            figure.name,
            figure_value(figure, figure.old),
            figure_value(figure, figure.new),
            figure_change(figure) + (f"\n{ci}" if ci else ""),
            "-" if figure.p_adjusted is None else f"{figure.p_adjusted:.3g}",
            Text(figure.verdict.replace("_", " "), style=VERDICT_STYLE[figure.verdict]),
            figure.note or "",
        )
    return table


def _target_table(report: DiffReport) -> Table:
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


def _hotspot_table(hotspots: Sequence[HotspotChange]) -> Table:
    table = Table(title="Hotspots: functions whose share of their stage moved most", title_justify="left")
    for column in ("stage", "function", "baseline", "new", "change"):
        table.add_column(column, justify="left" if column in ("stage", "function") else "right")
    for h in hotspots:
        change = f"{h.change * 100:+.1f} pts"
        table.add_row(
            h.stage,
            f"{h.function} ({h.file}:{h.line})",
            fmt_pct(h.old_share),
            fmt_pct(h.new_share),
            Text(change, style="red" if h.change > 0 else "green"),
        )
    return table


def _memory_table(memory: Sequence[MemoryChange]) -> Table:
    table = Table(title="Memory", title_justify="left")
    for column in ("figure", "baseline", "new", "change"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for m in memory:
        table.add_row(m.name, fmt_memory(m.old, m.old_ci), fmt_memory(m.new, m.new_ci), fmt_memory_change(m))
    return table
