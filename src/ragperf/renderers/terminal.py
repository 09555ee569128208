"""The terminal summary of a run: stage table, pipeline targets, bottleneck frequency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from ragperf.renderers.console import verdict_text
from ragperf.renderers.format import fmt_amount, fmt_ms, fmt_pct
from ragperf.renderers.sections import context_lines, hotspot_group_title
from ragperf.renderers.terminal_memory import render_memory

if TYPE_CHECKING:
    from rich.console import Console

    from ragperf.schema.run import Hotspot, RunFile, StageSummary

__all__ = ["render_run"]

_HOTSPOTS_PER_STAGE = 3
_WIDE = 100  # columns from which the stage table has room for the p95 interval


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"{fmt_ms(ci[0])}-{fmt_ms(ci[1])}"


def render_run(run: RunFile, console: Console) -> None:
    """Print the summary tables of a run."""
    summary = run.summary
    state = "complete" if run.complete else f"INCOMPLETE ({run.incomplete_reason})"
    console.print(
        Text.assemble(
            (run.pipeline, "bold"),
            f": {summary.n_queries} measured queries ({summary.n_failed} failed), backend ",
            (run.backend.name, "bold"),
            f", {state}",
        )
    )
    for line in context_lines(run):
        console.print(Text(line, style="dim"))
    for note in run.notes:
        console.print(Text.assemble(("note:", "yellow"), f" {note}"))
    for warning in run.warnings:
        console.print(Text.assemble(("warning:", "bold yellow"), f" {warning}"))
    console.print(_stage_table(run, wide=console.width >= _WIDE))
    if any(s.cpu_p50 is not None for s in summary.stages):
        console.print(_cpu_table(run))
    console.print(_target_table(run))
    if summary.bottlenecks:
        console.print(_bottleneck_table(run))
    for line in _metric_lines(summary.stages):
        console.print(line)
    if run.hotspots:
        console.print(_hotspot_table(run))
    render_memory(run, console)
    failed = run.queries.failures
    if failed:
        index, first = failed[0].index, failed[0].error
        console.print(
            Text.assemble(
                (f"{len(failed)} queries failed", "bold red"),
                f"; first: query {index} in stage '{first.stage}': {first.type}: {first.message}",
            )
        )


def _stage_table(run: RunFile, *, wide: bool) -> Table:
    """One row per stage and sub-stage (indented); a narrow terminal leaves out the p95 interval and max."""
    table = Table(title="Latency per stage (ms)", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    columns = [
        "stage",
        "n",
        "mean",
        "p50",
        "p95",
        *(["p95 95% CI"] if wide else []),
        "p99",
        *(["max"] if wide else []),
        "share",
    ]
    for column in [*columns, "target", "verdict"]:
        table.add_column(column, justify="left" if column == "stage" else "right", no_wrap=column == "stage")
    depth = {info.path: info.path.count(".") for info in run.stages}
    for stage in run.summary.stages:
        name = "  " * depth.get(stage.path, 0) + stage.path.rsplit(".", 1)[-1]
        if stage.skipped:
            table.add_row(Text(name, style="dim"), *([""] * len(columns)), Text("skipped", style="dim"))
            continue
        table.add_row(*_stage_cells(name, stage, wide=wide))
    table.add_section()
    table.add_row(*_stage_cells("total", run.summary.total, wide=wide), style="bold")
    return table


def _stage_cells(name: str, s: StageSummary, *, wide: bool) -> list[str | Text]:
    target = "-" if s.target_ms is None else fmt_ms(s.target_ms)
    errors = f" ({s.n_errors} err)" if s.n_errors else ""
    return [
        name,
        f"{s.n}{errors}",
        fmt_ms(s.mean),
        fmt_ms(s.p50),
        fmt_ms(s.p95),
        *([_ci(s.p95_ci)] if wide else []),
        fmt_ms(s.p99),
        *([fmt_ms(s.max)] if wide else []),
        fmt_pct(s.share) if s.path != "total" else "",
        target,
        verdict_text(s.verdict) if s.target_ms is not None else Text(""),
    ]


def _cpu_table(run: RunFile) -> Table:
    """Each stage's CPU time on its thread against its wall time: where it computed and where it waited."""
    table = Table(title="CPU time per stage (ms, the stage's thread)", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("stage", "cpu p50", "wall p50", "cpu / wall"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for s in run.summary.stages:
        if s.cpu_p50 is None:
            continue
        ratio = fmt_pct(s.cpu_mean / s.mean) if s.cpu_mean is not None and s.mean else "-"
        table.add_row(s.path, fmt_ms(s.cpu_p50), fmt_ms(s.p50), ratio)
    return table


def _target_table(run: RunFile) -> Table:
    table = Table(title="Pipeline targets", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("target", "goal", "measured", "verdict"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for target in run.summary.targets:
        measured = "-" if target.measured is None else f"{fmt_ms(target.measured)} {target.unit}"
        table.add_row(target.name, f"< {fmt_ms(target.target)} {target.unit}", measured, verdict_text(target.verdict))
    return table


def _bottleneck_table(run: RunFile) -> Table:
    table = Table(title="Bottlenecks (the largest stage of each query)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)  # fmt: skip
    for column in ("stage", "queries", "share of queries", "priority"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for bottleneck in run.summary.bottlenecks:
        table.add_row(bottleneck.stage, str(bottleneck.queries), fmt_pct(bottleneck.fraction), bottleneck.priority)
    return table


def _metric_lines(stages: tuple[StageSummary, ...]) -> list[str]:
    lines = []
    for stage in stages:
        for name, m in stage.metrics.items():
            lines.append(f"{stage.path} {name}: mean {m.mean:.1f}, p50 {m.p50:.1f}, p95 {m.p95:.1f} (n={m.n})")
    return lines


def _hotspot_table(run: RunFile) -> Table:
    """Each stage's top functions by self cost (from the profiler backend), waits labelled."""
    table = Table(title=f"Top hotspots per stage ({run.backend.name})", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)  # fmt: skip
    for column in ("stage", "function", "file:line", "self", "self share"):
        table.add_column(column, justify="right" if column.startswith("self") else "left")
    order = {info.path: i for i, info in enumerate(run.stages)}
    by_stage: dict[str, dict[str, list[Hotspot]]] = {}
    for spot in run.hotspots:
        if spot.self_value > 0:
            by_stage.setdefault(spot.stage, {}).setdefault(spot.unit, []).append(spot)
    for stage in sorted(by_stage, key=lambda s: order.get(s, len(order))):
        units = by_stage[stage]
        # A backend may report time (ms) and memory (bytes) for one stage: ranked apart, time first, labelled.
        for unit in sorted(units, key=lambda u: u != "ms"):
            title = hotspot_group_title(stage, unit, len(units) > 1)
            top = sorted(units[unit], key=lambda h: -h.share)[:_HOTSPOTS_PER_STAGE]
            for rank, spot in enumerate(top):
                function = spot.function + (f" ({spot.wait_label})" if spot.wait_label else "")
                where = f"{_short(spot.file)}:{spot.line}" if spot.line else _short(spot.file)
                cost = fmt_amount(spot.self_value, spot.unit)
                table.add_row(title if rank == 0 else "", function, where, cost, fmt_pct(spot.share))
    return table


def _short(path: str, keep: int = 2) -> str:
    """The last `keep` parts of a file path: enough to find it, short enough for a table."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-keep:])
