"""A run report's content, composed once: every format lays out this document and decides nothing.

The order follows the seed plan: executive summary, latency, per-query breakdown, bottlenecks,
hotspots (a flame graph per stage), memory, load, the roadmap (sorted, the leak merged in), and
the run's details (notes and warnings said once, native files linked relative to the report).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.verdicts import checks, worst
from ragperf.renderers.compose_files import load_section, memory_section
from ragperf.renderers.compose_roadmap import roadmap_section
from ragperf.renderers.content import (
    Bars,
    Document,
    Histogram,
    Links,
    ListBlock,
    Para,
    Row,
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
from ragperf.renderers.flame import overview, stage_flames
from ragperf.renderers.format import fmt_amount, fmt_ms, fmt_pct, short_path

if TYPE_CHECKING:
    from ragperf.renderers.base import Report
    from ragperf.renderers.content import Block, Inline
    from ragperf.schema.run import Hotspot, RunFile, StageSummary

__all__ = ["MAX_BARS", "compose", "context_lines", "executive_rows", "headline", "relative_to", "run_summary"]

MAX_BARS = 300  # per-query columns drawn; past this many queries, evenly spaced ones stand for the rest
_TOP_PER_STAGE = 5
_LABELS = {
    "p50_ms": "p50 latency",
    "p95_ms": "p95 latency",
    "p99_ms": "p99 latency",
    "peak_memory_mb": "peak memory (RSS)",
    "request_memory_mb": "memory per request",
    "leak_mb_per_iter": "memory leak rate",
    "sustained_qps": "sustained load",
    "peak_qps": "peak load",
}
# The key indicators: shown as "not measured" when a target is set and no file measured them.
_KPIS = ("p50_ms", "p95_ms", "p99_ms", "peak_memory_mb", "request_memory_mb", "leak_mb_per_iter")
_KPI_UNITS = {"peak_memory_mb": "MB", "request_memory_mb": "MB", "leak_mb_per_iter": "MB/iter"}
_MAX_PACKAGES = 15
_CORE_PACKAGES = frozenset({"ragperf", "pydantic", "pydantic-core", "numpy", "typing-extensions", "annotated-types"})


def compose(report: Report) -> Document:
    """The whole report of a run, with its memory run, leak check and load test when given."""
    sections = [Section("summary", "Executive summary", (_executive(report),))]
    run = report.run
    if run is not None:
        sections += [_metrics(run), _waterfall(run), _bottlenecks(report, run)]
        if run.hotspots or run.profiles:
            sections.append(_hotspots(run))
    sections.append(memory_section(report))
    load = load_section(report)
    if load is not None:
        sections.append(load)
    if report.roadmap is not None:
        sections.append(roadmap_section(report.roadmap))
    sections.append(_details(report))
    return Document(
        title=f"Performance report: {report.title}",
        headline=headline(report),
        meta=_meta(report),
        sections=tuple(sections),
        sources=", ".join(name for name, _ in report.named_files) or "no files",
    )


def run_summary(run: RunFile) -> Document:
    """What `ragperf run` prints after measuring: latency, bottlenecks, hotspots, memory, and what to look at."""
    from ragperf.renderers.base import Report

    report = Report(run=run)
    sections = [_metrics(run), Section("targets", "Targets", (_executive(report),)), _bottlenecks(report, run)]
    if run.hotspots or run.profiles:
        sections.append(_hotspots(run))
    if run.memory is not None:
        sections.append(memory_section(report))
    sections.append(_details(report, table=False))
    return Document(title=run.pipeline, headline=_run_line(run), meta=_meta(report), sections=tuple(sections))


def _run_line(run: RunFile) -> Inline:
    state = "complete" if run.complete else f"INCOMPLETE ({run.incomplete_reason})"
    n = run.summary
    return inline(
        strong(run.pipeline),
        f": {n.n_queries} measured queries ({n.n_failed} failed), backend ",
        strong(run.backend.name),
        f", {state}",
    )


def _configured_targets(report: Report) -> dict[str, float]:
    for f in report.files:
        targets = f.config.get("targets")
        if isinstance(targets, dict):
            return {k: float(v) for k, v in targets.items() if isinstance(v, int | float)}
    return {}


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{fmt_ms(value)} ms"
    if unit == "MB/iter":
        return f"{value:+.3f} MB/iter"
    return f"{value:.1f} {unit}"


def executive_rows(report: Report) -> list[tuple[str, str, str, str]]:
    """(check, target, measured, verdict) for every judged target: pipeline, stages, memory, leak, load."""
    found: dict[str, tuple[str, str, str, str]] = {}
    for c in checks(report.run, report.files):
        sign = ">=" if c.at_least else "<"
        limit = f"{c.target:g} {c.unit}" if c.unit != "ms" else _amount(c.target, c.unit)
        found[c.name] = (_LABELS.get(c.name, c.name), f"{sign} {limit}", _amount(c.measured, c.unit), c.verdict)
    configured = _configured_targets(report)
    for name in _KPIS:
        if name not in found and name in configured:
            unit = _KPI_UNITS.get(name, "ms")
            limit = f"{configured[name]:g} {unit}" if unit != "ms" else _amount(configured[name], unit)
            found[name] = (_LABELS[name], f"< {limit}", "not measured", "n/a")
    order = list(_LABELS)
    return [found[n] for n in sorted(found, key=lambda n: order.index(n) if n in order else len(order))]


def headline(report: Report) -> Inline:
    """One sentence: the overall verdict, the failed checks, and the top item of the roadmap."""
    rows = executive_rows(report)
    failed = [row for row in rows if row[3] == "FAIL"]
    judged = sum(row[3] != "n/a" for row in rows)
    verdict = worst(row[3] for row in rows)
    text = (
        f"{len(failed)} of {judged} checks failed ({', '.join(r[0] for r in failed)})"
        if failed
        else "every measured check passed"
    )
    run = report.run
    text += f"; {run.summary.n_queries} queries, backend {run.backend.name}." if run is not None else "."
    roadmap = report.roadmap
    if roadmap is not None and roadmap.leak is not None and roadmap.leak.priority == "P0":
        text += f" Top item: a memory leak in {roadmap.leak.stage} (P0)."
    elif roadmap is not None and roadmap.items:
        top = roadmap.items[0]
        text += f" Top item: {top.stage} ({top.priority}, {fmt_pct(top.evidence.fraction)} of queries affected)."
    return inline(badge(verdict), ": " + text)


def _executive(report: Report) -> Table:
    rows = tuple(row(c, t, m, badge(v)) for c, t, m, v in executive_rows(report))
    cols = columns("<check", "target", "measured", "verdict")
    return Table("Checks against the targets", cols, rows)


def _meta(report: Report) -> tuple[Inline, ...]:
    run = report.run
    if run is None:
        return ()
    env = run.environment
    first = (
        f"{run.summary.n_queries} queries after {run.warmup} warm-up, backend {run.backend.name}, "
        f"started {env.started_at}, Python {env.python}, {env.cpu_count} CPUs ({env.cpu_model})."
    )
    return (inline(first), *(inline(line) for line in context_lines(run)))


def context_lines(run: RunFile) -> list[str]:
    """What the run's numbers depend on: setup time, the machine's load while measuring, imported packages."""
    lines = []
    if run.setup is not None:
        setup = run.setup
        lines.append(
            f"Setup: {fmt_ms(setup.import_ms + setup.setup_ms)} ms before the first query "
            f"(imports {fmt_ms(setup.import_ms)} ms, setup call {fmt_ms(setup.setup_ms)} ms)."
        )
    machine = run.machine
    if machine is not None:
        share = machine.cpu_share
        cpu = "" if share is None else f"; the queries' CPU time was {share:.0%} of their wall time"
        lines.append(
            f"Machine while measuring: {machine.verdict}; other processes used {machine.others_cpus_mean:.1f} of "
            f"{machine.cpu_count} CPUs, every CPU busy during {machine.saturated_share:.0%} of the queries{cpu}."
        )
    imported = {name: v for name, v in run.environment.packages.items() if name.lower() not in _CORE_PACKAGES}
    if imported:
        shown = [f"{name} {v}" for name, v in list(imported.items())[:_MAX_PACKAGES]]
        more = len(imported) - len(shown)
        tail = f" and {more} more (all in the run file's environment.packages)" if more > 0 else ""
        lines.append("Imported by the pipeline: " + ", ".join(shown) + tail + ".")
    return lines


def _label(path: str) -> str:
    return "pipeline total" if path == "total" else path.rsplit(".", 1)[-1]


def _ci(ci: tuple[float, float] | None) -> str:
    return "-" if ci is None else f"{fmt_ms(ci[0])}-{fmt_ms(ci[1])}"


def _metrics(run: RunFile) -> Section:
    summary = run.summary
    intro = Para(
        inline(
            f"{summary.n_queries} measured queries ({summary.n_failed} failed) after {run.warmup} warm-up; "
            "milliseconds; intervals are 95% intervals from order statistics."
        ),
        "note",
    )
    cols = columns(
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
    rows = tuple(_metric_row(run, s) for s in (*summary.stages, summary.total))
    blocks: list[Block] = [intro, _histograms(run), Table("Latency per stage (ms)", cols, rows)]
    cpu = [s for s in summary.stages if s.cpu_p50 is not None]
    if cpu:
        cpu_rows = tuple(
            row(
                _label(s.path),
                fmt_ms(s.cpu_p50),
                fmt_ms(s.p50),
                fmt_pct((s.cpu_mean or 0.0) / s.mean) if s.mean else "-",
                depth=s.path.count("."),
            )
            for s in cpu
        )
        cpu_columns = columns("<stage", "cpu p50", "wall p50", "cpu / wall")
        blocks.append(Table("CPU time per stage (ms, on the stage's own thread)", cpu_columns, cpu_rows))
    metric_rows = tuple(
        row(s.path, name, str(m.n), f"{m.mean:.1f}", f"{m.p50:.1f}", f"{m.p95:.1f}")
        for s in summary.stages
        for name, m in s.metrics.items()
    )
    if metric_rows:
        metric_columns = columns("<stage", "<metric", "n", "mean", "p50", "p95")
        blocks.append(Table("Metrics the stages recorded", metric_columns, metric_rows))
    return Section("metrics", "Performance metrics", tuple(blocks))


def _metric_row(run: RunFile, s: StageSummary) -> Row:
    depth = s.path.count(".") if s.path != "total" else 0
    label = inline(_label(s.path) if s.path != "total" else strong("pipeline total"))
    if s.skipped:
        return row(label, *(inline("") for _ in range(10)), styled("skipped", "dim"), role="skipped", depth=depth)
    errors = f" ({s.n_errors} failed)" if s.n_errors else ""
    target = _total_target(run) if s.path == "total" else s.target_ms
    verdict = _total_verdict(run) if s.path == "total" else s.verdict
    cells = (
        label,
        f"{s.n}{errors}",
        fmt_ms(s.mean),
        fmt_ms(s.p50),
        fmt_ms(s.p95),
        _ci(s.p95_ci),
        fmt_ms(s.p99),
        _ci(s.p99_ci),
        fmt_ms(s.max),
        fmt_pct(s.share) if s.path != "total" else "",
        "-" if target is None else fmt_ms(target),
        badge(verdict) if target is not None else "",
    )
    return Row(tuple(inline(c) for c in cells), "total" if s.path == "total" else "", depth)


def _total_target(run: RunFile) -> float | None:
    return next((t.target for t in run.summary.targets if t.name == "p95_ms"), None)


def _total_verdict(run: RunFile) -> str:
    return next((t.verdict for t in run.summary.targets if t.name == "p95_ms"), "n/a")


def _histograms(run: RunFile) -> Histogram:
    table = run.queries
    rows = []
    for s in (*run.summary.stages, run.summary.total):
        if s.skipped or s.n == 0:
            continue
        values = table.total_ms.values[table.ok] if s.path == "total" else table.ok_span(s.path)
        target = _total_target(run) if s.path == "total" else s.target_ms
        marks = [(name, v) for name, v in (("p50", s.p50), ("p95", s.p95), ("target", target)) if v is not None]
        depth = s.path.count(".") if s.path != "total" else 0
        rows.append((_label(s.path), depth, values, tuple(marks)))
    return Histogram(
        tuple(rows),
        "Each stage's latency over the measured queries; each row has its own axis in ms, "
        "the count of queries of its tallest bar on the left.",
    )


def _waterfall(run: RunFile) -> Section:
    """One column per successful query (at most MAX_BARS, evenly spaced in run order): a page stays small."""
    top = [info.path for info in run.stages if info.parent is None and info.enabled]
    table = run.queries
    rows = np.flatnonzero(table.ok)
    of = rows.size
    if rows.size > MAX_BARS:
        rows = rows[np.linspace(0, rows.size - 1, MAX_BARS).round().astype(int)]
    ids = table.ids()
    spans = [np.nan_to_num(table.span(path)) for path in top]
    items = tuple((ids[i], tuple(float(column[i]) for column in spans)) for i in rows)
    if not items:
        return Section("waterfall", "Per-query breakdown", (Para(inline("No successful queries."), "note"),))
    sampled = f" ({len(items)} of {of} queries, evenly spaced)" if len(items) < of else ""
    ordered = tuple(sorted(items, key=lambda item: -sum(item[1])))
    return Section(
        "waterfall",
        "Per-query breakdown",
        (
            Stacked(
                items,
                tuple(top),
                "ms",
                "queries in the order run",
                f"Time per top-level stage, one column per query in the order run{sampled}.",
            ),
            Stacked(
                ordered,
                tuple(top),
                "ms",
                "queries, slowest first",
                "The same queries sorted by total time: the slow tail, and which stage makes it.",
            ),
        ),
    )


def _bottlenecks(report: Report, run: RunFile) -> Section:
    if not run.summary.bottlenecks:
        return Section("bottlenecks", "Bottleneck frequency", (Para(inline("No successful queries: none counted.")),))
    config = report.roadmap.config if report.roadmap is not None else None
    # The roadmap decides a stage's priority (share, then its target); a stage it left out keeps the run's.
    decided = {item.stage: item.priority for item in report.roadmap.items} if report.roadmap is not None else {}
    priority = {b.stage: decided.get(b.stage, b.priority) for b in run.summary.bottlenecks}
    thresholds = (("P1", config.p1_fraction), ("P0", config.p0_fraction)) if config else (("P1", 0.1), ("P0", 0.2))
    bars = Bars(
        tuple(
            (b.stage, b.fraction, priority[b.stage], f"{b.queries} {'query' if b.queries == 1 else 'queries'}")
            for b in run.summary.bottlenecks
        ),
        thresholds,
        "Share of queries in which the stage took the largest share of the time; dashed: the P1 and P0 thresholds.",
    )
    cols = columns("<stage", "queries", "share of queries", "priority")
    rows = tuple(
        row(b.stage, str(b.queries), fmt_pct(b.fraction), badge(p))
        for b in run.summary.bottlenecks
        if (p := priority[b.stage])
    )
    intro = Para(inline("The stage with the largest share of each query's time, counted over the measured queries."))
    return Section("bottlenecks", "Bottleneck frequency", (intro, bars, Table("Largest stage per query", cols, rows)))


def _hotspots(run: RunFile) -> Section:
    """Per stage: its flame graph (drawn from its sampled stacks) and its top functions by self cost."""
    order = {info.path: i for i, info in enumerate(run.stages)}
    flames = {(f.stage, f.unit): f for f in stage_flames(run.profiles)}
    keys = {(h.stage, h.unit) for h in run.hotspots} | set(flames)
    blocks: list[Block] = [
        Para(
            inline(
                f"From the {run.backend.name} backend. A flame graph's width is a frame's share of the stage; "
                "callers sit above the functions they call; hatched frames were waiting (I/O, sleep, locks)."
            ),
            "note",
        )
    ]
    whole = overview(run.profiles)
    if whole is not None:
        blocks.append(Sub("All stages", (whole,)))
    stages = sorted({stage for stage, _ in keys}, key=lambda s: (order.get(s, len(order)), s))
    for stage in stages:
        units = [u for u in ("ms", "bytes") if (stage, u) in keys]
        for unit in units:
            title = stage if len(units) == 1 else f"{stage} ({'time' if unit == 'ms' else 'memory'})"
            parts: list[Block] = []
            if (stage, unit) in flames:
                parts.append(flames[stage, unit])
            spots = sorted(
                (h for h in run.hotspots if h.stage == stage and h.unit == unit),
                key=lambda h: (-h.self_value, h.function),
            )[:_TOP_PER_STAGE]
            if spots:
                parts.append(_hotspot_table(spots, unit))
            blocks.append(Sub(title, tuple(parts)))
    return Section("hotspots", "Hotspots per stage", tuple(blocks))


def _hotspot_table(spots: list[Hotspot], unit: str) -> Table:
    cols = columns("<function", "<where", "self", "total", "share of stage|share")
    rows = tuple(
        row(
            inline(code(h.function), f" ({h.wait_label})" if h.wait_label else ""),
            code(f"{short_path(h.file)}:{h.line}", h.file),
            fmt_amount(h.self_value, unit),
            fmt_amount(h.total_value, unit),
            fmt_pct(h.share),
        )
        for h in spots
    )
    return Table("Top functions by self cost", cols, rows)


def _details(report: Report, *, table: bool = True) -> Section:
    blocks: list[Block] = []
    if table:
        cols = columns("<file", "<backend", "<state", "<started", "<environment", "<git")
        rows = []
        for name, f in report.named_files:
            env = f.environment
            state = "complete" if f.complete else f"incomplete ({f.incomplete_reason})"
            git = (env.git_commit or "-")[:12] + (" (dirty)" if env.git_dirty else "")
            cells = (
                name,
                f.backend.name
                if f.backend.distribution in (None, "ragperf")
                else f"{f.backend.name} ({f.backend.distribution} {f.backend.version or ''})".strip(),
                state,
                env.started_at,
                f"Python {env.python} on {env.platform}, {env.cpu_count} CPUs",
                git,
            )
            rows.append(row(*cells))
        blocks.append(Table("Files", cols, tuple(rows)))
    # Each file repeats its pipeline's notes (a profile writes three files): each is said once.
    notes = dict.fromkeys(note for f in report.files for note in f.notes)
    if notes:
        blocks.append(Sub("Notes from the pipeline", (ListBlock(tuple(inline(n) for n in notes)),)))
    warnings = dict.fromkeys(w for f in report.files for w in f.warnings)
    if warnings:
        blocks.append(Sub("Warnings about these measurements", tuple(Para(inline(w), "warning") for w in warnings)))
    for f in report.files:
        failed = f.queries.failures if f.kind == "run" else ()
        if failed:
            first = failed[0]
            blocks.append(
                Para(
                    inline(
                        styled(f"{len(failed)} queries failed", "bad"),
                        f"; first: query {first.index} in stage '{first.error.stage}': "
                        f"{first.error.type}: {first.error.message}",
                    ),
                    "warning",
                )
            )
    artifacts = tuple(
        (a.kind, relative_to(a.path, report.base), a.open_command) for f in report.files for a in f.artifacts
    )
    if artifacts:
        blocks.append(
            Links("Native profiler output, to open in the profiler's own viewer (full call trees):", artifacts)
        )
    return Section("details", "Run details", tuple(blocks))


def relative_to(path: str, base: Path | None) -> str:
    """An artifact's path as seen from the report's folder, so the link survives sharing the folder."""
    if base is None:
        return path
    try:
        return os.path.relpath(Path(path).resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        return path
