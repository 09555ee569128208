"""The terminal layout (rich): the content model as tables and lines that fit any width.

A table wider than the terminal first takes its columns' short names (a legend under it says
what they mean), then folds: the columns that do not fit go into a second table that repeats the
first column. No column is dropped, and numbers and commands are never split across lines.
Charts have no terminal form, except flame graphs (their hottest path) and lines (a sparkline).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich import box
from rich.measure import Measurement
from rich.table import Table as RichTable
from rich.text import Text

from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.compose import compose, run_summary
from ragperf.renderers.compose_files import load_section, memory_section
from ragperf.renderers.console import make_console
from ragperf.renderers.content import (
    Bars,
    Card,
    Document,
    Flame,
    Histogram,
    Intervals,
    LineChart,
    Links,
    ListBlock,
    Para,
    Section,
    Stacked,
    Sub,
    Table,
    inline,
    plain,
    strong,
    styled,
)
from ragperf.renderers.flame import flame_table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from ragperf.renderers.content import Block, Inline
    from ragperf.schema.diff import DiffReport
    from ragperf.schema.run import RunFile

__all__ = [
    "WIDTH",
    "TerminalRenderer",
    "print_document",
    "render_diff_terminal",
    "render_load",
    "render_memory",
    "render_run",
    "sparkline",
]

WIDTH = 100  # when written to a file: a width that fits a laptop terminal
STYLES = {
    "code": "cyan",
    "strong": "bold",
    "dim": "dim",
    "good": "green",
    "bad": "bold red",
    "warn": "yellow",
    "PASS": "green",
    "FAIL": "bold red",
    "n/a": "dim",
    "P0": "bold red",
    "P1": "yellow",
    "P2": "dim",
    "note": "dim",
    "warning": "yellow",
    "regression": "bold red",
    "improvement": "bold green",
    "unchanged": "green",
    "inconclusive": "bold yellow",
    "too_few": "yellow",
    "contention": "yellow",
}
_SPARK = 40  # points in a sparkline: the last ones
_MAX_WORD = 30  # a longer word (a deep path, a line of code) may fold inside: it could not fit anyway
_ROLE_STYLE = {"note": "dim", "warning": "yellow", "lead": "bold", "text": ""}
_BARS = "▁▂▃▄▅▆▇█"


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
        print_document(compose(report), console)


def render_run(run: RunFile, console: Console) -> None:
    """What `ragperf run` prints after measuring."""
    print_document(run_summary(run), console)


def render_memory(run: RunFile, console: Console) -> None:
    """The memory and leak sections of one file (`ragperf leak`, `ragperf run --memory`)."""
    report = Report(run=None, leak=run if run.leak is not None else None, memory_run=run if run.memory else None)
    _section(memory_section(report), console)


def render_load(run: RunFile, console: Console) -> None:
    """The load section of a load test's file (`ragperf load`)."""
    section = load_section(Report(run=None, load=run))
    if section is not None:
        state = "complete" if run.complete else f"INCOMPLETE ({run.incomplete_reason})"
        console.print(_text(inline(strong(run.pipeline), f": load test, {state}")))
        _section(section, console)


def render_diff_terminal(report: DiffReport, console: Console, runs: tuple[RunFile, RunFile] | None = None) -> None:
    """What `ragperf diff` prints: the diff's content, its headline again last (a CI log is read from the end)."""
    from ragperf.renderers.diff_content import diff_document

    doc = diff_document(report, runs)
    print_document(doc, console)
    console.print(_text(doc.headline))


def print_document(doc: Document, console: Console) -> None:
    """Every section of a document, in order."""
    console.print(_text(doc.headline))
    for line in doc.meta:
        console.print(_text(line), style="dim")
    for section in doc.sections:
        _section(section, console)


def _text(spans: Inline) -> Text:
    return Text.assemble(*((s.text, STYLES.get(s.style, "")) for s in spans))


_DRAWN_ONLY = (Histogram, Stacked, Bars, Intervals)  # charts whose numbers the tables beside them give


def _section(section: Section, console: Console) -> None:
    if all(isinstance(b, _DRAWN_ONLY) for b in section.blocks):
        return
    console.print()
    console.print(Text(section.title, style="bold underline"))
    for block in section.blocks:
        _block(block, console)


def _block(block: Block, console: Console) -> None:
    if isinstance(block, Para):
        console.print(_text(block.text), style=_ROLE_STYLE[block.role])
    elif isinstance(block, ListBlock):
        for item in block.items:
            console.print(Text("- ") + _text(item))
    elif isinstance(block, Table):
        _table(block, console)
    elif isinstance(block, Sub):
        console.print(Text(block.title, style="bold"))
        for inner in block.blocks:
            _block(inner, console)
    elif isinstance(block, Card):
        _card(block, console)
    elif isinstance(block, Links):
        console.print(block.intro)
        for label, path, command in block.items:
            console.print(Text.assemble("- ", label, ": ", (path, "cyan")), soft_wrap=True)
            if command:
                # One line, never wrapped by us: the command is copied whole.
                console.print(Text.assemble("  open with: ", (command, "cyan")), soft_wrap=True)
    elif isinstance(block, Flame):
        _table(flame_table(block), console)
    elif isinstance(block, LineChart):
        _sparklines(block, console)


