"""The content of a report, format-neutral: a document of sections made of blocks, made of styled spans.

The analysis decides; `compose` (a run report) and `diff_content` (a diff) turn its results into
this tree once; each format (terminal, Markdown, HTML, JSON) lays the tree out and decides
nothing. User text (stage names, notes, file names) is only ever a `Span`'s text: each format
escapes it for its own markup, so no format can forget to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import numpy as np
    from numpy.typing import NDArray

    # A distribution's values: an array as the run file holds them (100,000 floats are not copied into a tuple).
    Values: TypeAlias = Sequence[float] | NDArray[np.float64]

__all__ = [
    "Bars",
    "Block",
    "Card",
    "Chart",
    "Column",
    "Document",
    "Flame",
    "FlameNode",
    "Histogram",
    "Inline",
    "Intervals",
    "Line",
    "LineChart",
    "Links",
    "ListBlock",
    "Para",
    "Row",
    "Section",
    "Span",
    "Stacked",
    "Style",
    "Sub",
    "Table",
    "badge",
    "code",
    "columns",
    "diff_verdict",
    "inline",
    "plain",
    "row",
    "strong",
    "styled",
]

# How a span looks: a verdict or priority (a badge), code, emphasis, or a tone for changes.
Style = Literal[
    "", "code", "strong", "dim", "good", "bad", "warn", "PASS", "FAIL", "n/a", "P0", "P1", "P2", "note", "warning",
    "regression", "improvement", "unchanged", "inconclusive", "too_few", "contention",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text in one style; `title` is hover text (a full path behind a short one)."""

    text: str
    style: Style = ""
    title: str | None = None


Inline: TypeAlias = tuple[Span, ...]


def inline(*parts: str | Span | Inline) -> Inline:
    """Spans from plain strings (unstyled), spans and other inlines, in order; empty strings dropped."""
    out: list[Span] = []
    for part in parts:
        if isinstance(part, str):
            if part:
                out.append(Span(part))
        elif isinstance(part, Span):
            out.append(part)
        else:
            out.extend(part)
    return tuple(out)


def code(text: str, title: str | None = None) -> Span:
    """A function, file or command: shown as code, never wrapped inside."""
    return Span(text, "code", title)


def strong(text: str) -> Span:
    """Emphasised text."""
    return Span(text, "strong")


def styled(text: str, style: Style) -> Span:
    """Text in a style (a verdict's badge, a change's tone)."""
    return Span(text, style)


def plain(spans: Iterable[Span]) -> str:
    """The text of spans without styling (JSON, lengths, tests)."""
    return "".join(s.text for s in spans)


@dataclass(frozen=True, slots=True)
class Para:
    """A sentence or paragraph; `role` "note" is secondary text, "warning" something the reader must see."""

    text: Inline
    role: Literal["text", "note", "warning", "lead"] = "text"


@dataclass(frozen=True, slots=True)
class ListBlock:
    """A bulleted list."""

    items: tuple[Inline, ...]


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its name, a short name for narrow terminals (explained in a legend), alignment."""

    name: str
    short: str | None = None
    numeric: bool = True


@dataclass(frozen=True, slots=True)
class Row:
    """A table row; a cell is an inline (several lines joined by "\\n" spans stay one cell)."""

    cells: tuple[Inline, ...]
    role: Literal["", "total", "skipped"] = ""
    depth: int = 0  # nesting of a span path: the first cell is indented by it


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a title; numbers right-aligned, text left."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    caption: str = ""


@dataclass(frozen=True, slots=True)
class Card:
    """A roadmap item: its priority, what it is about, the facts behind it, and the advice."""

    priority: Literal["P0", "P1", "P2"]
    title: Inline
    facts: tuple[Inline, ...]
    advice: tuple[Inline, ...]
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Links:
    """Files beside the report, each a (label, relative path, command that opens it)."""

    intro: str
    items: tuple[tuple[str, str, str | None], ...]


# Charts: the numbers to draw. Formats that cannot draw one skip it, except flame graphs,
# which every text format shows as the hottest path.


@dataclass(frozen=True, slots=True)
class Histogram:
    """Latency distributions on one shared axis (ms), one row per path, with p50/p95/target marks."""

    rows: tuple[tuple[str, int, Values, tuple[tuple[str, float], ...]], ...]  # label, depth, values, marks
    caption: str
    overlay: tuple[Values, ...] = ()  # a second distribution per row (a diff's new run)
    series: tuple[str, ...] = ()  # the names of the two distributions when overlaid


@dataclass(frozen=True, slots=True)
class Stacked:
    """Stacked columns, one per item (a query), one colour per series (a stage); y in `unit`."""

    items: tuple[tuple[str, tuple[float, ...]], ...]
    series: tuple[str, ...]
    unit: str
    x_label: str
    caption: str


@dataclass(frozen=True, slots=True)
class Bars:
    """Horizontal bars of fractions 0..1 with threshold lines: (label, fraction, style, note)."""

    rows: tuple[tuple[str, float, Style, str], ...]
    thresholds: tuple[tuple[str, float], ...]
    caption: str


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a line chart: its points, dashed for a fit, and its colour index."""

    name: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False
    colour: int = 0


