"""The Markdown report: the seed plan's structure, from executive summary to quick wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.base import Renderer, Report
from ragperf.renderers.blocks import Block, load_blocks, memory_blocks
from ragperf.renderers.format import fmt_amount, fmt_ms, fmt_pct
from ragperf.renderers.markdown_text import md_code, md_text
from ragperf.renderers.sections import (
    PRIORITY_TITLES,
    backend_label,
    character_text,
    context_lines,
    executive_lines,
    headline,
    hotspot_groups,
    largest_text,
    short_path,
    stage_label,
)
from ragperf.report_rules import priority_for

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ragperf.analysis.roadmap import LeakItem, Roadmap, RoadmapItem
    from ragperf.report_rules import Rule
    from ragperf.schema.run import RunFile, StageSummary

__all__ = ["MarkdownRenderer"]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[bool] | None = None) -> list[str]:
    align = right or [i > 0 for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if r else "---" for r in align) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


class MarkdownRenderer(Renderer):
    """A Markdown report, readable as text and on a code host."""

    name = "md"
    description = "Markdown report (executive summary, metrics, bottlenecks, roadmap, quick wins)"
    extension = ".md"

    def render(self, report: Report) -> str:
        """The whole report as Markdown."""
        out = [f"# Performance report: {md_text(report.title)}", ""]
        out += [md_text(headline(report)), ""]
        if report.run is not None and (context := context_lines(report.run)):
            out += [md_text(" ".join(context)), ""]
        out += ["## Executive summary", ""]
        rows = (
            [md_text(check), target, measured, verdict] for check, target, measured, verdict in executive_lines(report)
        )
        out += _table(["check", "target", "measured", "verdict"], rows)
        if report.run is not None:
            out += _metrics(report.run)
            out += _bottlenecks(report.run, report.roadmap)
            out += _hotspots(report.run)
        out += _blocks("Memory analysis", memory_blocks(report))
        out += _blocks("Throughput under load", load_blocks(report))
        if report.roadmap is not None:
            out += _roadmap(report.roadmap)
            out += _quick_wins(report.roadmap)
        out += _details(report)
        return "\n".join(out).rstrip() + "\n"


def _ci(value: float | None, ci: tuple[float, float] | None) -> str:
    return fmt_ms(value) if ci is None else f"{fmt_ms(value)} [{fmt_ms(ci[0])}-{fmt_ms(ci[1])}]"


def _metrics(run: RunFile) -> list[str]:
    summary = run.summary
    out = ["## Performance metrics", ""]
    out += [
        f"{summary.n_queries} measured queries ({summary.n_failed} failed) after {run.warmup} warm-up; "
        "milliseconds; [95% interval from order statistics].",
        "",
    ]
    rows: list[list[str]] = []
    for stage in (*summary.stages, summary.total):
        rows.append(_metric_row(run, stage))
    header = ["stage", "n", "mean", "p50", "p95 [95% CI]", "p99 [95% CI]", "max", "share", "target", "verdict"]
    out += _table(header, rows)
    cpu = [s for s in summary.stages if s.cpu_p50 is not None]
    if cpu:
        out += ["### CPU time per stage", "", "On the stage's own thread, against its wall time (ms).", ""]
        cpu_rows = [
            [
                stage_label(run, s.path),
                fmt_ms(s.cpu_p50),
                fmt_ms(s.p50),
                fmt_pct((s.cpu_mean or 0.0) / s.mean) if s.mean else "-",
            ]
            for s in cpu
        ]
        out += _table(["stage", "cpu p50", "wall p50", "cpu / wall"], cpu_rows)
    return out


def _metric_row(run: RunFile, s: StageSummary) -> list[str]:
    label = "**pipeline total**" if s.path == "total" else md_text(stage_label(run, s.path))
    if s.skipped:
        return [label, "", "", "", "", "", "", "", "", "skipped"]
    errors = f" ({s.n_errors} failed)" if s.n_errors else ""
    return [
        label,
        f"{s.n}{errors}",
        fmt_ms(s.mean),
        fmt_ms(s.p50),
        _ci(s.p95, s.p95_ci),
        _ci(s.p99, s.p99_ci),
        fmt_ms(s.max),
        fmt_pct(s.share) if s.path != "total" else "",
        "-" if s.target_ms is None else fmt_ms(s.target_ms),
        f"**{s.verdict}**" if s.verdict == "FAIL" else (s.verdict if s.target_ms is not None else ""),
    ]


def _bottlenecks(run: RunFile, roadmap: Roadmap | None) -> list[str]:
    out = ["## Bottleneck frequency", ""]
    if not run.summary.bottlenecks:
        return [*out, "No successful queries: no bottlenecks to count.", ""]
    out += ["The stage with the largest share of each query's time, counted over the measured queries.", ""]
    rows = []
    for b in run.summary.bottlenecks:
        prio = priority_for(b.fraction, roadmap.config) if roadmap is not None else b.priority
        rows.append([md_text(b.stage), str(b.queries), fmt_pct(b.fraction), prio])
    return out + _table(["stage", "queries", "share of queries", "priority"], rows)


def _hotspots(run: RunFile) -> list[str]:
    groups = hotspot_groups(run)
    if not groups:
        return []
    out = ["## Hotspots per stage", "", f"Function-level costs from the {md_text(run.backend.name)} backend.", ""]
    for stage, spots in groups:
        unit = spots[0].unit
        out += [f"### {md_text(stage)}", ""]
        rows = [
            [
                md_code(h.function) + (f" ({h.wait_label})" if h.wait_label else ""),
                f"{md_text(short_path(h.file))}:{h.line}",
                fmt_amount(h.self_value, unit),
                fmt_amount(h.total_value, unit),
                fmt_pct(h.share),
            ]
            for h in spots
        ]
        out += _table(["function", "where", "self", "total", "share of stage"], rows, [False, False, True, True, True])
    return out


def _blocks(title: str, blocks: list[Block]) -> list[str]:
    if not blocks:
        return []
    out = [f"## {title}", ""]
    for block in blocks:
        out += [f"### {block.title}", ""]
        for sentence in block.text:
            out += [md_text(sentence), ""]
        if block.header:
            rows = ([md_text(cell) for cell in row] for row in block.rows)
            out += _table(block.header, rows, [i >= block.text_columns for i in range(len(block.header))])
    return out


def _roadmap(roadmap: Roadmap) -> list[str]:
    cfg = roadmap.config
    out = ["## Optimisation roadmap", ""]
    out += [
        "A stage affects a query when it had the largest share of the query's time or ran over its target. "
        f"P0: more than {fmt_pct(cfg.p0_fraction)} of queries; P1: {fmt_pct(cfg.p1_fraction)} to "
        f"{fmt_pct(cfg.p0_fraction)}; P2: the rest.",
        "",
    ]
    if not roadmap.items and roadmap.leak is None:
        return [*out, "Nothing to fix: no stage was a bottleneck or over its target.", ""]
    leak = roadmap.leak
    for prio in ("P0", "P1", "P2"):
        items = [i for i in roadmap.items if i.priority == prio]
        if not items and (leak is None or leak.priority != prio):
            continue
        out += [f"### {prio}: {PRIORITY_TITLES[prio]}", ""]
        if leak is not None and leak.priority == prio:
            out += _leak_item(leak)
        for item in items:
            out += _item(item)
    return out


def _leak_item(item: LeakItem) -> list[str]:
    target = "" if item.target is None else f" against a target of {item.target:g} MB/iter ({item.verdict})"
    out = [f"#### {md_text(item.stage)} ({md_text(item.kind)}): {_signed(item.slope)} MB per query", ""]
    out += [f"- {md_text(item.message.rstrip('.'))}{target}."]
    if item.site is not None:
        out.append(f"- Growing allocation site: {md_code(item.site)}.")
    return out + _advice(item.advice)


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _item(item: RoadmapItem) -> list[str]:
    e = item.evidence
    out = [
        f"#### {md_text(item.stage)} ({md_text(item.kind)}): {e.affected_queries} of {e.queries} queries affected",
        "",
    ]
    target = (
        f"p95 {fmt_ms(e.p95)} ms against a {fmt_ms(e.target_ms)} ms target ({e.verdict}); "
        f"over target in {e.over_target_queries} queries"
        if e.target_ms is not None
        else f"p95 {fmt_ms(e.p95)} ms, no target set"
    )
    out += [
        f"- Share of the mean pipeline time: {fmt_pct(e.share)}; {md_text(largest_text(e))}.",
        f"- {target}.",
        f"- Character: {character_text(e)}.",
    ]
    if e.slowest_branch is not None:
        branch = md_text(e.slowest_branch)
        out.append(f"- Slowest branch: {branch} ({fmt_pct(e.slowest_branch_share)} of the stage's mean).")
    if e.hotspots:
        spots = ", ".join(f"{md_code(h.function)} {fmt_pct(h.share)}" for h in e.hotspots)
        out.append(f"- Dominant hotspots: {spots}.")
    return out + _advice(item.advice)


def _advice(advice: tuple[tuple[Rule, str], ...]) -> list[str]:
    # A rule's title and text may come from the user's own [report] rules.
    lines = [f"- **{md_text(rule.title)}** (effort {rule.effort}): {md_text(text)}" for rule, text in advice]
    return ["", "Advice:", "", *lines, ""]


def _quick_wins(roadmap: Roadmap) -> list[str]:
    out = ["## Quick wins", ""]
    if not roadmap.quick_wins:
        return [*out, "None: no small-effort advice applies to a P0 or P1 stage.", ""]
    out += [
        f"- [{item.priority} {md_text(item.stage)}] **{md_text(rule.title)}**: {md_text(text)}"
        for item, rule, text in roadmap.quick_wins
    ]
    return [*out, ""]


def _details(report: Report) -> list[str]:
    out = ["## Run details", ""]
    rows = []
    for name, f in report.named_files:
        env = f.environment
        state = "complete" if f.complete else f"incomplete ({f.incomplete_reason})"
        cells = [
            name,
            backend_label(f),
            state,
            env.started_at,
            f"Python {env.python} on {env.platform}, {env.cpu_count} CPUs",
            (env.git_commit or "-")[:12] + (" (dirty)" if env.git_dirty else ""),
        ]
        rows.append([md_text(cell) for cell in cells])
    out += _table(["file", "backend", "state", "started", "environment", "git"], rows, [False] * 6)
    notes = dict.fromkeys(note for f in report.files for note in f.notes)
    if notes:
        out += ["Notes from the pipeline:", "", *(f"- {md_text(note)}" for note in notes), ""]
    artifacts = [a for f in report.files for a in f.artifacts]
    if artifacts:
        out += ["Native profiler output:", ""]
        out += [
            f"- {md_text(a.kind)}: {md_code(a.path)}"
            + (f" (open with {md_code(a.open_command)})" if a.open_command else "")
            for a in artifacts
        ]
        out.append("")
    return out
