"""Memory, leak and load sections as format-neutral blocks (a title, sentences, a table).

Each text renderer lays a block out in its own markup, so the three formats say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragperf.renderers.format import fmt_mb, fmt_ms, fmt_pct
from ragperf.renderers.sections import short_path
from ragperf.schema.memory import HEAP_MEANS, RSS_MEANS, RSS_SHARED, WORKING_MEANS

if TYPE_CHECKING:
    from ragperf.renderers.base import Report
    from ragperf.schema.load import LoadReport
    from ragperf.schema.memory import LeakReport, MemoryReport, SlopeFit

__all__ = ["Block", "load_blocks", "memory_blocks"]


@dataclass(frozen=True, slots=True)
class Block:
    """A titled piece of a section: sentences, then an optional table (first column is text)."""

    title: str
    text: tuple[str, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    text_columns: int = 1  # the first columns hold text (left-aligned), the rest numbers


def _slope(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def memory_blocks(report: Report) -> list[Block]:
    """The memory analysis: baseline/peak/per-stage memory, then the leak verdict and its evidence."""
    blocks = []
    memory = report.memory
    if memory is not None:
        blocks += _memory(memory)
    if report.leak is not None and report.leak.leak is not None:
        blocks += _leak(report.leak.leak)
    if not blocks:
        blocks.append(
            Block(
                "Not measured",
                (
                    "No memory figures in these files: 'ragperf run --memory' measures per-stage memory, "
                    "'ragperf leak' the trend over iterations, and 'ragperf profile' does both.",
                ),
            )
        )
    return blocks


_RSS_METHODS = ("rss-high-water", "rss-heap-ends")


def _memory(memory: MemoryReport) -> list[Block]:
    text = (
        f"Memory per request (the {WORKING_MEANS.partition(':')[0]} of a whole query): mean "
        f"{fmt_mb(memory.request_working_mean)}, p95 {fmt_mb(memory.request_working_p95)}, "
        f"max {fmt_mb(memory.request_working_max)}.",
        _process(memory),
        f"Working peak = {WORKING_MEANS}; source: {memory.working_source}. {RSS_MEANS}; {HEAP_MEANS} "
        f"({memory.heap_source or '-'}).",
        *((f"{RSS_SHARED}.",) if memory.working_method in _RSS_METHODS else ()),
    )
    rows = tuple(
        (
            s.path,
            str(s.n),
            fmt_mb(s.working_peak_mean),
            fmt_mb(s.working_peak_max),
            fmt_mb(s.rss_delta_mean, signed=True),
            fmt_mb(s.heap_delta_mean, signed=True),
            fmt_mb(s.rss_rise_max, signed=True),
            s.verdict,
        )
        for s in memory.stages
    )
    header = (
        "stage",
        "n",
        "working peak, mean",
        "working peak, max",
        "RSS change, mean",
        "heap change, mean",
        "RSS rise, max",
        "verdict",
    )
    return [Block("Peak working memory per stage", text, header, rows)]


def _process(memory: MemoryReport) -> str:
    if memory.baseline_rss is None and memory.peak_rss is None:
        return "Process RSS and heap: not read (run with --memory to read them)."
    return (
        f"Process RSS {fmt_mb(memory.rss_start)} before the pipeline was imported, {fmt_mb(memory.baseline_rss)} "
        f"after setup and warm-up (heap {fmt_mb(memory.baseline_heap)}); process peak {fmt_mb(memory.peak_rss)} "
        f"(in {memory.peak_where or 'unknown'}); change over the measured queries: RSS "
        f"{fmt_mb(memory.total_delta_rss, signed=True)}, heap {fmt_mb(memory.total_delta_heap, signed=True)}."
    )


def _fit_row(name: str, fit: SlopeFit | None) -> tuple[str, ...]:
    if fit is None:
        return (name, "-", "-", "-", "-")
    return (
        name,
        _slope(fit.slope),
        f"{_slope(fit.ci_low)} to {_slope(fit.ci_high)}",
        _slope(fit.late_slope),
        str(fit.n),
    )


def _leak(leak: LeakReport) -> list[Block]:
    target = "" if leak.target is None else f" against a target of {leak.target:g} MB/iter ({leak.verdict})"
    text = (
        leak.message.rstrip(".") + ".",
        f"{leak.iterations} iterations (one query each) after {leak.warmup} discarded, "
        f"gc between iterations: {'yes' if leak.gc_between else 'no'}; judged on the {leak.basis}{target}.",
    )
    blocks = [
        Block(
            "Leak detection",
            text,
            ("series", "slope (MB/iter)", "95% interval", "second half", "n"),
            (_fit_row("Python heap", leak.heap), _fit_row("RSS", leak.rss)),
        )
    ]
    # Below the noise floor the sites still say where memory moves, but nothing needs fixing.
    note = "" if leak.detected else " (below the leak threshold, for reference)"
    owners = [s for s in leak.stages if s.growth_per_iter]
    if owners:
        blocks.append(
            Block(
                "Where the growth is" + note,
                (),
                ("stage", "growth (MB/iter)", "share of growth", "heap change per query"),
                tuple(
                    (s.path, _slope(s.growth_per_iter), fmt_pct(s.share), fmt_mb(s.heap_delta_mean, signed=True))
                    for s in owners
                ),
            )
        )
    if leak.sites:
        blocks.append(
            Block(
                "Growing allocation sites" + note,
                (f"tracemalloc snapshots every {leak.snapshot_every} iterations, {leak.tracemalloc_frames} frames.",),
                ("stage", "where", "code", "growth (MB/iter)", "live (MB)"),
                tuple(
                    (
                        s.stage,
                        f"{short_path(s.file)}:{s.line}",
                        s.code or "",
                        _slope(s.growth_per_iter),
                        f"{s.size:.2f}",
                    )
                    for s in leak.sites[:10]
                ),
                text_columns=3,
            )
        )
    return blocks


def load_blocks(report: Report) -> list[Block]:
    """The load test: capacity found, and each rate step."""
    if report.load is None or report.load.load is None:
        return []
    load: LoadReport = report.load.load
    rate = "-" if load.max_rate_qps is None else f"{load.max_rate_qps:.1f} qps"
    peak = "-" if load.peak_rate_qps is None else f"{load.peak_rate_qps:.1f} qps"
    text = [
        f"{load.mode} test, {load.arrival} arrivals, {load.workers} workers ({load.engine}); latency measured "
        "from each query's intended start, so queueing counts.",
        f"Highest rate holding the p95 target ({fmt_ms(load.p95_target_ms)} ms) and the error budget "
        f"({fmt_pct(load.error_budget)}): {rate}; highest rate sustained: {peak}.",
    ]
    if load.first_rising_stage is not None:
        text.append(f"First stage to slow down as the rate rose: {load.first_rising_stage}.")
    rows = tuple(
        (
            f"{s.offered_qps:.1f}",
            f"{s.achieved_qps:.1f}",
            fmt_ms(s.latency.p50),
            fmt_ms(s.latency.p95),
            fmt_ms(s.service.p95),
            fmt_pct(s.error_rate),
            "yes" if s.sustained else "no",
            "yes" if s.holds_targets else "no",
        )
        for s in load.steps
    )
    header = (
        "offered qps",
        "achieved qps",
        "p50 ms",
        "p95 ms",
        "service p95 ms",
        "errors",
        "sustained",
        "holds target",
    )
    return [Block("Rate steps", tuple(text), header, rows)]
