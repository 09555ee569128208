"""The parent's side of `ragperf leak`: fit the series, judge it, attribute the growth to a stage."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Literal

from ragperf.analysis.leak import judge
from ragperf.memory.report import stage_readings
from ragperf.memory.snapshots import OUTSIDE, TRUNCATED
from ragperf.memory.trend import theil_sen
from ragperf.schema.memory import AllocationSite, LeakPoint, LeakReport, LeakStage, SlopeFit
from ragperf.units import BYTES_PER_MB, to_mb

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.engine.events import LeakSites, MemoryReading
    from ragperf.memory.settings import LeakSettings
    from ragperf.memory.trend import Fit

__all__ = ["build_leak_report"]

_MIN_ITERATIONS = 5
_NOT_A_STAGE = (OUTSIDE, TRUNCATED)


def _fit(values: Sequence[float | None]) -> Fit | None:
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < _MIN_ITERATIONS:
        return None
    return theil_sen([v for _, v in known], [i for i, _ in known])


def _slope_fit(fit: Fit | None) -> SlopeFit | None:
    if fit is None:
        return None
    return SlopeFit(
        n=fit.n,
        slope=fit.slope,
        ci_low=fit.ci_low,
        ci_high=fit.ci_high,
        intercept=fit.intercept,
        late_slope=fit.late_slope,
    )


def _delta(after: int | None, before: int | None) -> float | None:
    return None if after is None or before is None else (after - before) / BYTES_PER_MB


def _stages(events: Sequence[MemoryReading], growth: dict[str, float]) -> tuple[LeakStage, ...]:
    """Probed stages (top level) and every stage the snapshots saw growing, in that order."""
    readings = {path: rows for path, rows in stage_readings(events).items() if not rows[0].nested}
    total = sum(max(v, 0.0) for v in growth.values())
    paths = list(readings) + sorted(p for p in growth if p not in readings)
    out = []
    for path in paths:
        rows = readings.get(path, [])
        rss = [d for d in (_delta(r.rss_after, r.rss_before) for r in rows) if d is not None]
        heap = [d for d in (_delta(r.heap_after, r.heap_before) for r in rows) if d is not None]
        bytes_per_iter = growth.get(path)
        out.append(
            LeakStage(
                path=path,
                growth_per_iter=None if bytes_per_iter is None else bytes_per_iter / BYTES_PER_MB,
                share=None if bytes_per_iter is None or total <= 0 else bytes_per_iter / total,
                rss_delta_mean=statistics.fmean(rss) if rss else None,
                heap_delta_mean=statistics.fmean(heap) if heap else None,
            )
        )
    return tuple(out)


def _owner(growth: dict[str, float]) -> tuple[str | None, float]:
    """The stage holding most of the growing bytes, and its share."""
    total = sum(max(v, 0.0) for v in growth.values())
    if total <= 0:
        return None, 0.0
    stage, value = max(growth.items(), key=lambda kv: kv[1])
    return stage, value / total


def _series(events: Sequence[MemoryReading]) -> tuple[LeakPoint, ...]:
    return tuple(
        LeakPoint(
            iteration=i,
            query_id=e.id,
            rss=to_mb(e.rss),
            heap=to_mb(e.heap),
            stages={
                r.path: (_delta(r.rss_after, r.rss_before), _delta(r.heap_after, r.heap_before))
                for r in e.stages
                if not r.nested
            },
        )
        for i, e in enumerate(events)
    )


def _sites(found: LeakSites | None) -> tuple[AllocationSite, ...]:
    if found is None:
        return ()
    return tuple(
        AllocationSite(
            stage=s.stage,
            file=s.file,
            line=s.line,
            code=s.code,
            growth_per_iter=s.growth / BYTES_PER_MB,
            blocks_per_iter=s.blocks,
            size=s.size / BYTES_PER_MB,
            stack=s.stack,
        )
        for s in found.sites
    )


def build_leak_report(
    events: Sequence[MemoryReading],
    found: LeakSites | None,
    settings: LeakSettings,
    *,
    warmup: int,
    target: float | None,
) -> LeakReport:
    """Fit RSS and heap, judge the basis series (heap when readable), name the stage that grows."""
    min_slope = settings.min_slope
    rss, heap = _fit([to_mb(e.rss) for e in events]), _fit([to_mb(e.heap) for e in events])
    basis: Literal["heap", "rss"] = "heap" if heap is not None else "rss"
    fit = heap if heap is not None else rss
    growth: dict[str, float] = dict(found.stages) if found else {}
    verdict: Literal["PASS", "FAIL", "n/a"] = "n/a"
    if fit is None:
        detected, message = False, f"no trend: too few iterations (need {_MIN_ITERATIONS})"
    else:
        judged = judge(fit, min_slope=min_slope, target=target)
        detected, verdict = judged.detected, judged.verdict
        message = _message(basis, fit, judged.reason, detected, rss if basis == "heap" else None, min_slope)
    if basis == "heap" and rss is not None and target is not None:
        verdict, message = _rss_over_target(rss, verdict, message, min_slope=min_slope, target=target)
    owner, share = _owner(growth) if detected else (None, 0.0)
    if owner is not None:
        message += f"; {share:.0%} of the growing bytes are in {_named(owner)}"
    elif detected:
        message += "; no growing allocation site was seen by tracemalloc (native memory, or no snapshots)"
    return LeakReport(
        iterations=len(events),
        warmup=warmup,
        gc_between=True,
        basis=basis,
        rss=_slope_fit(rss),
        heap=_slope_fit(heap),
        min_slope=min_slope,
        detected=detected,
        slope=None if fit is None else fit.slope,
        ci=None if fit is None else (fit.ci_low, fit.ci_high),
        target=target,
        verdict=verdict,
        stage=owner,
        message=message,
        snapshot_every=found.every if found else 0,
        tracemalloc_frames=found.frames if found else settings.frames,
        stages=_stages(events, growth),
        sites=_sites(found),
        series=_series(events),
    )


def _rss_over_target(
    rss: Fit, verdict: Literal["PASS", "FAIL", "n/a"], message: str, *, min_slope: float, target: float
) -> tuple[Literal["PASS", "FAIL", "n/a"], str]:
    """RSS that keeps growing past the target fails it even with a flat heap: the process grows all the same."""
    judged = judge(rss, min_slope=min_slope, target=target)
    if not judged.detected or judged.verdict != "FAIL":
        return verdict, message
    over = f"RSS grows {rss.slope:+.3f} MB/iter, over the {target:g} MB/iter target"
    return "FAIL", f"{message}; {over} (the process grows although live objects do not)"


def _named(stage: str) -> str:
    if stage == TRUNCATED:
        return "frames too deep to reach the stage (raise --frames)"
    return "code outside the stages (setup, threads, harness)" if stage in _NOT_A_STAGE else f"stage '{stage}'"


def _message(basis: str, fit: Fit, reason: str, detected: bool, rss: Fit | None, min_slope: float) -> str:
    what = "the Python heap" if basis == "heap" else "RSS"
    trend = f"{what} {fit.slope:+.3f} MB/iter [95% CI {fit.ci_low:+.3f}, {fit.ci_high:+.3f}] over {fit.n} iterations"
    if detected:
        return f"leak: {trend}"
    text = f"no leak: {trend}, {reason}"
    if rss is not None and rss.ci_low > min_slope:
        text += f"; RSS grows {rss.slope:+.3f} MB/iter, memory the allocator keeps (fragmentation), not live objects"
    return text