def _card(card: Card, console: Console) -> None:
    indent = "  " * card.depth
    console.print(Text(indent) + _text(inline(styled(card.priority, card.priority), " ", card.title)))
    for fact in card.facts:
        console.print(Text(indent + "  · ") + _text(fact))
    for advice in card.advice:
        console.print(Text(indent + "  → ") + _text(advice))


def _rich_table(table: Table, shown: Sequence[int], *, short: bool, first_max: int | None = None) -> RichTable:
    rich = RichTable(title=table.title or None, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i in shown:
        column = table.columns[i]
        name = column.short if short and column.short else column.name
        if column.numeric:
            rich.add_column(name, justify="right", no_wrap=True)
            continue
        # Wrapped at spaces only: the longest word (a path, a function) sets the column's least width.
        words = [w for r in table.rows for w in plain(r.cells[i]).split()]
        indent = 2 * max((r.depth for r in table.rows), default=0) if i == 0 else 0
        least = max(min(_MAX_WORD, max((len(w) for w in words), default=1) + indent), len(name.split()[0]))
        limit = max(least, first_max) if i == 0 and first_max is not None else None
        rich.add_column(name, justify="left", overflow="fold", min_width=least, max_width=limit)
    for r in table.rows:
        cells = []
        for i in shown:
            text = _text(r.cells[i])
            if i == 0 and r.depth:
                text = Text("  " * r.depth) + text
            cells.append(text)
        if r.role == "total":
            rich.add_section()
        rich.add_row(*cells, style="bold" if r.role == "total" else ("dim" if r.role == "skipped" else ""))
    return rich


def _width(console: Console, table: RichTable, *, least: bool = False) -> int:
    """The width the table wants (or, `least`, the narrowest it can wrap its text into), whatever the console's."""
    measured = Measurement.get(console, console.options.update_width(10_000), table)
    return measured.minimum if least else measured.maximum


def _table(table: Table, console: Console) -> None:
    """A table that fits: short names first, then a narrower first column, then folded into parts."""
    every = list(range(len(table.columns)))
    short, first_max = False, None
    if _width(console, _rich_table(table, every, short=False)) > console.width:
        short = any(c.short for c in table.columns)
        first_max = console.width // 3  # the names column gives way before the numbers do
    parts = [every]
    whole = _rich_table(table, every, short=short, first_max=first_max)
    if _width(console, whole, least=True) > console.width and len(every) > 2:
        parts = _fold(table, console, short=short, first_max=first_max)
    for n, part in enumerate(parts):
        shown = _rich_table(table, part, short=short, first_max=first_max)
        if n:
            shown.title = f"{table.title} (continued)"
        console.print(shown)
    legend = [f"{c.short} = {c.name}" for c in table.columns if short and c.short]
    if legend:
        console.print(Text("; ".join(legend), style="dim"))
    if table.caption:
        console.print(Text(table.caption, style="dim"))


def _fold(table: Table, console: Console, *, short: bool, first_max: int | None) -> list[list[int]]:
    """Column groups that each fit the console (text wrapped), every group led by the first column."""
    parts: list[list[int]] = []
    current = [0]
    for i in range(1, len(table.columns)):
        trial = [*current, i]
        wide = _width(console, _rich_table(table, trial, short=short, first_max=first_max), least=True)
        if len(current) > 1 and wide > console.width:
            parts.append(current)
            current = [0, i]
        else:
            current = trial
    parts.append(current)
    return parts


def sparkline(values: Sequence[float | None], min_range: float = 0.0) -> str:
    """A one-line chart of a series (blank where a value is missing), spanning at least `min_range`."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = max(high - low, min_range)
    scale = (len(_BARS) - 1) / span if span > 0 else 0.0
    return "".join(" " if v is None else _BARS[round((v - low) * scale)] for v in values)


def _sparklines(chart: LineChart, console: Console) -> None:
    console.print(Text(chart.title, style="bold"))
    for line in chart.lines:
        if line.dashed or not line.points:
            continue
        ys = [y for _, y in line.points][-_SPARK:]
        # At least 1% of the level: a flat series of a few kilobytes' noise stays flat.
        spark = sparkline(ys, min_range=0.01 * max(abs(y) for y in ys))
        first, last = line.points[0], line.points[-1]
        console.print(
            Text.assemble(
                f"  {line.name:<8} ",
                (spark, "cyan"),
                f" {first[1]:.4g} → {last[1]:.4g} {chart.y_label}, {chart.x_label} {first[0]:g}-{last[0]:g}",
            )
        )
