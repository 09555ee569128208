"""Wording shared by the diff renderers: changes, intervals, headline, and the notes under the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.compare import MIN_SAMPLES
from ragperf.analysis.failures import FAILED_QUERIES

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.schema.diff import DiffReport, MemoryChange, MetricDelta, StageDiff

__all__ = [
    "correction",
    "fmt_change",
    "fmt_memory",
    "fmt_memory_change",
    "fmt_shift",
    "headline",
    "metric",
    "path_notes",
    "stage_label",
    "verdict_notes",
]


def fmt_change(fraction: float | None) -> str:
    """A relative change as a signed percentage."""
    if fraction is None:
        return "-"
    # Past +-100% the decimal is noise to the reader.
    return f"{fraction * 100:+.0f}%" if abs(fraction) >= 1 else f"{fraction * 100:+.1f}%"


def fmt_memory(value: float, ci: tuple[float, float] | None = None) -> str:
    """A memory figure, with its interval when it has one (leak slopes)."""
    text = f"{value:.3g}"
    return text if ci is None else f"{text} [{ci[0]:.3g}, {ci[1]:.3g}]"


def fmt_memory_change(change: MemoryChange) -> str:
    """The change in the figure's unit, and relative when the old value is not ~0."""
    relative = "" if change.rel_change is None else f" ({fmt_change(change.rel_change)})"
    return f"{change.change:+.3g} {change.unit}{relative}"


def fmt_shift(stage: StageDiff) -> str:
    """The Hodges-Lehmann shift with its interval, e.g. ``+10.2% [+6.1, +14.5]``."""
    if stage.shift is None:
        return "-"
    if stage.shift_ci is None:
        return fmt_change(stage.shift)
    lo, hi = stage.shift_ci
    low = "-" if lo is None else f"{lo * 100:+.1f}"
    high = "inf" if hi is None else f"{hi * 100:+.1f}"
    return f"{fmt_change(stage.shift)}\n[{low}, {high}]"


def correction(report: DiffReport) -> str:
    """What the significance level was corrected for, e.g. "Bonferroni over 12 paths x 2 checks"."""
    checks = 1 + len(report.metric_thresholds)
    per_path = f" x {checks} checks" if checks > 1 else ""
    return f"Bonferroni over {report.paths_compared} paths{per_path}"


def metric(stage: StageDiff, name: str) -> MetricDelta:
    """The named metric of a stage diff."""
    return next(m for m in stage.metrics if m.metric == name)


def stage_label(stage: StageDiff) -> str:
    """The path's last part, indented by its depth; the total reads as the pipeline."""
    if stage.parent is None and stage.path == "total":
        return "pipeline total"
    return "  " * stage.path.count(".") + stage.path.rsplit(".", 1)[-1]


def headline(report: DiffReport) -> str:
    """One line: what regressed, or that nothing did, and what could not be told."""
    if report.regressions:
        parts = [_regression(report, path) for path in report.regressions]
        return f"REGRESSION in {', '.join(parts)}"
    paths = len(report.stages) + 1
    if report.inconclusive:
        return (
            f"No regression found, but {len(report.inconclusive)} of {paths} paths are INCONCLUSIVE: "
            "these runs are too small or too noisy to tell (see the query counts above)"
        )
    return f"No regression: {paths} paths compared"


def _regression(report: DiffReport, path: str) -> str:
    failures = report.failures
    if failures is not None and path == FAILED_QUERIES:
        return f"{path} ({failures.old_failed} of {failures.old_n} -> {failures.new_failed} of {failures.new_n})"
    return f"{_name(report, path)} ({fmt_change(_p50_change(report, path))} p50)"


def _name(report: DiffReport, path: str) -> str:
    return "pipeline total" if report.total is not None and path == report.total.path else path


def _p50_change(report: DiffReport, path: str) -> float | None:
    every = (*report.stages, *([] if report.total is None else [report.total]))
    stage = next((s for s in every if s.path == path), None)
    return None if stage is None else metric(stage, "p50").rel_change


def verdict_notes(report: DiffReport) -> list[str]:
    """Why each inconclusive or too-thin path could not be decided, and what would decide it."""
    return path_notes(report.stages, report.total)


def path_notes(stages: Sequence[StageDiff], total: StageDiff | None) -> list[str]:
    """`verdict_notes` for one set of paths (a run, or one rate of a load test)."""
    notes = []
    for stage in (*stages, *([] if total is None else [total])):
        name = "pipeline total" if stage is total else stage.path
        if stage.verdict == "too_few":
            notes.append(
                f"{name}: too few queries to tell ({stage.n_old} vs {stage.n_new}); "
                f"each run needs at least {MIN_SAMPLES} for any verdict, and hundreds to tell a few percent"
            )
        elif stage.verdict == "inconclusive":
            detect = "" if stage.min_detectable is None else f"only changes of {fmt_change(stage.min_detectable)} "
            detect = f"these samples detect {detect}or more" if detect else "the samples cannot tell"
            need = (
                f"; about {stage.queries_needed} queries per run would settle it at the {stage.threshold:.0%} threshold"
                if stage.queries_needed is not None
                else ""
            )
            also = "".join(
                f"; {m.metric}: too few queries beyond it to test"
                if m.verdict == "too_few"
                else f"; {m.metric} undecided"
                for m in stage.metrics
                if m.verdict in ("too_few", "inconclusive")
            )
            notes.append(f"{name}: INCONCLUSIVE, {detect}{need}{also}")
    return notes
