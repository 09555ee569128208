"""The HTML layout: one self-contained page (inline CSS and SVG, no script, no network), printable.

A Jinja2 template with autoescape lays out the content model; charts come from `svg`, which
escapes its own text. Nothing here decides what the report says.
"""

from __future__ import annotations

import importlib.resources
import urllib.parse
import zlib
from functools import cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import ragperf
from ragperf.renderers import svg
from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.compose import compose
from ragperf.renderers.content import Bars, Intervals, LineChart, Stacked

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

    from ragperf.renderers.content import Chart, Document, Flame

__all__ = ["HtmlRenderer", "render_document"]

_MARKS = (("p50", svg.PALETTE[2]), ("p95", svg.PALETTE[5]), ("target", "#222"))


def _resource(name: str) -> str:
    return importlib.resources.files("ragperf.renderers").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def href(path: str) -> str:
    """A link to a file beside the report, never a URL of another scheme ('javascript:...' stays a file name).

    A relative reference percent-encoded (':' too), so no part of it can be read as a scheme; an
    absolute path becomes a file: URI.
    """
    posix = path.replace("\\", "/")
    if PurePosixPath(posix).is_absolute():
        return "file://" + urllib.parse.quote(posix)
    return urllib.parse.quote(posix)


def _chart(chart: Chart) -> Markup:
    if isinstance(chart, Stacked):
        return svg.stacked(chart)
    if isinstance(chart, Bars):
        return svg.bars(chart)
    if isinstance(chart, LineChart):
        return svg.lines(chart)
    if isinstance(chart, Intervals):
        return svg.intervals(chart)
    raise TypeError(f"no HTML layout for {type(chart).__name__}")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
    env.filters["kind"] = lambda block: type(block).__name__
    env.filters["badge"] = lambda style: "na" if style == "n/a" else style
    env.filters["href"] = href
    env.filters["chart"] = _chart
    env.filters["histograms"] = svg.histograms

    def flame(chart: Flame) -> Markup:
        # Each flame graph defines its own hatch pattern: its id must be unique in the page, and the same each time.
        key = f"{chart.stage}\0{chart.unit}\0{chart.differential}\0{chart.total}"
        return svg.flame(chart, f"{zlib.crc32(key.encode()):08x}")

    env.filters["flame"] = flame
    return env


def render_document(doc: Document) -> str:
    """Any report's content (a run report or a diff) as one HTML page."""
    template = _environment().from_string(_resource("report.html.j2"))
    from markupsafe import Markup

    css = Markup(_resource("report.css"))  # noqa: S704 - ragperf's own stylesheet, no user text in it
    return template.render(doc=doc, css=css, version=ragperf.__version__, marks=_MARKS) + "\n"


class HtmlRenderer(Renderer):
    """A self-contained HTML page with charts: open it in any browser, offline, or print it."""

    name = "html"
    description = "self-contained HTML with charts (latency, flame graphs per stage, memory, load), printable"
    extension = ".html"

    def render(self, report: Report) -> str:
        """The whole report as one HTML document."""
        return render_document(compose(report))
