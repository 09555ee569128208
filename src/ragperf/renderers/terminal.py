"""The terminal summary of a run: stage table, pipeline targets, bottleneck frequency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ragperf.renderers.format import fmt_ms, fmt_pct

if TYPE_CHECKING:
    from rich.console import Console

    from ragperf.schema.v1 import RunFile, StageSummary

__all__ = ["render_run"]

_STYLE = {"PASS": "green", "FAIL": "bold red", "n/a": "dim"}


def _verdict(verdict: str) -> Text:
    return Text(verdict, style=_STYLE.get(verdict, ""))


def _with_ci(value: float | None, ci: tuple[float, float] | None) -> str:
    if ci is None:
        return fmt_ms(value)
    return f"{fmt_ms(value)} [{fmt_ms(ci[0])}-{fmt_ms(ci[1])}]"


def render_run(run: RunFile, console: Console) -> None:
    """Print the summary tables of a run."""
    summary = run.summary
    state = "complete" if run.complete else f"INCOMPLETE ({run.incomplete_reason})"
    console.print(
        f"[bold]{run.pipeline}[/bold]: {summary.n_queries} measured queries ({summary.n_failed} failed), "
        f"backend [bold]{run.backend.name}[/bold], {state}"
    )
    console.print(_stage_table(run))
    console.print(_target_table(run))
    if summary.bottlenecks:
        console.print(_bottleneck_table(run))
    for line in _metric_lines(summary.stages):
        console.print(line)
    failed = [(q.index, q.error) for q in run.queries if q.error is not None]
    if failed:
        index, first = failed[0]
        console.print(
            f"[bold red]{len(failed)} queries failed[/bold red]; first: query {index} in stage "
            f"'{first.stage}': {first.type}: {first.message}"
        )


def _stage_table(run: RunFile) -> Table:
    table = Table(title="Latency per stage (ms)", title_justify="left")
    for column in ("stage", "n", "mean", "p50", "p95 [95% CI]", "p99", "max", "share", "target", "verdict"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    depth = {info.path: info.path.count(".") for info in run.stages}
    for stage in run.summary.stages:
        name = "  " * depth.get(stage.path, 0) + stage.path.rsplit(".", 1)[-1]
        if stage.skipped:
            table.add_row(Text(name, style="dim"), *([""] * 8), Text("skipped", style="dim"))
            continue
        table.add_row(*_stage_cells(name, stage))
    table.add_section()
    table.add_row(*_stage_cells("pipeline total", run.summary.total), style="bold")
    return table


def _stage_cells(name: str, s: StageSummary) -> list[str | Text]:
    target = "-" if s.target_ms is None else fmt_ms(s.target_ms)
    errors = f" ({s.n_errors} err)" if s.n_errors else ""
    return [
        name,
        f"{s.n}{errors}",
        fmt_ms(s.mean),
        fmt_ms(s.p50),
        _with_ci(s.p95, s.p95_ci),
        fmt_ms(s.p99),
        fmt_ms(s.max),
        fmt_pct(s.share) if s.path != "total" else "",
        target,
        _verdict(s.verdict) if s.target_ms is not None else Text(""),
    ]


def _target_table(run: RunFile) -> Table:
    table = Table(title="Pipeline targets", title_justify="left")
    for column in ("target", "goal", "measured", "verdict"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for target in run.summary.targets:
        measured = "-" if target.measured is None else f"{fmt_ms(target.measured)} {target.unit}"
        table.add_row(target.name, f"< {fmt_ms(target.target)} {target.unit}", measured, _verdict(target.verdict))
    return table


def _bottleneck_table(run: RunFile) -> Table:
    table = Table(title="Bottleneck frequency (stage with the largest share of each query)", title_justify="left")
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
