"""The leak trend: Theil-Sen slope and Sen's interval, the verdict rules, stage attribution."""

from __future__ import annotations

import numpy as np
import pytest

from ragperf.analysis.leak import judge
from ragperf.engine.events import LeakSites, MemoryReading, StageReading
from ragperf.memory.leak_report import build_leak_report
from ragperf.memory.settings import DEFAULT_MIN_SLOPE, LeakSettings
from ragperf.memory.snapshots import OUTSIDE, TRUNCATED, growing_sites
from ragperf.memory.trend import theil_sen
from ragperf.renderers.terminal import sparkline
from ragperf.trampoline import make_trampoline

MB = 1 << 20


def test_theil_sen_matches_scipy_slope_and_interval() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    for trial in range(60):
        # GIVEN noisy lines of various lengths, a third of them with tied values
        n = int(rng.integers(5, 60))
        y = 0.1 * np.arange(n) + rng.normal(0, rng.uniform(0.01, 1), n)
        if trial % 3 == 0:
            y = np.round(y, 1)
        # WHEN both fit them
        ours, theirs = theil_sen(y), scipy_stats.theilslopes(y, alpha=0.95)
        # THEN slope and 95% interval agree
        assert ours.slope == pytest.approx(theirs.slope)
        assert (ours.ci_low, ours.ci_high) == pytest.approx((theirs.low_slope, theirs.high_slope))


def test_theil_sen_ignores_outliers_that_break_least_squares() -> None:
    # GIVEN 0.1 MB/iter growth with 4 of 40 late points hit by huge spikes (a stray buffer still alive)
    rng = np.random.default_rng(3)
    y = 100 + 0.1 * np.arange(40) + rng.normal(0, 0.002, 40)
    y[[30, 33, 36, 39]] += 50
    # WHEN fitted
    fit = theil_sen(y)
    # THEN the slope stays within 1% of the truth, while least squares is thrown off many times more
    assert fit.slope == pytest.approx(0.1, rel=0.01)
    assert abs(np.polyfit(np.arange(40), y, 1)[0] - 0.1) > 0.2


def test_theil_sen_needs_three_points() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        theil_sen([1.0, 2.0])


def test_judge_flat_growing_and_stopped_series() -> None:
    x = np.arange(30, dtype=float)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.001, 30)
    # GIVEN a flat series, a 0.1 MB/iter leak, a 2 MB/iter leak, and a cache that fills over 12 iterations
    flat = judge(theil_sen(50 + noise), min_slope=DEFAULT_MIN_SLOPE, target=0.5)
    small = judge(theil_sen(50 + 0.1 * x + noise), min_slope=DEFAULT_MIN_SLOPE, target=0.5)
    large = judge(theil_sen(50 + 2.0 * x + noise), min_slope=DEFAULT_MIN_SLOPE, target=0.5)
    warming = judge(theil_sen(50 + np.minimum(x, 12) * 0.5 + noise), min_slope=DEFAULT_MIN_SLOPE, target=0.5)
    # THEN only the leaks are detected, and only the one over target fails
    assert (flat.detected, flat.verdict) == (False, "PASS")
    assert (small.detected, small.verdict) == (True, "PASS")
    assert (large.detected, large.verdict) == (True, "FAIL")
    assert (warming.detected, warming.verdict) == (False, "PASS")
    assert "stopped" in warming.reason
    assert judge(theil_sen(50 + 2.0 * x), min_slope=DEFAULT_MIN_SLOPE, target=None).verdict == "n/a"


def _events(rss: list[float], heap: list[float]) -> list[MemoryReading]:
    return [
        MemoryReading(
            index=i,
            id=f"q{i % 3}",
            rss=int(r * MB),
            heap=int(h * MB),
            stages=(StageReading("a", int(r * MB), int(r * MB), int(h * MB), int(h * MB), int(r * MB)),),
            probe_ns=None,
        )
        for i, (r, h) in enumerate(zip(rss, heap, strict=True))
    ]


def _found(stages: dict[str, float]) -> LeakSites:
    return LeakSites(every=3, frames=40, stages=stages, sites=())


def test_rss_growth_with_a_flat_heap_is_fragmentation_not_a_leak() -> None:
    # GIVEN RSS climbing 0.3 MB/iter while the live heap stays flat
    rss = [100 + 0.3 * i for i in range(30)]
    heap = [40.0] * 30
    # WHEN the report is built
    report = build_leak_report(_events(rss, heap), _found({}), LeakSettings(), warmup=5, target=0.5)
    # THEN the verdict is judged on the heap: no leak, with the RSS growth explained
    assert report.basis == "heap"
    assert not report.detected
    assert report.verdict == "PASS"
    assert report.rss is not None
    assert report.rss.slope == pytest.approx(0.3)
    assert "fragmentation" in report.message


