"""Stepping the offered rate: the next rate to try, the highest rate that held, the stage that gave way.

The search doubles the rate until a step fails (p95 over target, errors over budget, or the
rate not sustained), then bisects between the last rate that held and the first that did not.
If the very first rate fails it halves instead, so the answer is a rate that was measured to
hold, never an extrapolation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.verdicts import judge
from ragperf.errors import ConfigError
from ragperf.load.limits import MAX_STEPS, check_rate
from ragperf.schema.load import RateVerdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.schema.load import LoadStep

__all__ = ["QUEUEING", "first_rising", "next_rate", "parse_ramp", "rate_verdicts"]

QUEUEING = "<queueing: waiting for a free worker lane>"
_RISE_RATIO = 1.5  # a stage "gives way" when its median is 1.5x its median at the lowest rate...
_RISE_MIN_MS = 1.0  # ...and at least this much higher (sub-millisecond stages jitter by ratios)
_BISECTIONS = 3
_HALVINGS = 4
_PEAK_FACTOR = 1.5


def parse_ramp(text: str) -> list[float]:
    """`START:STOP:STEP` → the rates START, START+STEP, ... up to STOP (at most MAX_STEPS of them)."""
    try:
        start, stop, step = (float(part) for part in text.split(":"))
    except ValueError:
        msg = f"--ramp '{text}': expected START:STOP:STEP in queries per second, e.g. --ramp 10:40:10"
        raise ConfigError(msg) from None
    for name, value in (("START", start), ("STOP", stop), ("STEP", step)):
        check_rate(f"--ramp '{text}': {name}", value, "e.g. --ramp 10:40:10")
    if stop < start:
        raise ConfigError(f"--ramp '{text}': need 0 < START <= STOP and STEP > 0")
    count = int((stop - start) / step + 1e-9) + 1
    if count > MAX_STEPS:
        raise ConfigError(f"--ramp '{text}' makes {count} steps; at most {MAX_STEPS}: raise STEP")
    return [round(start + i * step, 6) for i in range(count)]


def next_rate(steps: Sequence[LoadStep], start: float, ceiling: float) -> float | None:
    """The next rate for --find-max, or None when the answer is known well enough.

    First the highest rate that holds the targets; then, if every rate tried was still
    sustained (only latency failed), higher rates until one is not, so the peak is bounded too.
    """
    if not steps:
        return start
    rate = _holding_search(steps, ceiling)
    if rate is not None or any(not s.sustained for s in steps):
        return rate
    top = max(s.offered_qps for s in steps)
    return round(min(top * _PEAK_FACTOR, ceiling), 3) if top < ceiling else None


def _holding_search(steps: Sequence[LoadStep], ceiling: float) -> float | None:
    passed = sorted(s.offered_qps for s in steps if s.holds_targets)
    failed = sorted(s.offered_qps for s in steps if not s.holds_targets)
    if not passed:
        lowest = failed[0] / 2
        return lowest if len(failed) <= _HALVINGS else None
    best = passed[-1]
    above = [rate for rate in failed if rate > best]
    if not above:
        rate = best * 2
        return min(rate, ceiling) if best < ceiling else None
    bisections = len(steps) - 1 - _first_fail_above_pass(steps)
    if bisections >= _BISECTIONS or above[0] - best <= max(1.0, 0.05 * best):
        return None
    return round((best + above[0]) / 2, 3)


def _first_fail_above_pass(steps: Sequence[LoadStep]) -> int:
    """Index of the step that ended the doubling: the first failure above a rate that held."""
    best = None
    for index, step in enumerate(steps):
        if step.holds_targets:
            best = step.offered_qps if best is None else max(best, step.offered_qps)
        elif best is not None and step.offered_qps > best:
            return index
    return len(steps) - 1


def first_rising(steps: Sequence[LoadStep]) -> tuple[str | None, float | None]:
    """The stage whose latency rose first as the rate went up (vs. the lowest rate), and at what rate.

    Medians are compared, not p95s: a short step's p95 of a 5 ms stage jumps on one scheduler
    hiccup. At the first step where something rose, the largest rise in milliseconds wins, so
    a stage that slowed is told apart from queries that waited for a free worker (QUEUEING).
    """
    ordered = sorted(steps, key=lambda s: s.offered_qps)
    if len(ordered) < 2:
        return None, None
    base = {stage.path: stage.p50 for stage in ordered[0].stages if stage.p50 is not None}
    base_wait = _wait(ordered[0])
    for step in ordered[1:]:
        risen = [
            (stage.p50 - base[stage.path], stage.path)
            for stage in step.stages
            if stage.p50 is not None and _rose(base.get(stage.path), stage.p50)
        ]
        wait = _wait(step)
        if base_wait is not None and wait is not None and wait - base_wait >= max(_RISE_MIN_MS, base_wait):
            risen.append((wait - base_wait, QUEUEING))
        if risen:
            return max(risen)[1], step.offered_qps
    return None, None


def _wait(step: LoadStep) -> float | None:
    """Median time a query waited for a worker: latency from the intended start minus service."""
    if step.latency.p50 is None or step.service.p50 is None:
        return None
    return max(0.0, step.latency.p50 - step.service.p50)


def _rose(base: float | None, now: float | None) -> bool:
    if base is None or now is None or base <= 0:
        return False
    return now > base * _RISE_RATIO and now - base >= _RISE_MIN_MS


def rate_verdicts(
    steps: Sequence[LoadStep], sustained_qps: float | None, peak_qps: float | None
) -> tuple[float | None, float | None, tuple[RateVerdict, ...]]:
    """(highest rate holding the targets, highest rate sustained, verdicts vs. the config's targets)."""
    holding = max((s.offered_qps for s in steps if s.holds_targets), default=None)
    peak = max((s.offered_qps for s in steps if s.sustained), default=None)
    verdicts = []
    for name, target, measured, key in (
        ("sustained_qps", sustained_qps, holding, "holds_targets"),
        ("peak_qps", peak_qps, peak, "sustained"),
    ):
        if target is None:
            continue
        verdict = judge(measured, target, at_least=True)
        if verdict != "PASS":
            # Below the target only counts as a failure when a rate up to the target was tried and missed.
            missed = any(s.offered_qps <= target and not getattr(s, key) for s in steps)
            verdict = "FAIL" if missed else "n/a"
        verdicts.append(RateVerdict(name=name, target=target, measured=measured, unit="qps", verdict=verdict))
    return holding, peak, tuple(verdicts)
