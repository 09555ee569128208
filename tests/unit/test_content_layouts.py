"""Every format lays out one content fixture: golden files per format, escaping, terminal widths.

The fixture holds each kind of block, and user text that is markup in some format (`<script>`,
a Markdown link, a table pipe, rich's `[bold]`). Regenerate after an intended change:
RAGPERF_UPDATE_GOLDEN=1 pytest tests/unit/test_content_layouts.py
"""

from __future__ import annotations

import io
import json
import re

import pytest
from golden import check_golden

from ragperf.renderers.console import make_console
from ragperf.renderers.content import (
    Bars,
    Card,
    Document,
    Flame,
    FlameNode,
    Histogram,
    Line,
    LineChart,
    Links,
    ListBlock,
    Para,
    Section,
    Stacked,
    Sub,
    Table,
    badge,
    code,
    columns,
    inline,
    row,
    strong,
    styled,
)
from ragperf.renderers.html import render_document
from ragperf.renderers.json_renderer import content_dict
from ragperf.renderers.markdown import render_markdown
from ragperf.renderers.terminal import print_document

HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) a|b [bold]"


def _flame() -> Flame:
    hot = FlameNode("score", "/src/pipe/rank.py", 12, 70.0)
    wait = FlameNode("recv", "<built-in>", 0, 20.0, waiting=True)
    call = FlameNode("rank", "/src/pipe/rank.py", 3, 95.0, children=(hot, wait))
    root = FlameNode("rerank", "", 0, 100.0, children=(call,))
    return Flame("rerank", "ms", 100.0, root, "rerank: 100 ms sampled")


def document() -> Document:
    """The one content fixture: every block kind, numbers wide enough to need folding at 80 columns."""
    wide = columns(
        "<stage",
        "n",
        "mean",
        "p50",
        "p95",
        "p95 95% interval|p95 CI",
        "p99",
        "p99 95% interval|p99 CI",
        "max",
        "share of total|share",
        "target",
        "verdict",
    )
    rows = (
        row(
            "retrieval",
            "400",
            "123.45",
            "120.01",
            "180.55",
            "170.12-190.43",
            "201.99",
            "190.00-240.12",
            "251.2",
            "26.2%",
            "200",
            badge("PASS"),
        ),
        row(HOSTILE, "400", "1.5", "1.2", "2.0", "1.9-2.2", "2.5", "2.2-3.1", "3.3", "1.0%", "-", "", depth=1),
        row(
            strong("pipeline total"),
            "400",
            "400",
            "390",
            "520",
            "500-540",
            "600",
            "560-650",
            "700",
            "",
            "500",
            badge("FAIL"),
            role="total",
        ),
    )
    card = Card(
        "P0",
        inline("rerank", styled(" (rerank)", "dim")),
        (inline("40 of 40 queries affected"), inline("Hottest functions: ", code("score"), " 70.0%")),
        (inline(strong("Cache it"), styled(" (effort S)", "dim"), f": {HOSTILE}"),),
    )
    sections = (
        Section(
            "summary",
            "Executive summary",
            (
                Para(inline("Measured ", strong("400"), " queries; ", code("ragperf run --backend py-spy"), ".")),
                Para(inline(HOSTILE), "warning"),
                Table("Latency per stage (ms)", wide, rows, "95% intervals from order statistics."),
            ),
        ),
        Section(
            "charts",
            "Charts",
            (
                Histogram((("retrieval", 0, (1.0, 2.0, 2.5, 3.0), (("p50", 2.0), ("p95", 3.0))),), "latency"),
                Stacked((("q1", (1.0, 2.0)), ("q2", (2.0, 1.0))), ("a", HOSTILE), "ms", "queries", "per query"),
                Bars((("rerank", 0.6, "P0", "24 queries"),), (("P1", 0.1), ("P0", 0.2)), "bottlenecks"),
                LineChart("memory", (Line("heap", ((1.0, 10.0), (2.0, 11.0))),), "iteration", "MB", "heap"),
            ),
        ),
        Section(
            "hotspots",
            "Hotspots per stage",
            (Sub("rerank", (_flame(),)),),
        ),
        Section(
            "roadmap",
            "Optimisation roadmap",
            (Sub("P0: must fix", (card,)), ListBlock((inline("P0 rerank: ", strong("Cache it")),))),
        ),
        Section(
            "details",
            "Run details",
            (Links("Native profiler output:", (("py-spy", "run.artifacts/py spy.json", "npx speedscope run.json"),)),),
        ),
    )
    return Document(f"Performance report: {HOSTILE}", inline(badge("FAIL"), ": 1 of 2 checks failed"), (), sections)


def _terminal(width: int) -> str:
    buffer = io.StringIO()
    print_document(document(), make_console(file=buffer, width=width))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("content.terminal80.txt", lambda: _terminal(80)),
        ("content.terminal120.txt", lambda: _terminal(120)),
        ("content.md", lambda: render_markdown(document())),
        ("content.html", lambda: render_document(document())),
        ("content.json", lambda: json.dumps(content_dict(document()), indent=1, ensure_ascii=False) + "\n"),
    ],
)
def test_each_format_lays_out_the_content_as_its_golden_file(name, render):
    # GIVEN the one content fixture WHEN laid out in a format THEN exactly its golden file
    check_golden(name, render())


@pytest.mark.parametrize("width", [60, 80, 100])
def test_the_terminal_folds_tables_instead_of_dropping_columns(width):
    # GIVEN a table of 12 columns WHEN printed at a narrow width
    text = _terminal(width)
    # THEN every line fits, and every column is there under its name or its short name (with the legend)
    assert max(len(line) for line in text.splitlines()) <= width or "open with" in text
    table_lines = [line for line in text.splitlines() if len(line) > width]
    assert all("npx speedscope" in line or "javascript" in line for line in table_lines)
    for column in document().sections[0].blocks[2].columns:  # type: ignore[union-attr]
        assert column.name in text or f" {column.short} " in text, column.name
    # AND no number is split across lines
    for number in ("170.12-190.43", "190.00-240.12", "123.45"):
        assert number in text


def test_html_escapes_user_text_by_construction():
    # GIVEN user text that is markup WHEN laid out as HTML
    html = render_document(document())
    # THEN it is text, wherever it lands (headings, cells, chart labels, advice)
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 5
    assert 'href="run.artifacts/py%20spy.json"' in html
    assert not re.search(r'href="javascript', html)


def test_markdown_keeps_user_text_literal():
    text = render_markdown(document())
    assert "<script>" not in text
    assert "\\[x\\](javascript:alert(1))" in text
    assert "a\\|b" in text  # a pipe inside a table cell does not split it