def test_rss_growing_past_the_target_fails_even_with_a_flat_heap() -> None:
    # GIVEN RSS climbing 0.8 MB/iter (over the 0.5 target) while the live heap stays flat
    rss = [100 + 0.8 * i for i in range(30)]
    report = build_leak_report(_events(rss, [40.0] * 30), _found({}), LeakSettings(), warmup=5, target=0.5)
    # THEN no live-object leak is claimed, but the target fails on the process's growth, and says why
    assert not report.detected
    assert report.verdict == "FAIL"
    assert "RSS grows +0.800 MB/iter, over the 0.5 MB/iter target" in report.message


def test_growth_is_attributed_to_the_stage_holding_most_growing_bytes() -> None:
    # GIVEN a 0.5 MB/iter heap leak; snapshots see 0.45 MB/iter in retrieval.bm25 and a little elsewhere
    heap = [40 + 0.5 * i for i in range(30)]
    found = _found({"retrieval.bm25": 0.45 * MB, "rerank": 0.04 * MB, TRUNCATED: 0.01 * MB})
    # WHEN the report is built
    report = build_leak_report(_events(heap, heap), found, LeakSettings(), warmup=5, target=0.5)
    # THEN the sub-stage is named with its share, and every stage appears in the breakdown
    assert report.detected
    assert report.verdict == "FAIL"
    assert report.stage == "retrieval.bm25"
    assert "90% of the growing bytes are in stage 'retrieval.bm25'" in report.message
    by_path = {s.path: s for s in report.stages}
    assert by_path["retrieval.bm25"].share == pytest.approx(0.9)
    assert by_path["a"].growth_per_iter is None  # probed, but no growing site


def test_a_leak_without_any_site_says_why_no_stage_is_named() -> None:
    heap = [40 + 0.2 * i for i in range(30)]
    report = build_leak_report(_events(heap, heap), None, LeakSettings(), warmup=5, target=0.5)
    assert report.detected
    assert report.stage is None
    assert "native memory, or no snapshots" in report.message


def test_sparkline_spans_the_range() -> None:
    assert sparkline([0.0, 1.0, None, 2.0]) == "▁▅ █"
    assert sparkline([]) == ""
    assert sparkline([5.0, 5.0001, 5.0001], min_range=0.3) == "▁▁▁"  # noise stays flat


def test_snapshots_name_the_growing_line_and_its_stage_through_the_trampoline() -> None:
    # GIVEN a stage called through its trampoline that keeps 64 KB per call, and a harness that
    # keeps 8 KB per call outside any stage
    kept: list[bytes] = []
    trampoline = make_trampoline("retrieval.bm25", is_async=False)

    def stage(_: object) -> None:
        kept.append(b"s" * 65536)  # the stage's leak

    def iteration(_: int) -> None:
        trampoline(stage, None)
        kept.append(b"h" * 8192)  # the harness's leak

    # WHEN the snapshots compare three points, 2 iterations apart
    found = growing_sites(iteration, 0, 2, 500)  # deep enough for all of pytest's own stack
    # THEN both sites are found, each with its owner and its growth per iteration
    by_stage = {site["stage"]: site for site in found["sites"]}
    assert by_stage["retrieval.bm25"]["growth"] == pytest.approx(65536, rel=0.05)
    assert by_stage["retrieval.bm25"]["code"] == 'kept.append(b"s" * 65536)  # the stage\'s leak'
    assert by_stage[OUTSIDE]["growth"] == pytest.approx(8192, rel=0.1)
    assert found["stages"]["retrieval.bm25"] == pytest.approx(65536, rel=0.05)


def test_too_few_frames_to_reach_the_trampoline_is_said_so() -> None:
    # GIVEN a leak three calls below the stage's trampoline, traced with 2 frames only
    kept: list[bytes] = []
    trampoline = make_trampoline("deep", is_async=False)

    def inner() -> None:
        kept.append(b"d" * 65536)

    def middle() -> None:
        inner()

    def stage(_: object) -> None:
        middle()

    # WHEN the snapshots run
    found = growing_sites(lambda _: trampoline(stage, None), 0, 2, 2)
    # THEN the site is not blamed on "outside stages" but marked as too deep
    assert found["sites"][0]["stage"] == TRUNCATED
