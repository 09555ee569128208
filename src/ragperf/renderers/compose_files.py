"""The content of the memory, leak and load sections: what the other files of a report add to its run.

Each section is built once here, for every format, and for the terminal views of `ragperf leak`
and `ragperf load` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.content import (
    Line,
    LineChart,
    ListBlock,
    Para,
    Row,
    Section,
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
from ragperf.renderers.format import fmt_mb, fmt_ms, fmt_pct, fmt_rate, short_path
from ragperf.schema.memory import HEAP_MEANS, RSS_MEANS, RSS_SHARED, WORKING_MEANS

if TYPE_CHECKING:
    from ragperf.renderers.base import Report
    from ragperf.renderers.content import Block
    from ragperf.schema.load import LoadReport
    from ragperf.schema.memory import LeakReport, MemoryReport, SlopeFit

__all__ = ["load_section", "memory_section"]

_MAX_SITES = 10


def _slope(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def memory_section(report: Report) -> Section:
    """Per-stage memory and memory per request, then the leak verdict, its trend and its sites."""
    blocks: list[Block] = []
    if report.memory is not None:
        blocks += _memory(report.memory)
    if report.leak is not None and report.leak.leak is not None:
        blocks += _leak(report.leak.leak)
    if not blocks:
        blocks.append(
            Para(
                inline(
                    "No memory figures in these files: ",
                    code("ragperf run --memory"),
                    " measures per-stage memory, ",
                    code("ragperf leak"),
                    " the trend over iterations, and ",
                    code("ragperf profile"),
                    " does both.",
                ),
                "note",
            )
        )
    return Section("memory", "Memory analysis", tuple(blocks))


def _memory(memory: MemoryReport) -> list[Block]:
    text = (
        Para(
            inline(
                strong("Memory per request"),
                f" ({WORKING_MEANS.partition(':')[0]} of a whole query): mean "
                f"{fmt_mb(memory.request_working_mean)}, p95 {fmt_mb(memory.request_working_p95)}, "
                f"max {fmt_mb(memory.request_working_max)}.",
            )
        ),
        Para(
            inline(strong("Process"), ": RSS and heap not read (run with --memory to read them).")
            if memory.baseline_rss is None and memory.peak_rss is None
            else inline(
                strong("Process"),
                f": RSS {fmt_mb(memory.rss_start)} before the pipeline was imported, "
                f"{fmt_mb(memory.baseline_rss)} after setup and warm-up (heap {fmt_mb(memory.baseline_heap)}); "
                f"peak {fmt_mb(memory.peak_rss)} (in {memory.peak_where or 'unknown'}); change over the measured "
                f"queries: RSS {fmt_mb(memory.total_delta_rss, signed=True)}, heap "
                f"{fmt_mb(memory.total_delta_heap, signed=True)}.",
            )
        ),
    )
    # Without the readings (a memray run without --memory) the net-change columns would all be blank.
    read = any(s.rss_delta_mean is not None or s.heap_delta_mean is not None for s in memory.stages)
    net_columns = ("RSS change, mean|ΔRSS", "heap change, mean|Δheap", "RSS rise, max|RSS rise") if read else ()
    cols = columns("<stage", "n", "working peak, mean|peak", "working peak, max|peak max", *net_columns, "verdict")
    rows = tuple(
        row(
            s.path.rsplit(".", 1)[-1],
            str(s.n),
            fmt_mb(s.working_peak_mean),
            fmt_mb(s.working_peak_max),
            *(
                (
                    fmt_mb(s.rss_delta_mean, signed=True),
                    fmt_mb(s.heap_delta_mean, signed=True),
                    fmt_mb(s.rss_rise_max, signed=True),
                )
                if read
                else ()
            ),
            badge(s.verdict),
            depth=s.path.count("."),
        )
        for s in memory.stages
    )
    cost = f"; readings cost {memory.probe_us_per_stage:.0f} µs a stage" if memory.probe_us_per_stage else ""
    note = Para(
        inline(
            f"Working peak = {WORKING_MEANS}; source: {memory.working_source}. {RSS_MEANS}; {HEAP_MEANS} "
            f"({memory.heap_source or '-'}){cost}."
            + (f" {RSS_SHARED}." if memory.working_method in ("rss-high-water", "rss-heap-ends") else "")
        ),
        "note",
    )
    blocks: list[Block] = [*text, Table("Peak working memory per stage", cols, rows), note]
    if len(memory.series) > 1:
        lines = []
        for colour, (name, pick) in enumerate((("heap", 1), ("RSS", 0))):
            points = tuple(
                (float(p.index), value) for p in memory.series if (value := (p.rss, p.heap)[pick]) is not None
            )
            if points:
                lines.append(Line(name, points, colour=colour))
        if lines:
            blocks.append(
                LineChart(
                    "Process memory after each measured query",
                    tuple(lines),
                    "measured query",
                    "MB",
                    "RSS and Python heap after each measured query.",
                )
            )
    return blocks


def _fit_row(name: str, fit: SlopeFit | None, basis: bool) -> Row:
    if fit is None:
        return row(name, "-", "-", "-", "-", "")
    cells = (
        name,
        _slope(fit.slope),
        f"{_slope(fit.ci_low)} to {_slope(fit.ci_high)}",
        _slope(fit.late_slope),
        str(fit.n),
        "verdict" if basis else "",
    )
    return row(*cells)


def _leak(leak: LeakReport) -> list[Block]:
    headline, _, rest = leak.message.rstrip(".").partition(": ")
    target = "" if leak.target is None else f" Against a target of {leak.target:g} MB/iter: "
    verdict = inline(
        styled(headline.upper(), "bad" if leak.detected else "good"),
        f": {rest}." if rest else ".",
        target,
        badge(leak.verdict) if target else "",
    )
    method = Para(
        inline(
            f"{leak.iterations} iterations (one query each) after {leak.warmup} discarded, gc between iterations: "
            f"{'yes' if leak.gc_between else 'no'}; Theil-Sen slopes; judged on the {leak.basis}."
        ),
        "note",
    )
    cols = columns("<series", "slope (MB/iter)|slope", "95% interval|95% CI", "second half|2nd half", "n", "<used for")
    rows = (_fit_row("Python heap", leak.heap, leak.basis == "heap"), _fit_row("RSS", leak.rss, leak.basis == "rss"))
    blocks: list[Block] = [Sub("Leak check", (Para(verdict, "lead"), method, Table("Trend", cols, rows)))]
    lines = []
    for colour, (name, fit, pick) in enumerate((("heap", leak.heap, 1), ("RSS", leak.rss, 0))):
        points = tuple((float(p.iteration), v) for p in leak.series if (v := (p.rss, p.heap)[pick]) is not None)
        if not points:
            continue
        lines.append(Line(name, points, colour=colour))
        if fit is not None:
            xs = (points[0][0], points[-1][0])
            fitted = tuple((x, fit.intercept + fit.slope * x) for x in xs)
            lines.append(Line(f"{name} trend {fit.slope:+.3f} MB/iter", fitted, dashed=True, colour=colour))
    if lines:
        blocks.append(
            LineChart(
                "Memory over the leak check's iterations",
                tuple(lines),
                "iteration",
                "MB",
                "After each iteration (gc'd), with the fitted trend dashed.",
            )
        )
    # Below the noise floor the sites still say where memory moves, but nothing needs fixing.
    note = "" if leak.detected else " (below the leak threshold, for reference)"
    owners = [s for s in leak.stages if s.growth_per_iter]
    if owners:
        owner_columns = columns(
            "<stage", "growth (MB/iter)|growth", "share of growth|share", "heap change per query|Δheap"
        )
        owner_rows = tuple(
            row(s.path, _slope(s.growth_per_iter), fmt_pct(s.share), fmt_mb(s.heap_delta_mean, signed=True))
            for s in owners
        )
        blocks.append(Table("Where the growth is" + note, owner_columns, owner_rows))
    if leak.sites:
        site_columns = columns("<stage", "<where", "<code", "growth (MB/iter)|growth", "live (MB)|live")
        site_rows = tuple(
            row(
                s.stage,
                code(f"{short_path(s.file)}:{s.line}", s.file),
                code(s.code or ""),
                _slope(s.growth_per_iter),
                f"{s.size:.2f}",
            )
            for s in leak.sites[:_MAX_SITES]
        )
        blocks.append(
            Table(
                "Growing allocation sites" + note,
                site_columns,
                site_rows,
                f"tracemalloc snapshots every {leak.snapshot_every} iterations, {leak.tracemalloc_frames} frames.",
            )
        )
        top = leak.sites[0]
        if top.stack:
            blocks.append(
                Sub(
                    f"Stack of the top site ({top.stage}), innermost first",
                    (ListBlock(tuple(inline(code(frame)) for frame in top.stack[:6])),),
                )
            )
    elif leak.snapshot_every == 0:
        # The worker takes them only when a series grew faster than the noise floor, since sites explain growth.
        none = "No allocation sites: no snapshots taken (nothing grew past the noise floor, or --snapshot-every 0)."
        blocks.append(Para(inline(none), "note"))
    return blocks


def load_section(report: Report) -> Section | None:
    """The load test: the capacity found, a chart by offered rate (or over time for one rate), each step."""
    if report.load is None or report.load.load is None:
        return None
    load: LoadReport = report.load.load
    blocks: list[Block] = [
        Para(
            inline(
                f"{load.mode} test, {load.arrival} arrivals, {load.workers} workers x {load.concurrency} in flight "
                f"({load.engine}); latency measured from each query's intended start, so queueing counts."
            )
        )
    ]
    if load.engine == "locust":
        blocks.append(Para(inline("Locust runs closed loop: latency here is the service time."), "note"))
    if load.mode != "fixed":
        blocks.append(
            Para(
                inline(
                    f"Highest rate holding the p95 target ({fmt_ms(load.p95_target_ms)} ms) and the error budget "
                    f"({fmt_pct(load.error_budget)}): ",
                    strong(f"{fmt_rate(load.max_rate_qps)} qps"),
                    f"; highest rate sustained: {fmt_rate(load.peak_rate_qps)} qps.",
                ),
                "lead",
            )
        )
    if load.first_rising_stage is not None:
        blocks.append(
            Para(
                inline(
                    "First stage to slow down as the rate rose: ",
                    strong(load.first_rising_stage),
                    f" (median up more than 1.5x at {fmt_rate(load.first_rising_qps)} qps).",
                )
            )
        )
    blocks.append(_load_chart(load))
    cols = columns(
        "offered qps|offered",
        "achieved qps|achieved",
        "goodput qps|goodput",
        "errors",
        "p50 ms|p50",
        "p95 ms|p95",
        "p99 ms|p99",
        "service p95 ms|svc p95",
        "schedule lag p99 ms|lag p99",
        "sustained|sust.",
        "holds target|held",
    )
    rows = tuple(
        row(
            fmt_rate(s.offered_qps),
            fmt_rate(s.achieved_qps),
            fmt_rate(s.goodput_qps),
            fmt_pct(s.error_rate),
            fmt_ms(s.latency.p50),
            fmt_ms(s.latency.p95),
            fmt_ms(s.latency.p99),
            fmt_ms(s.service.p95),
            fmt_ms(s.schedule_p99_ms),
            styled("yes", "good") if s.sustained else styled("no", "bad"),
            styled("yes", "good") if s.holds_targets else styled("no", "bad"),
        )
        for s in sorted(load.steps, key=lambda s: s.offered_qps)
    )
    blocks.append(Table("Rate steps, by offered rate (latency from the intended start)", cols, rows))
    for step in load.steps:
        if not step.sustained:
            growth = "" if step.latency_growth is None else f"; p95 grew x{step.latency_growth:.1f} over the step"
            blocks.append(
                Para(
                    inline(
                        styled(f"{fmt_rate(step.offered_qps)} qps was not sustained", "bad"),
                        f": {fmt_rate(step.achieved_qps)} qps achieved, "
                        f"{step.unserved} arrivals never started{growth}.",
                    ),
                    "warning",
                )
            )
    chosen = next((s for s in load.steps if s.offered_qps == load.max_rate_qps), load.steps[-1])
    stage_columns = columns("<stage", "n", "mean", "p50", "p95", "p99", "max", "target", "verdict")
    stage_rows = [
        row(
            st.path.rsplit(".", 1)[-1],
            f"{st.n}" + (f" ({st.n_errors} err)" if st.n_errors else ""),
            *(inline(fmt_ms(v)) for v in (st.mean, st.p50, st.p95, st.p99, st.max)),
            "-" if st.target_ms is None else fmt_ms(st.target_ms),
            badge(st.verdict) if st.target_ms is not None else "",
            depth=st.path.count("."),
        )
        for st in chosen.stages
    ]
    for label, st in (("service (whole pipeline)", chosen.service), ("latency (queueing included)", chosen.latency)):
        stage_rows.append(
            row(
                label,
                str(st.n),
                *(inline(fmt_ms(v)) for v in (st.mean, st.p50, st.p95, st.p99, st.max)),
                "",
                "",
                role="total",
            )
        )
    blocks.append(
        Table(f"Per stage at {fmt_rate(chosen.offered_qps)} qps (service time, ms)", stage_columns, tuple(stage_rows))
    )
    if load.verdicts:
        verdict_columns = columns("<target", "goal", "measured", "verdict")
        verdict_rows = tuple(
            row(v.name, f">= {fmt_rate(v.target)} qps", f"{fmt_rate(v.measured)} qps", badge(v.verdict))
            for v in load.verdicts
        )
        blocks.append(Table("Throughput targets", verdict_columns, verdict_rows))
    return Section("load", "Throughput under load", tuple(blocks))


def _load_chart(load: LoadReport) -> LineChart:
    """p95 by offered rate, sorted by rate, the capacity marked; one rate: p95 over the test's time."""
    steps = sorted(load.steps, key=lambda s: s.offered_qps)
    target = (("p95 target", load.p95_target_ms),) if load.p95_target_ms is not None else ()
    if len(steps) == 1:
        step = steps[0]
        p95 = tuple((w.t_s, w.p95_ms) for w in step.windows if w.p95_ms is not None)
        p50 = tuple((w.t_s, w.p50_ms) for w in step.windows if w.p50_ms is not None)
        return LineChart(
            f"Latency over time at {fmt_rate(step.offered_qps)} qps",
            (Line("p95 from intended start", p95, colour=5), Line("p50 from intended start", p50, colour=0)),
            "seconds into the test",
            "ms",
            "Latency per time window of the test; a rising line is a queue building up.",
            zero=True,
            levels=target if target and target[0][1] <= 2 * max((y for _, y in p95), default=0.0) else (),
        )
    latency = tuple((s.offered_qps, s.latency.p95) for s in steps if s.latency.p95 is not None)
    service = tuple((s.offered_qps, s.service.p95) for s in steps if s.service.p95 is not None)
    marks = (("capacity", load.max_rate_qps),) if load.max_rate_qps is not None else ()
    highest = max((y for _, y in latency), default=0.0)
    # A target far above every step would flatten the curves: drawn only when it is in the picture's range.
    levels = target if target and target[0][1] <= 2 * highest else ()
    caption = "p95 latency at each offered rate, in rate order; the green line is the highest rate that held the target"
    if target:
        where = "the dotted line" if levels else f"above the chart, at {fmt_ms(target[0][1])} ms"
        caption += f"; the p95 target is {where}"
    return LineChart(
        "p95 latency by offered rate",
        (Line("p95 from intended start", latency, colour=5), Line("p95 service time", service, dashed=True)),
        "offered rate (qps)",
        "ms",
        caption + ".",
        marks=marks,
        zero=True,
        levels=levels,
    )
