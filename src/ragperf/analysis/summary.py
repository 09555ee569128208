"""Per-stage statistics, bottleneck frequency and target verdicts for one run."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import TYPE_CHECKING

from ragperf.analysis.percentiles import percentile, percentile_ci
from ragperf.analysis.roadmap import ReportConfig, priority_for
from ragperf.analysis.verdicts import judge
from ragperf.schema.v1 import Bottleneck, MetricSummary, RunSummary, StageSummary, TargetVerdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.config import Targets
    from ragperf.schema.v1 import QueryRecord, StageInfo

__all__ = ["TOTAL", "summarise"]

TOTAL = "total"


def summarise(
    queries: Sequence[QueryRecord], stages: Sequence[StageInfo], targets: Targets, report: ReportConfig | None = None
) -> RunSummary:
    """Summarise the successful queries; count failures per stage; bottleneck priorities per `[report]`."""
    report = report or ReportConfig()
    ok = [q for q in queries if q.error is None]
    totals = [q.total_ms for q in ok]
    mean_total = statistics.fmean(totals) if totals else None
    winners = Counter(_bottleneck(q, stages) for q in ok)
    winners.pop(None, None)
    failures = Counter(q.error.stage for q in queries if q.error is not None)
    summaries = tuple(
        _summarise_span(
            info.path,
            info.kind,
            [q.spans[info.path] for q in ok if info.path in q.spans],
            ok,
            mean_total,
            skipped=not info.enabled,
            bottlenecks=winners.get(info.path, 0),
            errors=failures.get(info.path, 0),
            target_ms=info.target_ms,
        )
        for info in stages
    )
    total = _summarise_span(
        TOTAL,
        "pipeline",
        totals,
        ok,
        mean_total,
        skipped=False,
        bottlenecks=0,
        errors=len(queries) - len(ok),
        target_ms=None,
    )
    bottlenecks = tuple(
        Bottleneck(stage=path, queries=count, fraction=count / len(ok), priority=priority_for(count / len(ok), report))
        for path, count in winners.most_common()
        if path is not None
    )
    return RunSummary(
        n_queries=len(queries),
        n_failed=len(queries) - len(ok),
        total=total,
        stages=summaries,
        bottlenecks=bottlenecks,
        targets=_latency_targets(total, targets),
    )


def _bottleneck(query: QueryRecord, stages: Sequence[StageInfo]) -> str | None:
    """The top-level stage with the largest share of this query."""
    top = [(query.spans[s.path], s.path) for s in stages if s.parent is None and s.path in query.spans]
    return max(top)[1] if top else None


def _summarise_span(
    path: str,
    kind: str,
    values: list[float],
    ok: Sequence[QueryRecord],
    mean_total: float | None,
    *,
    skipped: bool,
    bottlenecks: int,
    errors: int,
    target_ms: float | None,
) -> StageSummary:
    if not values:
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
    mean = statistics.fmean(values)
    p95 = percentile(values, 95)
    return StageSummary(
        path=path,
        kind=kind,
        skipped=skipped,
        n=len(values),
        n_errors=errors,
        mean=mean,
        stdev=statistics.stdev(values) if len(values) > 1 else 0.0,
        min=min(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p95=p95,
        p99=percentile(values, 99),
        max=max(values),
        p95_ci=percentile_ci(values, 95),
        p99_ci=percentile_ci(values, 99),
        share=mean / mean_total if mean_total else None,
        bottleneck_count=bottlenecks,
        target_ms=target_ms,
        verdict=judge(p95, target_ms),
        metrics=_metrics(path, ok),
    )


def _metrics(path: str, ok: Sequence[QueryRecord]) -> dict[str, MetricSummary]:
    series: dict[str, list[float]] = {}
    for query in ok:
        for name, value in query.metrics.get(path, {}).items():
            if value is not None:  # a non-finite value the worker stored as null
                series.setdefault(name, []).append(value)
    return {
        name: MetricSummary(n=len(v), mean=statistics.fmean(v), p50=percentile(v, 50), p95=percentile(v, 95))
        for name, v in series.items()
    }


def _latency_targets(total: StageSummary, targets: Targets) -> tuple[TargetVerdict, ...]:
    verdicts = []
    for name, measured in (("p50_ms", total.p50), ("p95_ms", total.p95), ("p99_ms", total.p99)):
        target = getattr(targets, name)
        if target is None:
            continue
        verdict = judge(measured, target)
        verdicts.append(TargetVerdict(name=name, target=target, measured=measured, unit="ms", verdict=verdict))
    return tuple(verdicts)
