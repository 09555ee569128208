"""The terminal report: the run summary of `ragperf run`, then the roadmap and quick wins (rich)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.blocks import Block, memory_blocks
from ragperf.renderers.console import make_console, verdict_text
from ragperf.renderers.format import fmt_pct
from ragperf.renderers.sections import PRIORITY_TITLES, character_text, executive_lines, headline, largest_text
from ragperf.renderers.terminal import render_run
from ragperf.renderers.terminal_load import render_load
from ragperf.renderers.terminal_memory import render_memory

if TYPE_CHECKING:
    from rich.console import Console

    from ragperf.analysis.roadmap import LeakItem, Roadmap, RoadmapItem

__all__ = ["WIDTH", "TerminalRenderer"]

WIDTH = 100  # when written to a file: a width that fits a laptop terminal
_PRIORITY_STYLE = {"P0": "bold red", "P1": "yellow", "P2": "dim"}


class TerminalRenderer(Renderer):
    """Rich tables for a terminal; plain text at a fixed width when written to a file."""

    name = "terminal"
    description = "rich tables for the terminal (the default)"
    extension = ".txt"

    def render(self, report: Report) -> str:
        """The report as plain text, WIDTH columns wide."""
        buffer = io.StringIO()
        self.print(report, make_console(file=buffer, width=WIDTH))
        return buffer.getvalue()

    def print(self, report: Report, console: Console) -> None:
        """Print the report to a console (colours when it is a terminal)."""
        console.print(headline(report).replace("**", ""), soft_wrap=False)
        console.print(_executive(report))
        if report.run is not None:
            render_run(report.run, console)  # with the run's own memory section, when it measured memory
        # The memory run and the leak check print as 'ragperf run --memory' and 'ragperf leak' do.
        for extra in (report.memory_run, report.leak):
            if extra is not None:
                render_memory(extra, console)
        if not any(f.memory is not None or f.leak is not None for f in report.files):
            _print_blocks("Memory", memory_blocks(report), console)
        if report.load is not None:
            render_load(report.load, console)
        if report.roadmap is not None:
            _print_roadmap(report.roadmap, console)


def _print_blocks(section: str, blocks: list[Block], console: Console) -> None:
    for block in blocks:
        console.print(Text(f"{section}: {block.title}", style="bold"))
        for sentence in block.text:
            console.print(sentence)
        if block.header:
            table = Table()
            for i, column in enumerate(block.header):
                table.add_column(column, justify="left" if i < block.text_columns else "right")
            for row in block.rows:
                table.add_row(*row)
            console.print(table)


def _executive(report: Report) -> Table:
    table = Table(title="Executive summary", title_justify="left")
    for column in ("check", "target", "measured", "verdict"):
        table.add_column(column, justify="left" if column == "check" else "right")
    for check, target, measured, verdict in executive_lines(report):
        table.add_row(check, target, measured, verdict_text(verdict))
    return table


def _print_roadmap(roadmap: Roadmap, console: Console) -> None:
    if not roadmap.items and roadmap.leak is None:
        console.print("Optimisation roadmap: nothing to fix (no stage was a bottleneck or over its target).")
        return
    table = Table(title="Optimisation roadmap", title_justify="left", show_lines=True)
    table.add_column("prio")
    table.add_column("stage")
    table.add_column("evidence", ratio=2)
    table.add_column("advice", ratio=3)
    order = {"P0": 0, "P1": 1, "P2": 2}
    rows = [(order[item.priority], 1, _item_row(item)) for item in roadmap.items]
    if roadmap.leak is not None:
        rows.append((order[roadmap.leak.priority], 0, _leak_row(roadmap.leak)))
    for _, _, cells in sorted(rows, key=lambda r: (r[0], r[1])):
        table.add_row(*cells)
    console.print(table)
    if roadmap.quick_wins:
        console.print(Text("Quick wins", style="bold"))
        for win, rule, text in roadmap.quick_wins:
            console.print(f"- [{win.priority} {win.stage}] {rule.title}: {text}")


def _prio(priority: str) -> Text:
    return Text(f"{priority}\n{PRIORITY_TITLES[priority]}", style=_PRIORITY_STYLE[priority])


def _item_row(item: RoadmapItem) -> list[str | Text]:
    e = item.evidence
    evidence = [
        f"{fmt_pct(e.fraction)} of queries affected",
        f"{largest_text(e)}, over target in {e.over_target_queries}",
        f"share {fmt_pct(e.share)}; {character_text(e)}",
    ]
    if e.hotspots:
        evidence.append("top: " + ", ".join(h.function for h in e.hotspots[:2]))
    advice = "\n".join(f"- {rule.title}" for rule, _ in item.advice)
    stage = ("↳ " if item.depth else "") + item.stage
    return [_prio(item.priority), f"{stage}\n({item.kind})", "\n".join(evidence), advice]


def _leak_row(leak: LeakItem) -> list[str | Text]:
    slope = "-" if leak.slope is None else f"{leak.slope:+.3f}"
    target = "" if leak.target is None else f" (target {leak.target:g}: {leak.verdict})"
    evidence = f"memory grows {slope} MB per query{target}" + (f"\nsite: {leak.site}" if leak.site else "")
    advice = "\n".join(f"- {rule.title}" for rule, _ in leak.advice)
    return [_prio(leak.priority), f"{leak.stage}\n({leak.kind})", evidence, advice]
