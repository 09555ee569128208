"""The Markdown layout: the content model for a code host, a CI job summary or a pull-request comment.

User text stays text: stage names, notes, file names and rule text come from the user's pipeline
and config, and a Markdown report is read where `<script>`, `[x](javascript:...)` or a stray `|`
would become markup; every span is escaped (`md_text`) or fenced (`md_code`) here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.compose import compose
from ragperf.renderers.content import Card, Flame, Links, ListBlock, Para, Sub, Table
from ragperf.renderers.flame import flame_table

if TYPE_CHECKING:
    from ragperf.renderers.content import Block, Document, Inline
    from ragperf.schema.diff import DiffReport

__all__ = ["MarkdownRenderer", "md_code", "md_text", "render_diff_markdown", "render_markdown"]

# Backslash first so the escapes added here are not themselves escaped; & < > as entities (no raw HTML).
_ESCAPES = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]", "`": "\\`", "&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BACKTICKS = re.compile(r"`+")
_LINE_BREAK = re.compile(r"\s*[\r\n]+\s*")
_PRIORITY_MARK = {"P0": "🔴", "P1": "🟠", "P2": "⚪"}
# Emoji read at a glance in a PR comment, where there is no colour.
_VERDICT_MARK = {
    "regression": "🔴",
    "improvement": "🟢",
    "unchanged": "⚪",
    "inconclusive": "🟡",
    "too_few": "🟡",
    "contention": "🟠",
}


def md_text(text: str) -> str:
    """User text as Markdown that shows it literally, on one line (tables escape their pipes themselves)."""
    return _LINE_BREAK.sub(" ", text).translate(_ESCAPES)


def md_code(text: str) -> str:
    """User text as a code span whose fence is longer than any run of backticks inside it."""
    text = _LINE_BREAK.sub(" ", text)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _spans(spans: Inline) -> str:
    out = []
    for s in spans:
        if s.style == "code":
            out.append(md_code(s.text) if s.text else "")
        elif s.style in _VERDICT_MARK and s.text.startswith(s.style.replace("_", " ")):
            out.append(f"{_VERDICT_MARK[s.style]} {md_text(s.text)}")
        elif s.style in ("strong", "FAIL", "bad", "regression"):
            out.append(f"**{md_text(s.text)}**" if s.text.strip() else md_text(s.text))
        else:
            out.append(md_text(s.text))
    return "".join(out)


def _table(table: Table) -> list[str]:
    out = [f"**{md_text(table.title)}**", ""] if table.title else []
    header = [md_text(c.name) for c in table.columns]
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join("---:" if c.numeric else "---" for c in table.columns) + "|")
    for row in table.rows:
        cells = [_spans(cell).replace("|", "\\|") for cell in row.cells]
        if row.depth and cells:
            cells[0] = "\u00a0\u00a0" * row.depth + "↳ " + cells[0]  # non-breaking spaces survive a table
        if row.role == "total" and cells and not cells[0].startswith("**"):
            cells[0] = f"**{cells[0]}**"
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    if table.caption:
        out += [md_text(table.caption), ""]
    return out


def _block(block: Block, level: int) -> list[str]:  # noqa: PLR0911 - one return per kind of block
    if isinstance(block, Para):
        text = _spans(block.text)
        return [f"> {text}" if block.role == "warning" else (f"_{text}_" if block.role == "note" else text), ""]
    if isinstance(block, ListBlock):
        return [*(f"- {_spans(item)}" for item in block.items), ""]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Sub):
        out = [f"{'#' * level} {md_text(block.title)}", ""]
        for inner in block.blocks:
            out += _block(inner, level + 1)
        return out
    if isinstance(block, Card):
        out = [f"{'#' * level} {_PRIORITY_MARK[block.priority]} {block.priority} {_spans(block.title)}", ""]
        out += [f"- {_spans(fact)}" for fact in block.facts]
        if block.advice:
            out += ["", "Advice:", "", *(f"- {_spans(a)}" for a in block.advice)]
        return [*out, ""]
    if isinstance(block, Links):
        out = [md_text(block.intro), ""]
        for label, path, command in block.items:
            opener = f" (open with {md_code(command)})" if command else ""
            out.append(f"- {md_text(label)}: {md_code(path)}{opener}")
        return [*out, ""]
    if isinstance(block, Flame):
        return _table(flame_table(block))
    return []  # a chart: drawn in HTML; its numbers are in the tables beside it


def render_markdown(doc: Document, level: int = 1) -> str:
    """Any report's content (a run report or a diff) as Markdown, its title a heading of `level`."""
    out = [f"{'#' * level} {md_text(doc.title)}", "", _spans(doc.headline), ""]
    if doc.meta:
        out += [" ".join(_spans(line) for line in doc.meta), ""]
    for section in doc.sections:
        laid = [line for block in section.blocks for line in _block(block, level + 2)]
        if laid:  # a section of charts only is for HTML
            out += [f"{'#' * (level + 1)} {md_text(section.title)}", "", *laid]
    return "\n".join(out).rstrip() + "\n"


class MarkdownRenderer(Renderer):
    """A Markdown report, readable as text and on a code host."""

    name = "md"
    description = "Markdown report (executive summary, metrics, bottlenecks, hotspots, roadmap, quick wins)"
    extension = ".md"

    def render(self, report: Report) -> str:
        """The whole report as Markdown."""
        return render_markdown(compose(report))


def render_diff_markdown(report: DiffReport) -> str:
    """A diff as Markdown for a CI job summary or a pull-request comment (a second-level title)."""
    from ragperf.renderers.diff_content import diff_document

    return render_markdown(diff_document(report), level=2)
