"""Wording shared by the load-diff renderers: headline, step titles, figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.diff_common import fmt_change, metric

if TYPE_CHECKING:
    from ragperf.schema.diff import DiffReport, LoadDiff, LoadFigure, StepDiff

__all__ = ["figure_change", "figure_value", "load_headline", "method", "step_title"]


def figure_value(figure: LoadFigure, value: float | None) -> str:
    """A rate in qps, or an error rate as a percentage."""
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if figure.unit == "fraction" else f"{value:.4g}"


def figure_change(figure: LoadFigure) -> str:
    """Relative change of a rate, or the change in points of an error rate."""
    if figure.rel_change is None:
        return "-"
    if figure.unit == "fraction":
        return f"{figure.rel_change * 100:+.2f} pts"
    return fmt_change(figure.rel_change)


def step_title(step: StepDiff) -> str:
    """`40 qps offered: sustained yes -> yes, holds targets yes -> no`."""

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    return (
        f"{step.offered_qps:g} qps offered: "
        f"sustained {yes(step.old_sustained)} → {yes(step.new_sustained)}, "
        f"holds targets {yes(step.old_holds_targets)} → {yes(step.new_holds_targets)}"
    )


def method(report: DiffReport, load: LoadDiff) -> str:
    """How verdicts were reached, in one sentence."""
    gated = "".join(f"; {k} gated at {v:.0%}" for k, v in report.metric_thresholds.items())
    return (
        f"Latency from the steps' histograms: Mann-Whitney on bucket midpoints, a regression is significant and "
        f"its p50 change exceeds {report.threshold:.0%}{gated}; achieved rate, goodput and capacity regress on a "
        f"drop beyond {report.threshold:.0%}; alpha {report.alpha:g}, Bonferroni over {load.hypotheses} checks"
    )


def load_headline(report: DiffReport) -> str:
    """One line: what regressed (stage and rate first), or that nothing did."""
    load = report.load
    if load is None:
        return ""
    changes = _changes(load)
    if report.regressions:
        parts = [f"{name} ({changes[name]})" if name in changes else name for name in report.regressions]
        return f"REGRESSION in {', '.join(parts)}"
    count = len(load.steps)
    rates = f"{count} offered rate{'s' if count > 1 else ''} compared" if count else "no offered rate in common"
    if report.inconclusive:
        return (
            f"No regression found, but {len(report.inconclusive)} checks are INCONCLUSIVE ({rates}): "
            "longer steps or a quieter machine would tell"
        )
    return f"No regression: {rates}" + (", capacity compared" if load.capacity else "")


def _changes(load: LoadDiff) -> dict[str, str]:
    """The change to print beside each name the verdict lists can hold."""
    out: dict[str, str] = {}
    for step in load.steps:
        rate = f"{step.offered_qps:g} qps"
        for stage in step.stages:
            out[f"{stage.path} @ {rate}"] = f"{fmt_change(metric(stage, 'p50').rel_change)} p50"
        if step.total is not None:
            out[f"pipeline total @ {rate}"] = f"{fmt_change(metric(step.total, 'p50').rel_change)} p50"
        for figure in step.figures:
            out[f"{figure.name} @ {rate}"] = figure_change(figure)
    for figure in load.capacity:
        out[figure.name] = f"{figure_value(figure, figure.old)} → {figure_value(figure, figure.new)} qps"
    return out
