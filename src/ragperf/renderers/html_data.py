"""The plain data the HTML report draws: what each chart and table shows, before any markup.

Kept apart from the markup so tests can check what the reader will see (query totals, stage
order, thresholds) without parsing SVG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ragperf.report_rules import priority_for

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ragperf.renderers.base import Report
    from ragperf.schema.run import RunFile

__all__ = ["MAX_BARS", "BottleneckBar", "HtmlData", "LatencyRow", "MemorySeries", "QueryBar", "template_data"]

MAX_BARS = 300  # per-query columns drawn; past this many queries, evenly spaced ones stand for the rest


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """One stage's latencies for its histogram, with the marks drawn over it."""

    path: str
    depth: int
    values: NDArray[np.float64]
    p50: float | None
    p95: float | None
    p99: float | None
    target_ms: float | None
    verdict: str


@dataclass(frozen=True, slots=True)
class QueryBar:
    """One query's top-level stage durations, in stage order (a column of the waterfall)."""

    id: str
    total_ms: float
    spans: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class BottleneckBar:
    """A stage's share of queries where it was the largest stage."""

    stage: str
    queries: int
    fraction: float
    priority: str


@dataclass(frozen=True, slots=True)
class MemorySeries:
    """A memory line to draw: measured points, or the fitted leak line (dashed)."""

    name: str
    points: tuple[tuple[float, float], ...]
    fitted: bool


@dataclass(frozen=True, slots=True)
class HtmlData:
    """Everything the HTML template draws."""

    latency: tuple[LatencyRow, ...] = ()
    waterfall_stages: tuple[str, ...] = ()
    waterfall: tuple[QueryBar, ...] = ()
    waterfall_of: int = 0  # the successful queries the waterfall's columns are drawn from
    bottlenecks: tuple[BottleneckBar, ...] = ()
    thresholds: tuple[tuple[str, float], ...] = ()
    artifacts: tuple[tuple[str, str, str | None], ...] = field(default_factory=tuple)
    memory: tuple[MemorySeries, ...] = ()
    memory_x: str = "iteration"


def template_data(report: Report) -> HtmlData:
    """The chart data of a report (empty when there is no run file)."""
    run = report.run
    artifacts = tuple((a.kind, a.path, a.open_command) for f in report.files for a in f.artifacts)
    memory, memory_x = _memory(report)
    if run is None:
        return HtmlData(artifacts=artifacts, memory=memory, memory_x=memory_x)
    top = [info.path for info in run.stages if info.parent is None and info.enabled]
    config = report.roadmap.config if report.roadmap is not None else None
    bars = tuple(
        BottleneckBar(
            b.stage, b.queries, b.fraction, priority_for(b.fraction, config) if config is not None else b.priority
        )
        for b in run.summary.bottlenecks
    )
    thresholds = (
        (("P1", config.p1_fraction), ("P0", config.p0_fraction)) if config is not None else (("P1", 0.1), ("P0", 0.2))
    )
    return HtmlData(
        latency=_latency(run),
        waterfall_stages=tuple(top),
        waterfall=_waterfall(run, top),
        waterfall_of=int(run.queries.ok.sum()),
        bottlenecks=bars,
        thresholds=thresholds,
        artifacts=artifacts,
        memory=memory,
        memory_x=memory_x,
    )


def _waterfall(run: RunFile, top: list[str]) -> tuple[QueryBar, ...]:
    """One bar per successful query, or MAX_BARS of them evenly spaced in run order: a page stays small."""
    table = run.queries
    rows = np.flatnonzero(table.ok)
    if rows.size > MAX_BARS:
        rows = rows[np.linspace(0, rows.size - 1, MAX_BARS).round().astype(int)]
    ids = table.ids()
    spans = [np.nan_to_num(table.span(path)) for path in top]
    totals = table.total_ms.values
    return tuple(QueryBar(ids[i], float(totals[i]), tuple(float(column[i]) for column in spans)) for i in rows)


def _latency(run: RunFile) -> tuple[LatencyRow, ...]:
    table = run.queries
    # The pipeline total is judged by the pipeline's p95 target.
    total_target = next((t.target for t in run.summary.targets if t.name == "p95_ms"), None)
    rows = []
    for stage in (*run.summary.stages, run.summary.total):
        if stage.skipped or stage.n == 0:
            continue
        values = table.total_ms.values[table.ok] if stage.path == "total" else table.ok_span(stage.path)
        rows.append(
            LatencyRow(
                path=stage.path,
                depth=stage.path.count(".") if stage.path != "total" else 0,
                values=values,
                p50=stage.p50,
                p95=stage.p95,
                p99=stage.p99,
                target_ms=total_target if stage.path == "total" else stage.target_ms,
                verdict=_total_verdict(run) if stage.path == "total" else stage.verdict,
            )
        )
    return tuple(rows)


def _total_verdict(run: RunFile) -> str:
    return next((t.verdict for t in run.summary.targets if t.name == "p95_ms"), "n/a")


def _memory(report: Report) -> tuple[tuple[MemorySeries, ...], str]:
    """RSS and heap per leak iteration with their fitted lines; else per measured query of a memory run."""
    leak = report.leak.leak if report.leak is not None else None
    if leak is not None and leak.series:
        lines = []
        for name, fit, pick in (("heap", leak.heap, 1), ("RSS", leak.rss, 0)):
            points = tuple(
                (float(p.iteration), value) for p in leak.series if (value := (p.rss, p.heap)[pick]) is not None
            )
            if not points:
                continue
            lines.append(MemorySeries(f"{name} (MB)", points, fitted=False))
            if fit is not None:
                xs = (points[0][0], points[-1][0])
                fitted = tuple((x, fit.intercept + fit.slope * x) for x in xs)
                lines.append(MemorySeries(f"{name} fit: {fit.slope:+.3f} MB/iter", fitted, fitted=True))
        return tuple(lines), "iteration"
    memory = report.memory
    if memory is not None and len(memory.series) > 1:
        lines = []
        for name, pick in (("heap", 1), ("RSS", 0)):
            points = tuple(
                (float(p.index), value) for p in memory.series if (value := (p.rss, p.heap)[pick]) is not None
            )
            if points:
                lines.append(MemorySeries(f"{name} (MB)", points, fitted=False))
        return tuple(lines), "query"
    return (), "iteration"
