"""The terminal's memory breakdown (baseline, peak, total delta, per stage) and leak summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ragperf.renderers.console import verdict_text
from ragperf.renderers.format import fmt_mb
from ragperf.schema.memory import RSS_MEANS, RSS_SHARED, WORKING_MEANS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from ragperf.schema.memory import LeakReport, MemoryReport, SlopeFit
    from ragperf.schema.run import RunFile

__all__ = ["render_leak", "render_memory", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"
_MAX_STACK = 6
_MIN_CODE_WIDTH = 16


def _slope(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def sparkline(values: Sequence[float | None], min_range: float = 0.0) -> str:
    """A one-line chart of a series (blank where a value is missing), spanning at least `min_range`."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = max(high - low, min_range)
    scale = (len(_BARS) - 1) / span if span > 0 else 0.0
    return "".join(" " if v is None else _BARS[round((v - low) * scale)] for v in values)


def render_memory(run: RunFile, console: Console) -> None:
    """Print the memory breakdown and, for a leak file, the leak summary."""
    if run.memory is not None:
        _breakdown(run.memory, console)
    if run.leak is not None:
        render_leak(run.leak, console)


def _breakdown(memory: MemoryReport, console: Console) -> None:
    heap = f", heap {fmt_mb(memory.baseline_heap)}" if memory.baseline_heap is not None else ""
    where = f" in {memory.peak_where}" if memory.peak_where else ""
    console.print(
        Text.assemble(
            ("Memory per request", "bold"),
            f" (peak working memory of a whole query): mean {fmt_mb(memory.request_working_mean)}"
            f" · p95 {fmt_mb(memory.request_working_p95)} · max {fmt_mb(memory.request_working_max)}",
        )
    )
    if memory.baseline_rss is None and memory.peak_rss is None:
        console.print(Text.assemble(("Process", "bold"), " RSS and heap: not read (run with --memory to read them)"))
    else:
        _process(memory, heap, where, console)
    _stages(memory, console)


def _process(memory: MemoryReport, heap: str, where: str, console: Console) -> None:
    console.print(
        Text.assemble(
            ("Process", "bold"),
            f" RSS: baseline {fmt_mb(memory.baseline_rss)}{heap} · process peak {fmt_mb(memory.peak_rss)}{where}"
            f" · change over the run {fmt_mb(memory.total_delta_rss, signed=True)}"
            + (
                f" (heap {fmt_mb(memory.total_delta_heap, signed=True)})" if memory.total_delta_heap is not None else ""
            ),
        )
    )


def _stages(memory: MemoryReport, console: Console) -> None:
    # Without the readings (a memray run without --memory) the net-change columns would all be blank.
    read = any(s.rss_delta_mean is not None or s.heap_delta_mean is not None for s in memory.stages)
    columns = ("stage", "working peak", "max", *(("+RSS", "+heap") if read else ()), "verdict")
    table = Table(title="Peak working memory per stage (MB above the stage's start)", title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in memory.stages:
        net = (fmt_mb(stage.rss_delta_mean, signed=True), fmt_mb(stage.heap_delta_mean, signed=True))
        table.add_row(
            stage.path,
            fmt_mb(stage.working_peak_mean),
            fmt_mb(stage.working_peak_max),
            *(net if read else ()),
            verdict_text(stage.verdict),
        )
    console.print(table)
    cost = f"; readings cost {memory.probe_us_per_stage:.0f} µs a stage" if memory.probe_us_per_stage else ""
    notes = [f"working peak = {WORKING_MEANS} ({memory.working_source})"]
    if memory.working_method in ("rss-high-water", "rss-heap-ends"):
        notes.append(RSS_SHARED)
    if read:
        notes.append(
            f"+RSS, +heap = net change across the stage, mean per query; {RSS_MEANS}; "
            f"heap = {memory.heap_source or 'not readable here'}{cost}"
        )
    for note in notes:
        console.print(Text(note, style="dim"))


def _fit_line(name: str, fit: SlopeFit | None, basis: bool) -> str:
    if fit is None:
        return f"  {name:<5} not readable here"
    mark = "  ← verdict" if basis else ""
    late = f", second half {_slope(fit.late_slope)}" if fit.late_slope is not None else ""
    return f"  {name:<5} {_slope(fit.slope)} MB/iter [95% CI {_slope(fit.ci_low)}, {_slope(fit.ci_high)}]{late}{mark}"


def render_leak(leak: LeakReport, console: Console) -> None:
    """The trend of RSS and heap, the verdict with its stage, and the growing allocation sites."""
    console.print(
        Text.assemble(
            ("Leak check", "bold"),
            f": {leak.iterations} iterations (one query each, gc between), "
            f"{leak.warmup} warm-up discarded; Theil-Sen slopes",
        )
    )
    console.print(_fit_line("heap", leak.heap, leak.basis == "heap"))
    console.print(_fit_line("RSS", leak.rss, leak.basis == "rss"))
    series = [p.heap if leak.basis == "heap" else p.rss for p in leak.series]
    # Scaled to at least the growth a just-detectable leak would show, so noise stays flat.
    console.print(f"  trend {sparkline(series, leak.min_slope * len(series))}")
    headline, _, rest = leak.message.partition(": ")
    style = "bold red" if leak.detected else "green"
    console.print(Text.assemble("  ", (headline.upper(), style), f": {rest}"), soft_wrap=True)
    if leak.target is not None:
        console.print(Text.assemble(f"  target < {leak.target:g} MB/iter: ", verdict_text(leak.verdict)))
    if leak.sites:
        _sites(leak, console)
    elif leak.snapshot_every == 0:
        # The worker takes them only when a series grew faster than the noise floor, since sites explain growth.
        text = "  no allocation sites: no snapshots taken (nothing grew past the noise floor, or --snapshot-every 0)"
        console.print(Text(text, style="dim"))


def _sites(leak: LeakReport, console: Console) -> None:
    table = Table(
        title=f"Growing allocation sites (tracemalloc, snapshots {leak.snapshot_every} iterations apart)",
        title_justify="left",
    )
    shown = leak.sites[:10]
    rows = [
        (site.stage, f"{_short(site.file)}:{site.line}", f"{site.growth_per_iter:.3f}", fmt_mb(site.size))
        for site in shown
    ]
    headers = ("stage", "site", "MB/iter", "live")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for header, width in zip(headers, widths, strict=True):
        if header in {"stage", "site"}:
            table.add_column(header, no_wrap=True, min_width=width)
        else:
            table.add_column(header, no_wrap=True, min_width=width, justify="right")
    # The code gets what the console has left (3 characters of padding and border per column).
    room = max(_MIN_CODE_WIDTH, console.width - sum(widths) - 3 * (len(headers) + 1) - 1)
    table.add_column("code", no_wrap=True)
    for row, site in zip(rows, shown, strict=True):
        table.add_row(*row, _clip(site.code or "", room))
    console.print(table)
    top = leak.sites[0]
    console.print(f"  stack of the top site ({top.stage}), innermost first:")
    for frame in top.stack[:_MAX_STACK]:
        console.print(f"    {frame}")
    if len(top.stack) > _MAX_STACK:
        console.print(f"    ... {len(top.stack) - _MAX_STACK} more")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else path
