"""The rate search: doubling then bisecting, the stage that gave way, verdicts against targets."""

from __future__ import annotations

import pytest

from ragperf.errors import ConfigError
from ragperf.load.findmax import QUEUEING, first_rising, next_rate, parse_ramp, rate_verdicts
from ragperf.schema.load import LoadStage, LoadStep


def _stage(path: str, p50: float) -> LoadStage:
    return LoadStage.model_construct(path=path, p50=p50, p95=p50 * 1.2)


def _step(rate: float, holds: bool, stages: dict[str, float] | None = None, latency: float = 20, service: float = 20):
    return LoadStep.model_construct(
        offered_qps=rate,
        holds_targets=holds,
        sustained=holds,
        stages=tuple(_stage(p, v) for p, v in (stages or {}).items()),
        latency=_stage("total", latency),
        service=_stage("service", service),
    )


def test_search_doubles_then_bisects_to_within_five_percent():
    # GIVEN a pipeline that holds any rate up to 137 qps
    steps: list[LoadStep] = []
    rate = next_rate(steps, 10, 100_000)
    # WHEN the search runs until it stops
    while rate is not None and len(steps) < 16:
        steps.append(_step(rate, rate <= 137))
        rate = next_rate(steps, 10, 100_000)
    rates = [s.offered_qps for s in steps]
    # THEN it doubled from 10 to the first failure (160), bisected a few times, never past 16 steps
    assert rates[:5] == [10, 20, 40, 80, 160]
    best = max(s.offered_qps for s in steps if s.holds_targets)
    assert 120 <= best <= 137
    assert len(steps) <= 9


def test_search_halves_when_the_first_rate_fails_and_respects_the_ceiling():
    steps = [_step(40, False)]
    assert next_rate(steps, 40, 1000) == 20
    assert next_rate([_step(64, True)], 64, 100) == 100
    assert next_rate([_step(100, True)], 100, 100) is None


def test_first_rising_names_the_stage_or_the_queue():
    # GIVEN a stage whose median doubles at 40 qps while the others stay put
    slow = [_step(10, True, {"a": 5, "b": 10}), _step(20, True, {"a": 5, "b": 10}), _step(40, True, {"a": 5, "b": 21})]
    assert first_rising(slow) == ("b", 40)
    # AND a run where no stage slowed but queries waited for a worker
    queued = [_step(10, True, {"a": 5}), _step(20, False, {"a": 5}, latency=200, service=20)]
    assert first_rising(queued) == (QUEUEING, 20)


def test_rate_verdicts_pass_fail_and_untested():
    steps = [_step(10, True), _step(20, True), _step(40, False)]
    holding, peak, verdicts = rate_verdicts(steps, sustained_qps=15, peak_qps=100)
    by_name = {v.name: v.verdict for v in verdicts}
    assert (holding, peak) == (20, 20)
    assert by_name["sustained_qps"] == "PASS"
    assert by_name["peak_qps"] == "FAIL"  # 40 qps, below the 100 qps target, was not sustained
    _, _, untested = rate_verdicts([_step(10, True)], sustained_qps=50, peak_qps=None)
    assert untested[0].verdict == "n/a"


def test_parse_ramp():
    assert parse_ramp("10:40:10") == [10, 20, 30, 40]
    with pytest.raises(ConfigError, match="START:STOP:STEP"):
        parse_ramp("10-40")
    with pytest.raises(ConfigError, match="STEP 0: need a rate above 0"):
        parse_ramp("10:40:0")
    with pytest.raises(ConfigError, match="STOP inf: need a finite number"):
        parse_ramp("1:inf:1")
    with pytest.raises(ConfigError, match="START nan: need a finite number"):
        parse_ramp("nan:2:1")
    with pytest.raises(ConfigError, match="makes 100 steps; at most 16"):
        parse_ramp("1:100:1")


def test_search_goes_on_past_the_latency_limit_until_a_rate_is_not_sustained():
    # GIVEN a search that found its holding rate, but every rate tried was still sustained
    steps = [_step(10, True), _step(20, False), _step(15, True), _step(17.5, False), _step(16.25, True)]
    for step in steps:
        step.__dict__["sustained"] = True
    # THEN it keeps stepping up (x1.5) to bound the peak, and stops once a rate is not sustained
    assert next_rate(steps, 10, 1000) == 30
    steps.append(_step(30, False))
    assert next_rate(steps, 10, 1000) is None
