"""Merge the workers' step tallies into one `LoadStep`: rates, error rate, goodput, percentiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragperf.analysis.verdicts import judge
from ragperf.load.histogram import Histogram
from ragperf.load.protocol import histogram, histogram_data
from ragperf.schema.load import LoadMetric, LoadStage, LoadStep, LoadWindow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.load.protocol import LaneTally
    from ragperf.schema.run import StageInfo

__all__ = ["SUSTAINED_FRACTION", "merge_step"]

SUSTAINED_FRACTION = 0.95  # a step holds its rate when this share of its arrivals finished in time
_MS = 1e6
_TTFT = "ttft_ms"


def _ms(value: float | None) -> float | None:
    return None if value is None else value / _MS


def _stage(path: str, hist: Histogram, errors: int, target_ms: float | None) -> LoadStage:
    p95 = _ms(hist.quantile(0.95))
    return LoadStage(
        path=path,
        n=hist.count,
        n_errors=errors,
        mean=_ms(hist.mean()),
        p50=_ms(hist.quantile(0.50)),
        p95=p95,
        p99=_ms(hist.quantile(0.99)),
        max=_ms(float(hist.max)) if hist.count else None,
        target_ms=target_ms,
        verdict=judge(p95, target_ms),
    )


def _metric(hist: Histogram) -> LoadMetric:
    return LoadMetric(
        n=hist.count,
        mean=_ms(hist.mean()),
        p50=_ms(hist.quantile(0.5)),
        p95=_ms(hist.quantile(0.95)),
        p99=_ms(hist.quantile(0.99)),
    )


def merge_step(
    parts: Sequence[LaneTally],
    *,
    step: int,
    rate: float,
    duration_s: float,
    window_s: float,
    infos: list[StageInfo],
    p95_target_ms: float | None,
    error_budget: float,
) -> LoadStep:
    """One step's figures from every lane's tally (the `Result` records the workers sent)."""
    offered = sum(part.offered for part in parts)
    completed = sum(part.completed for part in parts)
    errors = sum(part.errors for part in parts)
    in_time = sum(part.completed_in_time for part in parts)
    unserved = sum(part.unserved for part in parts)
    latency = Histogram.merged(histogram(part.latency) for part in parts)
    service = Histogram.merged(histogram(part.service) for part in parts)
    schedule = Histogram.merged(histogram(part.schedule) for part in parts)
    stage_hists: dict[str, Histogram] = {}
    stage_errors: dict[str, int] = {}
    metric_hists: dict[str, dict[str, Histogram]] = {}
    for part in parts:
        for path, data in part.stages.items():
            stage_hists.setdefault(path, Histogram()).merge(histogram(data))
        for path, n in part.stage_errors.items():
            stage_errors[path] = stage_errors.get(path, 0) + n
        for path, by_name in part.metrics.items():
            for name, data in by_name.items():
                metric_hists.setdefault(path, {}).setdefault(name, Histogram()).merge(histogram(data))
    targets = {info.path: info.target_ms for info in infos}
    order = _order([info.path for info in infos], set(stage_hists))
    stages = tuple(
        _stage(path, stage_hists[path], stage_errors.get(path, 0), targets.get(path)).model_copy(
            update={"metrics": {name: _metric(h) for name, h in metric_hists.get(path, {}).items()}}
        )
        for path in order
        if path in stage_hists
    )
    generation = [info.path for info in infos if info.kind == "generation" and info.parent is None]
    ttft = next((_metric(metric_hists[p][_TTFT]) for p in generation if _TTFT in metric_hists.get(p, {})), None)
    windows = _windows(parts, window_s)
    error_rate = errors / completed if completed else 0.0
    head, tail = _thirds(parts, window_s, duration_s)
    service_p95 = service.quantile(0.95) or 0.0
    # A queue that keeps growing is a rate above capacity, even while completions keep pace.
    growing = head is not None and tail is not None and tail >= 2 * head and tail - head >= max(1e6, service_p95)
    # A query arriving in the step's last service time cannot finish inside it even far below
    # capacity, so "in time" is judged against the arrivals that could have finished.
    service_p50 = (service.quantile(0.5) or 0.0) / 1e9
    could_finish = offered * max(0.0, 1 - service_p50 / duration_s)
    sustained = (
        offered > 0
        and in_time >= SUSTAINED_FRACTION * could_finish
        and completed >= SUSTAINED_FRACTION * offered
        and error_rate <= error_budget
        and not growing
    )
    p95 = _ms(latency.quantile(0.95))
    holds = sustained and (p95_target_ms is None or (p95 is not None and p95 <= p95_target_ms))
    histograms = {"latency": histogram_data(latency), "service": histogram_data(service)}
    histograms["schedule"] = histogram_data(schedule)
    histograms.update({f"stage:{path}": histogram_data(h) for path, h in stage_hists.items()})
    return LoadStep(
        step=step,
        offered_qps=rate,
        duration_s=duration_s,
        elapsed_s=max((part.elapsed_ns for part in parts), default=0) / 1e9,
        offered=offered,
        completed=completed,
        completed_in_time=in_time,
        errors=errors,
        unserved=unserved,
        achieved_qps=in_time / duration_s,
        error_rate=error_rate,
        goodput_qps=sum(part.good for part in parts) / duration_s,
        sustained=sustained,
        holds_targets=holds,
        latency_growth=None if head is None or tail is None or head <= 0 else tail / head,
        latency=_stage("total", latency, errors, p95_target_ms),
        service=_stage("service", service, errors, None),
        schedule_p50_ms=_ms(schedule.quantile(0.5)),
        schedule_p99_ms=_ms(schedule.quantile(0.99)),
        schedule_max_ms=_ms(float(schedule.max)) if schedule.count else None,
        stages=stages,
        ttft=ttft,
        windows=windows,
        histograms=histograms,
        interrupted=any(part.interrupted for part in parts),
    )


def _order(known: list[str], seen: set[str]) -> list[str]:
    """Configured paths in order, each marked span right after its closest configured ancestor."""
    extra: dict[str, list[str]] = {}
    for path in sorted(seen - set(known)):
        ancestors = [k for k in known if path.startswith(k + ".")]
        extra.setdefault(max(ancestors, key=len) if ancestors else "", []).append(path)
    order = []
    for path in known:
        order.append(path)
        order.extend(extra.get(path, []))
    return order + extra.get("", [])


@dataclass
class _Window:
    offered: int = 0
    completed: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=Histogram)


def _window_parts(parts: Sequence[LaneTally]) -> dict[int, _Window]:
    merged: dict[int, _Window] = {}
    for part in parts:
        for index, window in part.windows.items():
            slot = merged.setdefault(index, _Window())
            slot.offered += window.offered
            slot.completed += window.completed
            slot.errors += window.errors
            slot.latency.merge(histogram(window.latency))
    return merged


def _windows(parts: Sequence[LaneTally], window_s: float) -> tuple[LoadWindow, ...]:
    return tuple(
        LoadWindow(
            t_s=index * window_s,
            offered=w.offered,
            completed=w.completed,
            errors=w.errors,
            achieved_qps=w.completed / window_s,
            p50_ms=_ms(w.latency.quantile(0.5)),
            p95_ms=_ms(w.latency.quantile(0.95)),
        )
        for index, w in sorted(_window_parts(parts).items())
    )


def _thirds(parts: Sequence[LaneTally], window_s: float, duration_s: float) -> tuple[float | None, float | None]:
    """p95 latency (ns) of queries finishing in the step's first third, and in its last third."""
    windows = _window_parts(parts)
    third = duration_s / 3
    first = Histogram.merged(w.latency for i, w in windows.items() if (i + 1) * window_s <= third)
    last = Histogram.merged(w.latency for i, w in windows.items() if 2 * third <= i * window_s < duration_s)
    return first.quantile(0.95), last.quantile(0.95)
