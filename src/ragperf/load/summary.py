"""The run file's `summary` for a load test, built from one step's merged histograms.

`ragperf report` and `ragperf diff` read `summary` for every kind of run file; for a load file
it describes the step the load report points at (the highest rate that held, or the only
step), with the pipeline total measured from the intended start. Per-query bottlenecks need
per-query records, which a load test deliberately does not keep, so that list is empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.summary import TOTAL
from ragperf.analysis.verdicts import judge
from ragperf.load.histogram import Histogram
from ragperf.schema.run import MetricSummary, RunSummary, StageSummary, TargetVerdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.config import Targets
    from ragperf.schema.load import LoadStep
    from ragperf.schema.run import StageInfo

__all__ = ["summarise_step"]

_MS = 1e6


def _hist(step: LoadStep, key: str) -> Histogram | None:
    data = step.histograms.get(key)
    return None if data is None else Histogram.from_dict(data.model_dump())


def _q(hist: Histogram, q: float) -> float | None:
    value = hist.quantile(q)
    return None if value is None else value / _MS


def _summary(
    path: str,
    kind: str,
    hist: Histogram | None,
    *,
    skipped: bool,
    errors: int,
    target_ms: float | None,
    mean_total: float | None,
    metrics: dict[str, MetricSummary] | None = None,
) -> StageSummary:
    hist = hist or Histogram()
    mean = hist.mean()
    mean_ms = None if mean is None else mean / _MS
    p95 = _q(hist, 0.95)
    stdev = hist.stdev()
    return StageSummary(
        path=path,
        kind=kind,
        skipped=skipped,
        n=hist.count,
        n_errors=errors,
        mean=mean_ms,
        stdev=None if stdev is None else stdev / _MS,
        min=hist.min / _MS if hist.count else None,
        p50=_q(hist, 0.50),
        p90=_q(hist, 0.90),
        p95=p95,
        p99=_q(hist, 0.99),
        max=hist.max / _MS if hist.count else None,
        p95_ci=None,
        p99_ci=None,
        share=None if mean_ms is None or not mean_total else mean_ms / mean_total,
        bottleneck_count=0,
        target_ms=target_ms,
        verdict=judge(p95, target_ms),
        metrics=metrics or {},
    )


def summarise_step(step: LoadStep, infos: Sequence[StageInfo], targets: Targets) -> RunSummary:
    """A RunSummary of one load step: service time per stage, latency (queueing included) as the total."""
    latency = _hist(step, "latency")
    service = _hist(step, "service")
    mean_service = None if service is None or service.mean() is None else (service.mean() or 0) / _MS
    by_path = {stage.path: stage for stage in step.stages}
    stages = []
    for info in infos:
        found = by_path.get(info.path)
        metrics = {
            name: MetricSummary(n=m.n, mean=m.mean, p50=m.p50, p95=m.p95)
            for name, m in (found.metrics.items() if found else ())
            if m.mean is not None and m.p50 is not None and m.p95 is not None
        }
        stages.append(
            _summary(
                info.path,
                info.kind,
                _hist(step, f"stage:{info.path}"),
                skipped=not info.enabled,
                errors=0 if found is None else found.n_errors,
                target_ms=info.target_ms,
                mean_total=mean_service,
                metrics=metrics,
            )
        )
    total = _summary(
        TOTAL, "pipeline", latency, skipped=False, errors=step.errors, target_ms=None, mean_total=mean_service
    )
    verdicts = []
    for name, measured in (("p50_ms", total.p50), ("p95_ms", total.p95), ("p99_ms", total.p99)):
        target = getattr(targets, name)
        if target is None:
            continue
        verdicts.append(
            TargetVerdict(name=name, target=target, measured=measured, unit="ms", verdict=judge(measured, target))
        )
    return RunSummary(
        n_queries=step.completed,
        n_failed=step.errors,
        total=total.model_copy(update={"share": None}),
        stages=tuple(stages),
        bottlenecks=(),
        targets=tuple(verdicts),
    )
