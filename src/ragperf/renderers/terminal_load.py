"""The terminal summary of a load test: the rate steps, per-stage p95 under load, verdicts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from ragperf.renderers.console import verdict_text
from ragperf.renderers.format import fmt_ms, fmt_pct

if TYPE_CHECKING:
    from rich.console import Console

    from ragperf.schema.load import LoadReport, LoadStep
    from ragperf.schema.run import RunFile

__all__ = ["render_load"]


def _rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def render_load(run: RunFile, console: Console) -> None:
    """Print the load test's tables: steps, stages at the chosen step, rate verdicts."""
    report = run.load
    if report is None:
        return
    state = "complete" if run.complete else f"INCOMPLETE ({run.incomplete_reason})"
    console.print(
        Text.assemble(
            (run.pipeline, "bold"),
            f": load test ({report.mode}, {report.arrival} arrivals, "
            f"{report.workers} workers x {report.concurrency} in flight, engine {report.engine}), {state}",
        )
    )
    if report.engine == "locust":
        console.print("Locust runs closed loop: latency here is the service time (no queueing from arrivals).")
    console.print(_steps_table(report))
    chosen = next((s for s in report.steps if s.offered_qps == report.max_rate_qps), report.steps[-1])
    console.print(_stage_table(chosen))
    for step in report.steps:
        if not step.sustained:
            growth = (
                "" if step.latency_growth is None else f"; p95 latency grew x{step.latency_growth:.1f} over the step"
            )
            console.print(
                Text.assemble(
                    (f"{_rate(step.offered_qps)} qps was not sustained", "bold red"),
                    f": {_rate(step.achieved_qps)} qps achieved, {step.unserved} arrivals never started{growth}",
                )
            )
    if report.first_rising_stage is not None:
        console.print(
            Text.assemble(
                "First to give way: ",
                (report.first_rising_stage, "bold"),
                f" (median up >1.5x at {_rate(report.first_rising_qps)} qps)",
            )
        )
    if report.mode != "fixed":
        console.print(
            Text.assemble(
                f"Highest rate holding p95 <= {fmt_ms(report.p95_target_ms)} ms and errors <= "
                f"{fmt_pct(report.error_budget)}: ",
                (f"{_rate(report.max_rate_qps)} qps", "bold"),
                f"; highest rate sustained: {_rate(report.peak_rate_qps)} qps",
            )
        )
    console.print(_verdict_table(report))


def _steps_table(report: LoadReport) -> Table:
    table = Table(title="Offered vs achieved (latency from the intended start, ms)", title_justify="left")
    columns = ("offered", "achieved", "goodput", "errors", "p50", "p95", "p99", "service p95", "sched p99", "held")
    for column in columns:
        table.add_column(column, justify="right")
    for step in report.steps:
        held = Text("yes", style="green") if step.holds_targets else Text("no", style="bold red")
        table.add_row(
            _rate(step.offered_qps),
            _rate(step.achieved_qps),
            _rate(step.goodput_qps),
            fmt_pct(step.error_rate),
            fmt_ms(step.latency.p50),
            fmt_ms(step.latency.p95),
            fmt_ms(step.latency.p99),
            fmt_ms(step.service.p95),
            fmt_ms(step.schedule_p99_ms),
            held,
        )
    return table


def _stage_table(step: LoadStep) -> Table:
    table = Table(title=f"Per stage at {_rate(step.offered_qps)} qps (service time, ms)", title_justify="left")
    for column in ("stage", "n", "mean", "p50", "p95", "p99", "max", "target", "verdict"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in step.stages:
        name = "  " * stage.path.count(".") + stage.path.rsplit(".", 1)[-1]
        errors = f" ({stage.n_errors} err)" if stage.n_errors else ""
        table.add_row(
            name,
            f"{stage.n}{errors}",
            fmt_ms(stage.mean),
            fmt_ms(stage.p50),
            fmt_ms(stage.p95),
            fmt_ms(stage.p99),
            fmt_ms(stage.max),
            "-" if stage.target_ms is None else fmt_ms(stage.target_ms),
            verdict_text(stage.verdict) if stage.target_ms is not None else Text(""),
        )
    table.add_section()
    for label, s in (("service (whole pipeline)", step.service), ("latency (queueing included)", step.latency)):
        table.add_row(label, str(s.n), fmt_ms(s.mean), fmt_ms(s.p50), fmt_ms(s.p95), fmt_ms(s.p99), fmt_ms(s.max))
    if step.ttft is not None:
        t = step.ttft
        table.add_row("generation TTFT", str(t.n), fmt_ms(t.mean), fmt_ms(t.p50), fmt_ms(t.p95), fmt_ms(t.p99), "")
    return table


def _verdict_table(report: LoadReport) -> Table:
    table = Table(title="Throughput targets", title_justify="left")
    for column in ("target", "goal", "measured", "verdict"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for v in report.verdicts:
        table.add_row(v.name, f">= {_rate(v.target)} qps", f"{_rate(v.measured)} qps", verdict_text(v.verdict))
    return table
