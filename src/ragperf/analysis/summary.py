"""Per-stage statistics, bottleneck frequency and target verdicts for one run."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.bottlenecks import largest_stage
from ragperf.analysis.percentiles import sorted_percentile_ci, sorted_percentiles
from ragperf.analysis.verdicts import judge
from ragperf.report_rules import ReportConfig, priority_for
from ragperf.schema.run import Bottleneck, MetricSummary, RunSummary, StageSummary, TargetVerdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from ragperf.config import Targets
    from ragperf.schema.queries import QueryTable
    from ragperf.schema.run import StageInfo

__all__ = ["TOTAL", "summarise"]

TOTAL = "total"


def summarise(
    table: QueryTable, stages: Sequence[StageInfo], targets: Targets, report: ReportConfig | None = None
) -> RunSummary:
    """Summarise the successful queries; count failures per stage; bottleneck priorities per `[report]`.

    One sort per span path and one pass for the bottlenecks: linear in the queries but for the sorts.
    """
    report = report or ReportConfig()
    ok = table.ok
    n_ok = int(ok.sum())
    totals = table.total_ms.values[ok]
    mean_total = float(totals.mean()) if totals.size else None
    top = [s.path for s in stages if s.parent is None]
    winners = _longest_among_siblings(table, stages)
    failures = Counter(f.error.stage for f in table.failures)
    summaries = tuple(
        _summarise_span(
            info.path,
            info.kind,
            table.ok_span(info.path),
            mean_total,
            skipped=not info.enabled,
            bottlenecks=winners.get(info.path, 0),
            errors=failures.get(info.path, 0),
            target_ms=info.target_ms,
            metrics=_metrics(table, info.path),
        )
        for info in stages
    )
    summaries = _with_cpu(_with_parent_shares(summaries, stages), table)
    total = _summarise_span(
        TOTAL,
        "pipeline",
        totals,
        mean_total,
        skipped=False,
        bottlenecks=0,
        errors=table.n - n_ok,
        target_ms=None,
        metrics={},
    )
    ranked = sorted(((path, winners[path]) for path in top if winners.get(path)), key=lambda item: -item[1])
    bottlenecks = tuple(
        Bottleneck(stage=path, queries=count, fraction=count / n_ok, priority=priority_for(count / n_ok, report))
        for path, count in ranked
    )
    return RunSummary(
        n_queries=table.n,
        n_failed=table.n - n_ok,
        total=total,
        stages=summaries,
        bottlenecks=bottlenecks,
        targets=_latency_targets(total, targets),
    )


def _longest_among_siblings(table: QueryTable, stages: Sequence[StageInfo]) -> dict[str, int]:
    """For every span path, the successful queries in which it was the longest of its siblings.

    Top-level stages compete with each other (the pipeline's bottleneck); a nested span with the
    other children of its parent (where inside the stage the time goes).
    """
    groups: dict[str | None, list[str]] = {}
    for info in stages:
        groups.setdefault(info.parent, []).append(info.path)
    winners: dict[str, int] = {}
    for paths in groups.values():
        largest = largest_stage(table, paths)
        counts = np.bincount(largest[largest >= 0], minlength=len(paths))
        winners.update({path: int(count) for path, count in zip(paths, counts, strict=True) if count})
    return winners


def _with_parent_shares(summaries: tuple[StageSummary, ...], stages: Sequence[StageInfo]) -> tuple[StageSummary, ...]:
    """Each nested span's mean as a share of its parent's mean."""
    means = {s.path: s.mean for s in summaries}
    parents = {info.path: info.parent for info in stages}
    out = []
    for span in summaries:
        parent_mean = means.get(parents.get(span.path) or "")
        share = span.mean / parent_mean if span.mean is not None and parent_mean else None
        out.append(span if share is None else span.model_copy(update={"parent_share": share}))
    return tuple(out)


def _with_cpu(summaries: tuple[StageSummary, ...], table: QueryTable) -> tuple[StageSummary, ...]:
    """The mean and median CPU time of each stage that has a CPU column (cpu_time on), successful queries only."""
    if not table.cpu_spans:
        return summaries
    out = []
    for span in summaries:
        column = table.cpu_spans.get(span.path)
        values = None if column is None else column.values[table.ok]
        values = None if values is None else np.sort(values[~np.isnan(values)])
        if values is None or not values.size:
            out.append(span)
            continue
        (p50,) = sorted_percentiles(values, (50,))
        out.append(span.model_copy(update={"cpu_mean": float(values.mean()), "cpu_p50": p50}))
    return tuple(out)


def _summarise_span(
    path: str,
    kind: str,
    values: NDArray[np.float64],
    mean_total: float | None,
    *,
    skipped: bool,
    bottlenecks: int,
    errors: int,
    target_ms: float | None,
    metrics: dict[str, MetricSummary],
) -> StageSummary:
    if not values.size:
        return StageSummary(
            path=path,
            kind=kind,
            skipped=skipped,
            n=0,
            n_errors=errors,
            mean=None,
            stdev=None,
            min=None,
            p50=None,
            p90=None,
            p95=None,
            p99=None,
            max=None,
            p95_ci=None,
            p99_ci=None,
            share=None,
            bottleneck_count=bottlenecks,
            target_ms=target_ms,
            verdict="n/a",
        )
    ordered = np.sort(values)
    mean = float(ordered.mean())
    p50, p90, p95, p99 = sorted_percentiles(ordered, (50, 90, 95, 99))
    return StageSummary(
        path=path,
        kind=kind,
        skipped=skipped,
        n=int(ordered.size),
        n_errors=errors,
        mean=mean,
        stdev=float(ordered.std(ddof=1)) if ordered.size > 1 else 0.0,
        min=float(ordered[0]),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        max=float(ordered[-1]),
        p95_ci=sorted_percentile_ci(ordered, 95),
        p99_ci=sorted_percentile_ci(ordered, 99),
        share=mean / mean_total if mean_total else None,
        bottleneck_count=bottlenecks,
        target_ms=target_ms,
        verdict=judge(p95, target_ms),
        metrics=metrics,
    )


def _metrics(table: QueryTable, path: str) -> dict[str, MetricSummary]:
    out = {}
    for name in table.metrics.get(path, {}):
        values = table.metric(path, name)
        values = np.sort(values[table.ok & ~np.isnan(values)])  # NaN: absent, or not finite
        if values.size:
            p50, p95 = sorted_percentiles(values, (50, 95))
            out[name] = MetricSummary(n=int(values.size), mean=float(values.mean()), p50=p50, p95=p95)
    return out


def _latency_targets(total: StageSummary, targets: Targets) -> tuple[TargetVerdict, ...]:
    verdicts = []
    for name, measured in (("p50_ms", total.p50), ("p95_ms", total.p95), ("p99_ms", total.p99)):
        target = getattr(targets, name)
        if target is None:
            continue
        verdict = judge(measured, target)
        verdicts.append(TargetVerdict(name=name, target=target, measured=measured, unit="ms", verdict=verdict))
    return tuple(verdicts)
