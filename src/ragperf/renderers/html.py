"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network), printable."""

from __future__ import annotations

import importlib.resources
import re
import string
import urllib.parse
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import ragperf
from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.blocks import Block, load_blocks, memory_blocks
from ragperf.renderers.format import fmt_amount, fmt_ms, fmt_pct
from ragperf.renderers.html_data import HtmlData, template_data
from ragperf.renderers.html_roadmap import badge, roadmap_html
from ragperf.renderers.sections import (
    backend_label,
    context_lines,
    executive_lines,
    headline,
    hotspot_groups,
    short_path,
)
from ragperf.renderers.svg import PALETTE, PRIORITY_COLOURS, hbars, histogram_row, line_chart, stacked_bars

if TYPE_CHECKING:
    from ragperf.schema.run import RunFile

__all__ = ["HtmlRenderer"]

_MARKS = {"p50": PALETTE[2], "p95": PALETTE[5], "target": "#222"}
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _template(name: str) -> str:
    return importlib.resources.files("ragperf.renderers").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """A table whose first `left` columns are text (left-aligned), the rest numbers."""

    def cls(i: int) -> str:
        return ' class="l"' if i < left else ""

    head = "".join(f"<th{cls(i)}>{escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class HtmlRenderer(Renderer):
    """A self-contained HTML page with charts: open it in any browser, offline, or print it."""

    name = "html"
    description = "self-contained HTML with charts (latency, waterfall, bottlenecks, memory), printable"
    extension = ".html"

    def render(self, report: Report) -> str:
        """The whole report as one HTML document."""
        data = template_data(report)
        sections: list[tuple[str, str, str]] = [("summary", "Executive summary", _executive(report))]
        if report.run is not None:
            sections += [
                ("metrics", "Latency per stage", _metrics(report.run, data)),
                ("waterfall", "Per-query breakdown", _waterfall(data)),
                ("bottlenecks", "Bottleneck frequency", _bottlenecks(data)),
            ]
        sections.append(("memory", "Memory analysis", _memory(data, memory_blocks(report))))
        load = load_blocks(report)
        if load:
            sections.append(("load", "Throughput under load", _load(report, load)))
        if report.roadmap is not None:
            sections.append(("roadmap", "Optimisation roadmap", roadmap_html(report.roadmap)))
        if report.run is not None and report.run.hotspots:
            sections.append(("hotspots", "Hotspots per stage", _hotspots(report.run)))
        sections.append(("details", "Run details and profiler files", _details(report, data)))
        body = "\n".join(
            f'<section id="{sid}"><h2>{escape(title)}</h2>{html}</section>' for sid, title, html in sections
        )
        nav = "".join(f'<a href="#{sid}">{escape(title)}</a>' for sid, title, _ in sections)
        return string.Template(_template("report.html")).substitute(
            title=escape(report.title),
            css=_template("report.css"),
            headline=_BOLD.sub(r"<strong>\1</strong>", escape(headline(report))),
            meta=escape(_meta(report)),
            nav=nav,
            sections=body,
            version=escape(ragperf.__version__),
            sources=escape(", ".join(name for name, _ in report.named_files) or "no files"),
        )


def _meta(report: Report) -> str:
    run = report.run
    if run is None:
        return ""
    env = run.environment
    return " ".join(
        [
            f"{run.summary.n_queries} queries after {run.warmup} warm-up, backend {run.backend.name}, "
            f"started {env.started_at}, Python {env.python}, {env.cpu_count} CPUs ({env.cpu_model}).",
            *context_lines(run),
        ]
    )


def _executive(report: Report) -> str:
    rows = [[escape(c), escape(t), escape(m), badge(v)] for c, t, m, v in executive_lines(report)]
    return _table(["check", "target", "measured", "verdict"], rows)


def _metrics(run: RunFile, data: HtmlData) -> str:
    key = "".join(f'<span><i style="background:{colour}"></i>{name}</span>' for name, colour in _MARKS.items())
    rows = []
    for row in data.latency:
        marks = [("p50", row.p50, _MARKS["p50"]), ("p95", row.p95, _MARKS["p95"])]
        if row.target_ms is not None:
            marks.append(("target", row.target_ms, _MARKS["target"]))
        chart = histogram_row(row.values, [(n, v, c) for n, v, c in marks if v is not None], row.path)
        label = "pipeline total" if row.path == "total" else ("↳ " if row.depth else "") + row.path.rsplit(".", 1)[-1]
        indent = f' style="padding-left:{row.depth * 14}px" title="{escape(row.path)}"'
        verdict = badge(row.verdict) if row.target_ms is not None else ""
        nums = f"p50 {fmt_ms(row.p50)} · p95 {fmt_ms(row.p95)} · p99 {fmt_ms(row.p99)} ms {verdict}"
        rows.append(f'<div class="name"{indent}>{escape(label)}</div><div>{chart}</div><div class="nums">{nums}</div>')
    figure = f'<p class="key">{key}</p><div class="hist">{"".join(rows)}</div>'
    summary = run.summary
    table_rows = []
    for s in (*summary.stages, summary.total):
        label = "pipeline total" if s.path == "total" else s.path
        if s.skipped:
            table_rows.append([escape(label), *[""] * 8, "skipped"])
            continue
        ci = f" [{fmt_ms(s.p95_ci[0])}-{fmt_ms(s.p95_ci[1])}]" if s.p95_ci else ""
        table_rows.append(
            [
                escape(label),
                str(s.n) + (f" ({s.n_errors} failed)" if s.n_errors else ""),
                fmt_ms(s.mean),
                fmt_ms(s.p50),
                fmt_ms(s.p95) + ci,
                fmt_ms(s.p99),
                fmt_ms(s.max),
                fmt_pct(s.share) if s.path != "total" else "",
                "-" if s.target_ms is None else fmt_ms(s.target_ms),
                badge(s.verdict) if s.target_ms is not None else "",
            ]
        )
    header = ["stage", "n", "mean", "p50", "p95 [95% CI]", "p99", "max", "share", "target", "verdict"]
    return (
        f"<figure>{figure}<figcaption>Distribution of each stage's latency over the measured queries "
        f"(own scale per row).</figcaption></figure>" + _table(header, table_rows)
    )


def _waterfall(data: HtmlData) -> str:
    if not data.waterfall:
        return '<p class="note">No successful queries.</p>'
    bars = [(q.id, q.spans) for q in data.waterfall]
    chart = stacked_bars(bars, data.waterfall_stages, "time per stage, one column per query")
    ordered = stacked_bars(bars, data.waterfall_stages, "queries sorted by total time", sort_by_total=True)
    sampled = (
        f" ({len(data.waterfall)} of {data.waterfall_of} queries, evenly spaced)"
        if len(data.waterfall) < data.waterfall_of
        else ""
    )
    return (
        f"<figure>{chart}<figcaption>Time per top-level stage, one column per query in the order run{sampled}."
        f"</figcaption></figure><figure>{ordered}<figcaption>The same queries sorted by total: the slow tail "
        "and which stage makes it.</figcaption></figure>"
    )


def _bottlenecks(data: HtmlData) -> str:
    rows = [
        (
            b.stage,
            b.fraction,
            PRIORITY_COLOURS.get(b.priority, "#888"),
            f"{b.queries} {'query' if b.queries == 1 else 'queries'} · {b.priority}",
        )
        for b in data.bottlenecks
    ]
    if not rows:
        return '<p class="note">No bottlenecks counted.</p>'
    chart = hbars(rows, data.thresholds, "share of queries where each stage was the largest")
    caption = "Share of queries in which the stage took the largest share of time; dashed: P1 and P0 thresholds."
    return f"<figure>{chart}<figcaption>{caption}</figcaption></figure>"


def _blocks(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        out.append(f"<h3>{escape(block.title)}</h3>")
        out += [f"<p>{escape(sentence)}</p>" for sentence in block.text]
        if block.header:
            rows = [[escape(cell) for cell in row] for row in block.rows]
            out.append(_table(list(block.header), rows, left=block.text_columns))
    return "".join(out)


def _memory(data: HtmlData, blocks: list[Block]) -> str:
    if not data.memory:
        return _blocks(blocks)
    # One chart per series: RSS sits far above the heap, and one shared axis would flatten both.
    colours = {"heap": PALETTE[0], "RSS": PALETTE[1]}
    charts = []
    for kind, colour in colours.items():
        lines = [(m.name, m.points, colour, m.fitted) for m in data.memory if m.name.split()[0] == kind]
        if lines:
            title = "Python heap" if kind == "heap" else "RSS"
            charts.append(f"<div><h3>{title}</h3>{line_chart(lines, f'{title} over time', data.memory_x, 'MB')}</div>")
    caption = (
        "After each leak iteration (gc'd), with the fitted trend (dashed)."
        if data.memory_x == "iteration"
        else "After each measured query."
    )
    return f'<figure><div class="cols">{"".join(charts)}</div><figcaption>{caption}</figcaption></figure>' + _blocks(
        blocks
    )


def _load(report: Report, blocks: list[Block]) -> str:
    load = report.load.load if report.load is not None else None
    if load is None or len(load.steps) < 2:
        return _blocks(blocks)
    latency = tuple((s.offered_qps, s.latency.p95) for s in load.steps if s.latency.p95 is not None)
    service = tuple((s.offered_qps, s.service.p95) for s in load.steps if s.service.p95 is not None)
    chart = line_chart(
        [("p95 from intended start", latency, PALETTE[5], False), ("p95 service time", service, PALETTE[0], True)],
        "p95 latency by offered rate",
        "qps",
        "ms",
    )
    return f"<figure>{chart}<figcaption>p95 latency at each offered rate.</figcaption></figure>" + _blocks(blocks)


def _hotspots(run: RunFile) -> str:
    out = [f'<p class="note">Function-level costs from the {escape(run.backend.name)} backend, per stage.</p>']
    for stage, spots in hotspot_groups(run):
        unit = spots[0].unit
        rows = [
            [
                f"<code>{escape(h.function)}</code>" + (f" <small>({h.wait_label})</small>" if h.wait_label else ""),
                f'<code title="{escape(h.file)}">{escape(short_path(h.file))}:{h.line}</code>',
                fmt_amount(h.self_value, unit),
                fmt_amount(h.total_value, unit),
                fmt_pct(h.share),
            ]
            for h in spots
        ]
        out.append(f"<h3>{escape(stage)}</h3>" + _table(["function", "where", "self", "total", "share"], rows, left=2))
    return "".join(out)


def _details(report: Report, data: HtmlData) -> str:
    rows = []
    for name, f in report.named_files:
        state = "complete" if f.complete else f"incomplete ({f.incomplete_reason})"
        env = f.environment
        rows.append(
            [
                escape(name),
                escape(backend_label(f)),
                escape(state),
                escape(env.started_at),
                escape(f"Python {env.python}, {env.platform}"),
                escape((env.git_commit or "-")[:12]),
            ]
        )
    out = _table(["file", "backend", "state", "started", "environment", "git"], rows, left=6)
    notes = dict.fromkeys(note for f in report.files for note in f.notes)
    if notes:
        out += "<p>Notes from the pipeline:</p><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
    if data.artifacts:
        links = "".join(
            f'<li>{escape(kind)}: <a href="{escape(_href(path))}"><code>{escape(path)}</code></a>'
            + (f" — open with <code>{escape(cmd)}</code>" if cmd else "")
            + "</li>"
            for kind, path, cmd in data.artifacts
        )
        intro = "Native profiler output (flame graphs and full call trees, in the profiler's own viewer):"
        out += f"<p>{intro}</p><ul>{links}</ul>"
    return out


def _href(path: str) -> str:
    """A link to the artifact as a file, never a URL of another scheme ('javascript:...' stays a file name).

    A file that is here or an absolute path becomes a file: URI; any other relative path a
    percent-encoded relative reference, which cannot carry a scheme (':' is encoded).
    """
    local = Path(path)
    if local.exists() or local.is_absolute():
        return local.resolve().as_uri()
    return urllib.parse.quote(local.as_posix())