@dataclass(frozen=True, slots=True)
class LineChart:
    """Lines over a labelled x axis; `marks` are vertical lines (a capacity found), `zero` starts y at 0."""

    title: str
    lines: tuple[Line, ...]
    x_label: str
    y_label: str
    caption: str
    marks: tuple[tuple[str, float], ...] = ()
    zero: bool = False
    levels: tuple[tuple[str, float], ...] = ()  # horizontal lines (a target), the y axis reaching them


@dataclass(frozen=True, slots=True)
class Intervals:
    """Relative changes with their intervals around zero (a diff's verdicts): (label, change, low, high, style)."""

    rows: tuple[tuple[str, float | None, float | None, float | None, Style], ...]
    threshold: float
    caption: str


@dataclass(frozen=True, slots=True)
class FlameNode:
    """A frame of a merged call tree: weight in the unit of its flame (and the other run's, for a diff)."""

    function: str
    file: str
    line: int
    weight: float
    waiting: bool = False
    children: tuple[FlameNode, ...] = ()
    before: float | None = None  # a differential flame: the baseline's weight of the same frame path


@dataclass(frozen=True, slots=True)
class Flame:
    """A stage's flame graph (an icicle: callers above callees, width is weight)."""

    stage: str
    unit: str
    total: float
    root: FlameNode
    caption: str
    differential: bool = False


Chart: TypeAlias = Histogram | Stacked | Bars | LineChart | Intervals | Flame


@dataclass(frozen=True, slots=True)
class Sub:
    """A titled group of blocks inside a section."""

    title: str
    blocks: tuple[Block, ...]


Block: TypeAlias = Para | ListBlock | Table | Card | Links | Sub | Chart


@dataclass(frozen=True, slots=True)
class Section:
    """A top-level part of the report, with an id for links."""

    id: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """A whole report: its title, a one-line headline, context lines, the sections, and its sources."""

    title: str
    headline: Inline
    meta: tuple[Inline, ...] = ()
    sections: tuple[Section, ...] = ()
    sources: str = ""


def row(*cells: str | Span | Inline, role: Literal["", "total", "skipped"] = "", depth: int = 0) -> Row:
    """A table row from its cells, each a string, a span or an inline."""
    return Row(tuple(inline(cell) for cell in cells), role, depth)


def columns(*specs: str) -> tuple[Column, ...]:
    """Columns from specs: "name" (a number), "<name" (text), "name|short" (a short name for narrow terminals)."""
    out = []
    for spec in specs:
        text = spec.startswith("<")
        name, _, short = spec.lstrip("<").partition("|")
        out.append(Column(name, short or None, numeric=not text))
    return tuple(out)


_BADGES: dict[str, Style] = {"PASS": "PASS", "FAIL": "FAIL", "n/a": "n/a", "P0": "P0", "P1": "P1", "P2": "P2"}
_DIFF_VERDICTS: dict[str, Style] = {
    "regression": "regression",
    "improvement": "improvement",
    "unchanged": "unchanged",
    "inconclusive": "inconclusive",
    "too_few": "too_few",
    "contention": "contention",
}


def badge(verdict: str) -> Span:
    """A verdict (PASS, FAIL, n/a) or a priority (P0-P2) as its badge; any other word as plain text."""
    return Span(verdict, _BADGES.get(verdict, ""))


def diff_verdict(verdict: str, note: str = "") -> Span:
    """A diff's verdict (regression, improvement, ...) in its style; each format marks it its own way."""
    text = verdict.replace("_", " ") + (f" ({note})" if note else "")
    return Span(text, _DIFF_VERDICTS.get(verdict, ""))
