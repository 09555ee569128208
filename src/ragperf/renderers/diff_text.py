"""Wording every diff format shares: changes, intervals, titles, the method, the headline, the notes.

Each sentence is written once here, from the report's data; the terminal and Markdown renderers lay
them out. Nothing here decides a verdict: those are in the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.compare import MIN_SAMPLES
from ragperf.schema.diff import FailureChange, Figure, PathDiff

if TYPE_CHECKING:
    from collections.abc import Callable

    from ragperf.schema.diff import DiffGroup, DiffReport, Finding, MemoryChange, MetricDelta, RunRef

__all__ = [
    "correction",
    "figure_change",
    "figure_value",
    "fmt_change",
    "fmt_ci",
    "fmt_memory",
    "fmt_memory_change",
    "fmt_shift",
    "group_title",
    "headline",
    "method",
    "metric",
    "not_compared",
    "path_label",
    "path_notes",
    "replication_advice",
    "sides",
    "title",
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


def fmt_shift(path: PathDiff) -> str:
    """The shift with its interval, e.g. ``+10.2%`` and ``[+6.1, +14.5]`` on a second line; ``cpu`` after the
    shift when it was estimated on CPU time (a compare's CPU-bound path)."""
    evidence = path.evidence
    if evidence.shift is None:
        return "-"
    shift = fmt_change(evidence.shift) + (" cpu" if evidence.measure == "cpu" else "")
    if evidence.shift_ci is None:
        return shift
    lo, hi = evidence.shift_ci
    low = "-" if lo is None else f"{lo * 100:+.1f}"
    high = "inf" if hi is None else f"{hi * 100:+.1f}"
    return f"{shift}\n[{low}, {high}]"


def figure_value(figure: Figure, value: float | None) -> str:
    """A rate in qps, or an error rate as a percentage."""
    if value is None:
        return "-"
    return f"{value * 100:.2f}%" if figure.unit == "fraction" else f"{value:.4g}"


def figure_change(figure: Figure) -> str:
    """Relative change of a rate, or the change in points of an error rate."""
    if figure.rel_change is None:
        return "-"
    if figure.unit == "fraction":
        return f"{figure.rel_change * 100:+.2f} pts"
    return fmt_change(figure.rel_change)


def fmt_ci(figure: Figure) -> str:
    """A figure's interval, in its unit, or "" without one."""
    if figure.ci is None:
        return ""
    if figure.unit == "fraction":
        return f"[{figure.ci[0] * 100:+.2f}, {figure.ci[1] * 100:+.2f}]"
    return f"[{fmt_change(figure.ci[0])}, {fmt_change(figure.ci[1])}]"


def metric(path: PathDiff, name: str) -> MetricDelta:
    """The named metric of a path."""
    return next(m for m in path.metrics if m.metric == name)


def path_label(path: PathDiff, group: DiffGroup) -> str:
    """The path's last part, indented by its depth; the total reads as the pipeline."""
    if path is group.total:
        return "pipeline total"
    return "  " * path.path.count(".") + path.path.rsplit(".", 1)[-1]


def title(report: DiffReport) -> str:
    """`ragperf diff: demo`, or `ragperf diff (load): demo`."""
    kind = " (load)" if report.kind == "load" else ""
    return f"ragperf diff{kind}: {report.baseline.pipeline}"


def sides(report: DiffReport, quote: Callable[[str], str] = str) -> str:
    """Which files were compared (each path through `quote`), with their query counts and commits."""

    def side(name: str, ref: RunRef) -> str:
        where = "no git commit" if ref.git_commit is None else f"commit {ref.git_commit[:12]}"
        return f"{name} {quote(ref.path)} ({ref.n_queries} queries, {where})"

    return f"{side('baseline', report.baseline)} vs {side('new', report.new)}"


def correction(report: DiffReport) -> str:
    """What the level was corrected for, e.g. "Bonferroni over 12 paths x 2 checks + 6 throughput figures"."""
    checks = 1 + len(report.metric_thresholds)
    per_path = f" x {checks} checks" if checks > 1 else ""
    figures = sum(len(group.figures) for group in report.groups)
    extra = f" + {figures} throughput figures" if figures else ""
    total = f" ({report.family} tests)" if per_path or extra else ""
    return f"Bonferroni over {report.paths_compared} paths{per_path}{extra}{total}"


def method(report: DiffReport) -> str:
    """How the verdicts were reached, in one sentence."""
    samples = {p.evidence.samples for g in report.groups for p in g.paths}
    if "blocks" in samples:
        test = "signed-rank test on interleaved block pairs"
        if any(p.evidence.measure == "cpu" for g in report.groups for p in g.paths):
            test += ", CPU time for the paths on the CPU all through"
    elif "processes" in samples:
        test = "Welch's t test on the processes' medians"
    elif "histogram" in samples:
        test = "Mann-Whitney on the steps' histograms"
    else:
        test = "Mann-Whitney"
    floor = f" and {report.min_ms:g} ms" if report.min_ms > 0 else ""
    gated = "".join(f"; {k} gated at {v:.0%}" for k, v in report.metric_thresholds.items())
    rates = (
        f"; achieved rate, goodput and capacity regress on a drop beyond {report.threshold:.0%}"
        if report.capacity or any(g.figures for g in report.groups)
        else ""
    )
    return (
        f"A regression is significant ({test}, alpha {report.alpha:g}, {correction(report)}) and its p50 "
        f"change exceeds {report.threshold:.0%}{floor}{gated}{rates}"
    )


def group_title(group: DiffGroup) -> str | None:
    """`40 qps offered: sustained yes → yes, holds targets yes → no`; None for a run's one group."""
    step = group.rate
    if step is None:
        return None

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    return (
        f"{step.offered_qps:g} qps offered: "
        f"sustained {yes(step.old_sustained)} → {yes(step.new_sustained)}, "
        f"holds targets {yes(step.old_holds_targets)} → {yes(step.new_holds_targets)}"
    )


def headline(report: DiffReport) -> str:
    """One line: what regressed and by how much, or that nothing did, and what could not be told."""
    found = list(report.findings())
    if report.regressions:
        parts = [_named(name, item) for name, verdict, item in found if verdict == "regression"]
        return f"REGRESSION in {', '.join(parts)}"
    paths = sum(len(group.paths) for group in report.groups)
    labels = [group.label for group in report.groups if group.label is not None]
    scope = f"{paths} paths compared" + (f" at {', '.join(labels)}" if labels else "")
    if not report.groups:
        scope = "no offered rate in common"
    scope += ", capacity compared" if report.capacity else ""
    if report.contention:
        parts = [_named(name, item) for name, verdict, item in found if verdict == "contention"]
        return (
            f"No regression in the work done: {', '.join(parts)} slower in wall time only, with unchanged CPU "
            "time on a machine that was busy during the new run (MACHINE CONTENTION); rerun on a quiet machine"
        )
    if report.inconclusive:
        return (
            f"No regression found, but {len(report.inconclusive)} of {len(found)} checks are INCONCLUSIVE "
            f"({scope}): too few queries or too much noise to tell; the notes above say what would"
        )
    return f"No regression: {scope}"


def _named(name: str, item: Finding) -> str:
    """A finding's name with its size, as the headline gives it."""
    if isinstance(item, PathDiff):
        shown = "pipeline total" + name[len(item.path) :] if item.path == "total" else name
        return f"{shown} ({fmt_change(metric(item, 'p50').rel_change)} p50)"
    if isinstance(item, FailureChange):
        return f"{name} ({item.old_failed} of {item.old_n} -> {item.new_failed} of {item.new_n})"
    if isinstance(item, Figure):
        unit = "" if item.unit == "fraction" else f" {item.unit}"
        values = f"{figure_value(item, item.old)} → {figure_value(item, item.new)}{unit}"
        return f"{name} ({values}, {figure_change(item)})"
    return f"{name} ({item.old_verdict} → {item.new_verdict})"


def path_notes(group: DiffGroup, report: DiffReport) -> list[str]:
    """Why each inconclusive or too-thin path of a group could not be decided, and what would decide it."""
    notes = []
    for path in group.paths:
        name = "pipeline total" if path is group.total else path.path
        evidence = path.evidence
        if path.verdict == "too_few" and evidence.kind == "paired":
            notes.append(
                f"{name}: too few block pairs to tell ({evidence.pairs or 0}); a compare needs at least "
                f"{MIN_SAMPLES} for any verdict: raise -n or lower --block"
            )
        elif path.verdict == "too_few" and evidence.kind == "replicated":
            old_k, new_k = evidence.processes or (0, 0)
            notes.append(
                f"{name}: measured in too few processes to tell ({old_k} vs {new_k}); each run needs at least "
                "2 for a verdict between processes: raise --processes"
            )
        elif path.verdict == "too_few":
            notes.append(
                f"{name}: too few queries to tell ({path.n_old} vs {path.n_new}); "
                f"each run needs at least {MIN_SAMPLES} for any verdict, and hundreds to tell a few percent"
            )
        elif path.verdict == "inconclusive":
            detect = (
                "" if evidence.min_detectable is None else f"only changes of {fmt_change(evidence.min_detectable)} "
            )
            detect = f"these samples detect {detect}or more" if detect else "the samples cannot tell"
            floor = f", set by the {report.min_ms:g} ms floor" if path.threshold > report.threshold else ""
            need = (
                f"; about {evidence.queries_needed} queries per run would settle it at the {path.threshold:.0%} "
                f"threshold{floor}"
                if evidence.queries_needed is not None
                else ""
            )
            if evidence.blocks_needed is not None:
                need += f" ({evidence.blocks_needed} block pairs; {evidence.pairs} were run)"
            if evidence.processes_needed is not None:
                old_k, new_k = evidence.processes or (0, 0)
                need += (
                    f"; about {evidence.processes_needed} processes per run (--processes) would settle it at the "
                    f"{path.threshold:.0%} threshold{floor} ({old_k} and {new_k} were run)"
                )
            also = "".join(
                f"; {m.metric}: too few queries beyond it to test"
                if m.verdict == "too_few"
                else f"; {m.metric} undecided"
                for m in path.metrics
                if m.verdict in ("too_few", "inconclusive")
            )
            notes.append(f"{name}: INCONCLUSIVE, {detect}{need}{also}")
    return notes


def replication_advice(report: DiffReport) -> list[str]:
    """Regressions judged on the queries of two single-process runs: how to tell the machine's drift from the code."""
    judged = [p for g in report.groups for p in g.paths if p.verdict == "regression"]
    if report.kind != "run" or not judged or any(p.evidence.samples != "queries" for p in judged):
        return []
    return [
        "Each run was one process, run one after the other, so a change in the machine between them reads as a "
        "regression too: to tell them apart, run each side with --processes 4 (the diff then judges the "
        "variation between processes), or run both in one 'ragperf compare'"
    ]


def not_compared(report: DiffReport) -> list[str]:
    """What only one of the files measured: stages, and rates of a load test."""
    lines = []
    if report.only_in_baseline or report.only_in_new:
        lines.append(
            f"Stages not compared: only in baseline {', '.join(report.only_in_baseline) or 'none'}; "
            f"only in new {', '.join(report.only_in_new) or 'none'}"
        )
    if report.only_in_baseline_groups or report.only_in_new_groups:
        lines.append(
            f"Rates not compared: only in baseline {', '.join(report.only_in_baseline_groups) or 'none'}; "
            f"only in new {', '.join(report.only_in_new_groups) or 'none'}"
        )
    return lines
