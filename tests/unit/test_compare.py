"""Tests for the `ragperf diff` statistics engine (ragperf.analysis.compare)."""

# Tests compare against literal expected values; naming each one would hide what is being checked.

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest

from ragperf.analysis.compare import (
    DEFAULT_THRESHOLD,
    MIN_SAMPLES,
    compare_stage,
    compare_stages,
    parse_thresholds,
)
from ragperf.analysis.ranks import kth_difference

if TYPE_CHECKING:
    import numpy.typing as npt

STAGES = ("embed", "retrieve", "rerank", "generate", "postprocess")


def latencies(
    rng: np.random.Generator, n: int, *, sigma: float = 0.15, median: float = 50.0, factor: float = 1.0
) -> npt.NDArray[np.float64]:
    """Log-normal stage latencies (ms) with 3% of queries slowed x2-x5, as real runs have."""
    x = rng.lognormal(math.log(median), sigma, n)
    slow = rng.random(n) < 0.03
    x[slow] *= rng.uniform(2.0, 5.0, int(slow.sum()))
    return x * factor


def test_aa_same_distribution_gives_no_regression() -> None:
    # GIVEN two runs of five stages drawn from the same distributions
    rng = np.random.default_rng(11)
    old = {s: latencies(rng, 200, median=10.0 * (i + 1)) for i, s in enumerate(STAGES)}
    new = {s: latencies(rng, 200, median=10.0 * (i + 1)) for i, s in enumerate(STAGES)}
    # WHEN they are compared
    results = compare_stages(old, new)
    # THEN every stage is reported, none as a change, and the shift CIs cover 0
    assert [r.name for r in results] == list(STAGES)
    for r in results:
        assert r.verdict in {"unchanged", "inconclusive"}, r
        assert r.shift_ci[0] < 0 < r.shift_ci[1]
        assert r.ci_level == pytest.approx(1 - 0.05 / 5)
        assert r.p_adjusted == pytest.approx(min(1.0, 5 * r.p_value))


def test_identical_samples_have_no_shift_and_p_one() -> None:
    # GIVEN the very same samples on both sides
    x = latencies(np.random.default_rng(3), 50)
    # WHEN compared
    r = compare_stage("s", x, x)
    # THEN the estimated shift is exactly 0 and the rank test sees nothing
    assert r.shift == 0.0
    assert r.p_value == 1.0
    assert r.verdict in {"unchanged", "inconclusive"}


def test_known_shift_is_found_in_that_stage_only() -> None:
    # GIVEN five stages where only "rerank" got 25% slower
    rng = np.random.default_rng(5)
    old = {s: latencies(rng, 200) for s in STAGES}
    new = {s: latencies(rng, 200, factor=1.25 if s == "rerank" else 1.0) for s in STAGES}
    # WHEN compared
    results = {r.name: r for r in compare_stages(old, new)}
    # THEN rerank is a regression whose CI covers the true +25%, and no other stage is flagged
    rerank = results.pop("rerank")
    assert rerank.verdict == "regression"
    assert rerank.shift_ci[0] < 0.25 < rerank.shift_ci[1]
    assert rerank.p_adjusted < 0.05
    assert rerank.queries_needed is None
    assert all(r.verdict not in {"regression", "improvement"} for r in results.values())


def test_speedup_is_an_improvement() -> None:
    # GIVEN a stage that became 30% faster
    rng = np.random.default_rng(8)
    # WHEN compared
    r = compare_stage("s", latencies(rng, 150), latencies(rng, 150, factor=0.7))
    # THEN it is an improvement, with a negative relative shift near -30%
    assert r.verdict == "improvement"
    assert r.shift_ci[0] < -0.3 < r.shift_ci[1]


def test_unequal_sample_sizes() -> None:
    # GIVEN a baseline of 40 queries and a new run of 300, first unchanged, then 30% slower
    rng = np.random.default_rng(21)
    old = latencies(rng, 40)
    same = compare_stage("s", old, latencies(rng, 300))
    slower = compare_stage("s", old, latencies(rng, 300, factor=1.3))
    # THEN sizes are kept, the unchanged one is not flagged and the slower one is a regression
    assert (same.n_old, same.n_new) == (40, 300)
    assert same.verdict in {"unchanged", "inconclusive"}
    assert slower.verdict == "regression"


def test_queries_needed_counts_the_smaller_run() -> None:
    # GIVEN sigma=0.2 noise, no change, a 50-query baseline against a 5000-query new run
    rng = np.random.default_rng(20)
    r = compare_stage("s", rng.lognormal(3.0, 0.2, 50), rng.lognormal(3.0, 0.2, 5000))
    # WHEN the verdict is inconclusive THEN the query count is per run of equal size: the precision of this
    # pair equals two ~100-query runs, so about as many as for n=100 vs 100 (not 50's, not 5000's)
    assert r.verdict == "inconclusive"
    assert r.queries_needed is not None
    assert 250 < r.queries_needed < 800


def test_mann_whitney_p_value_matches_scipy_with_ties_and_unequal_sizes() -> None:
    stats = pytest.importorskip("scipy.stats")
    # GIVEN rounded (so heavily tied) samples of different sizes
    rng = np.random.default_rng(2)
    for m, n in ((5, 7), (40, 300), (120, 80)):
        old = np.round(latencies(rng, m, median=8.0))
        new = np.round(latencies(rng, n, median=8.0, factor=1.1))
        # WHEN compared
        r = compare_stage("s", old, new)
        # THEN the p-value equals scipy's tie- and continuity-corrected normal approximation
        expected = stats.mannwhitneyu(new, old, alternative="two-sided", method="asymptotic").pvalue
        assert r.p_value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n_small", [0, 1, MIN_SAMPLES - 1])
def test_tiny_samples_are_too_few_not_guessed(n_small: int) -> None:
    # GIVEN fewer than 5 queries on one side, ten times slower than the other side
    rng = np.random.default_rng(4)
    old, new = latencies(rng, 100), latencies(rng, n_small, factor=10.0)
    # WHEN compared
    r = compare_stage("s", old, new, metric_thresholds={"p95": 0.1})
    # THEN the verdict is too_few (not a regression), and nothing inferential is made up
    assert r.verdict == "too_few"
    assert math.isnan(r.shift)
    assert math.isnan(r.p_value)
    assert r.min_detectable is None
    assert r.queries_needed is None
    assert r.metric("p95").verdict == "too_few"
    # ... while the descriptive numbers are still there when there is data
    assert r.metric("mean").old == pytest.approx(float(np.mean(old)))


def test_too_few_stage_does_not_dilute_the_correction() -> None:
    # GIVEN three stages, one with only 3 queries in the new run
    rng = np.random.default_rng(6)
    old = {s: latencies(rng, 100) for s in ("a", "b", "c")}
    new = {"a": latencies(rng, 100), "b": latencies(rng, 100), "c": latencies(rng, 3)}
    # WHEN compared
    results = {r.name: r for r in compare_stages(old, new)}
    # THEN c is too_few and the others are corrected for two comparisons, not three
    assert results["c"].verdict == "too_few"
    assert results["a"].ci_level == pytest.approx(1 - 0.05 / 2)


def test_noisy_small_runs_are_inconclusive_with_a_query_count() -> None:
    # GIVEN sigma=0.2 log-normal stages, 100 queries per run, no real change
    rng = np.random.default_rng(9)
    old, new = rng.lognormal(3.0, 0.2, 100), rng.lognormal(3.0, 0.2, 100)
    # WHEN compared at the default 5% threshold
    r = compare_stage("s", old, new)
    # THEN the verdict is inconclusive, not unchanged: the CI is wider than +-5%
    assert r.verdict == "inconclusive"
    assert r.shift_ci[1] - r.shift_ci[0] > 2 * DEFAULT_THRESHOLD
    # ... and it says what could be detected and roughly how many queries would settle it
    assert r.min_detectable is not None
    assert r.min_detectable > DEFAULT_THRESHOLD
    assert r.queries_needed is not None
    assert 200 < r.queries_needed < 1500


def test_enough_queries_make_the_same_noise_unchanged() -> None:
    # GIVEN the same sigma=0.2 noise but 2000 queries per run (4M pairwise differences: the bisection path)
    rng = np.random.default_rng(10)
    old, new = rng.lognormal(3.0, 0.2, 2000), rng.lognormal(3.0, 0.2, 2000)
    # WHEN compared
    r = compare_stage("s", old, new)
    # THEN the CI fits inside +-5% and the stage is unchanged
    assert r.verdict == "unchanged"
    assert -DEFAULT_THRESHOLD < r.shift_ci[0] < r.shift_ci[1] < DEFAULT_THRESHOLD
    assert r.queries_needed is None


def test_significant_but_below_threshold_is_unchanged_when_the_ci_excludes_it() -> None:
    # GIVEN a real but small 2% slowdown measured very precisely
    rng = np.random.default_rng(12)
    old, new = rng.lognormal(3.0, 0.1, 3000), rng.lognormal(3.0, 0.1, 3000) * 1.02
    # WHEN compared
    r = compare_stage("s", old, new)
    # THEN it is significant, yet the whole CI is below 5%: unchanged, not a regression
    assert r.p_adjusted < 0.05
    assert 0 < r.shift_ci[0] < r.shift_ci[1] < DEFAULT_THRESHOLD
    assert r.verdict == "unchanged"


def test_shift_is_the_hodges_lehmann_estimate_on_both_code_paths() -> None:
    # GIVEN samples whose pairwise differences are few (direct path) or many (bisection path)
    rng = np.random.default_rng(13)
    for m, n in ((30, 45), (1000, 1100)):
        old, new = latencies(rng, m), latencies(rng, n, factor=1.07)
        # WHEN compared
        r = compare_stage("s", old, new)
        # THEN the shift is exactly the median pairwise log-ratio
        expected = math.expm1(float(np.median(np.subtract.outer(np.log(new), np.log(old)))))
        assert r.shift == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_large_but_unproven_change_is_inconclusive_not_a_regression() -> None:
    # GIVEN 10 widely spread queries per run, the new ones exactly 8% slower each
    old = np.exp(np.linspace(-0.5, 0.5, 10)) * 100
    new = old * 1.08
    # WHEN compared
    r = compare_stage("s", old, new)
    # THEN the estimate is +8% (beyond 5%) but not significant: inconclusive, never a guessed regression
    assert r.shift == pytest.approx(0.08)
    assert r.p_adjusted > 0.05
    assert r.verdict == "inconclusive"
    assert r.queries_needed is not None
    assert r.queries_needed > 10


def test_kth_pairwise_difference_without_materialising_matches_brute_force() -> None:
    # GIVEN sorted samples with ties, and dense continuous ones (the large-sample bisection path, run on
    # sizes we can check by brute force)
    rng = np.random.default_rng(19)
    cases = [
        (np.round(rng.normal(0, 1, 37), 1), np.round(rng.normal(0.3, 1, 23), 1)),
        (rng.normal(0, 1, 300), rng.normal(0.3, 1, 200)),
    ]
    for x_raw, y_raw in cases:
        x, y = np.sort(x_raw), np.sort(y_raw)
        brute = np.sort(np.subtract.outer(y, x).ravel())
        # WHEN any order statistic is asked for, extremes included
        for k in (1, 2, 100, brute.size // 2, brute.size // 2 + 1, brute.size - 1, brute.size):
            # THEN it is the k-th smallest y_j - x_i
            assert kth_difference(x, y, k) == pytest.approx(brute[k - 1], abs=1e-12)


def test_p95_threshold_catches_a_tail_regression_the_median_misses() -> None:
    # GIVEN a stage whose slowest 10% of queries became 60% slower, the rest untouched
    rng = np.random.default_rng(14)
    old = rng.lognormal(3.0, 0.1, 400)
    new = rng.lognormal(3.0, 0.1, 400)
    tail = new > np.quantile(new, 0.9)
    new[tail] *= 1.6
    # WHEN compared with only the default threshold, and with p95=10%
    plain = compare_stage("s", old, new)
    gated = compare_stage("s", old, new, metric_thresholds={"p95": 0.10})
    # THEN only the p95 check calls it a regression, with its own CI above +10%
    assert plain.verdict != "regression"
    p95 = gated.metric("p95")
    assert p95.verdict == "regression"
    assert p95.ci is not None
    assert p95.ci[0] > 0
    assert gated.verdict == "regression"
    # ... and the gated metric widens the correction (two checks per stage)
    assert gated.ci_level == pytest.approx(1 - 0.05 / 2)


def test_p99_on_100_queries_is_too_thin_to_gate() -> None:
    # GIVEN 100 queries per run and a p99 threshold (1 query beyond p99: no evidence)
    rng = np.random.default_rng(15)
    # WHEN compared
    r = compare_stage("s", latencies(rng, 100), latencies(rng, 100), metric_thresholds={"p99": 0.2})
    # THEN p99 is too_few, the stage is inconclusive, and 500 queries per run are asked for
    assert r.metric("p99").verdict == "too_few"
    assert r.verdict == "inconclusive"
    assert r.queries_needed is not None
    assert r.queries_needed >= 500


def test_results_are_deterministic_and_independent_of_stage_order() -> None:
    # GIVEN runs compared with a bootstrap-gated metric
    rng = np.random.default_rng(16)
    old = {s: latencies(rng, 120) for s in STAGES[:3]}
    new = {s: latencies(rng, 120) for s in STAGES[:3]}
    # WHEN compared twice, once with the stages in reverse order
    first = compare_stages(old, new, metric_thresholds={"p95": 0.1})
    again = compare_stages(old, new, metric_thresholds={"p95": 0.1})
    reverse = compare_stages(dict(reversed(old.items())), new, metric_thresholds={"p95": 0.1})
    # THEN the results are identical, stage by stage
    assert first == again
    assert {r.name: r for r in first} == {r.name: r for r in reverse}


def test_only_stages_in_both_runs_are_compared() -> None:
    # GIVEN a stage that only the old run has, and one only the new run has
    rng = np.random.default_rng(17)
    old = {"a": latencies(rng, 20), "gone": latencies(rng, 20)}
    new = {"a": latencies(rng, 20), "added": latencies(rng, 20)}
    # WHEN compared
    results = compare_stages(old, new)
    # THEN only the common stage is reported
    assert [r.name for r in results] == ["a"]


def test_metrics_report_percentiles_and_relative_change() -> None:
    # GIVEN a new run exactly twice as slow
    old = np.arange(1.0, 101.0)
    # WHEN compared
    r = compare_stage("s", old, old * 2)
    # THEN every metric doubles: +100%
    assert [m.metric for m in r.metrics] == ["p50", "p95", "p99", "mean"]
    for m in r.metrics:
        assert m.new == pytest.approx(2 * m.old)
        assert m.rel_change == pytest.approx(1.0)
    assert r.shift == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [[1.0, -2.0, 3.0], [1.0, math.nan], [math.inf, 1.0]])
def test_invalid_durations_are_rejected(bad: list[float]) -> None:
    # GIVEN a negative or non-finite duration WHEN compared THEN it is refused, naming the stage
    with pytest.raises(ValueError, match="retrieve"):
        compare_stage("retrieve", [1.0] * 10, bad)


def test_zero_durations_are_tolerated() -> None:
    # GIVEN durations below timer resolution (0 ms) WHEN compared THEN the result is finite
    r = compare_stage("s", [0.0] * 5 + [1.0] * 5, [0.0] * 5 + [1.0] * 5)
    assert math.isfinite(r.shift)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ([], (0.05, {})),
        (["5%"], (0.05, {})),
        (["0.05"], (0.05, {})),
        (["p95=10%"], (0.05, {"p95": 0.10})),
        (["3%", "p95=10%", "p99=0.25"], (0.03, {"p95": 0.10, "p99": 0.25})),
        ("2.5%, p95 = 10% ,mean=7%", (0.025, {"p95": 0.10, "mean": 0.07})),
        (["median=4%"], (0.05, {"p50": 0.04})),
        (["150%"], (1.5, {})),
    ],
)
def test_parse_thresholds(spec: list[str] | str, expected: tuple[float, dict[str, float]]) -> None:
    # GIVEN a threshold spec as the CLI receives it WHEN parsed THEN default and per-metric values come out
    default, per_metric = parse_thresholds(spec)
    assert default == pytest.approx(expected[0])
    assert per_metric == pytest.approx(expected[1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["5"], "ambiguous"),
        (["p42=5%"], "unknown metric"),
        (["-5%"], ">= 0"),
        (["fast"], "not a threshold"),
        (["5%", "4%"], "twice"),
        (["p95=5%", "p95=6%"], "twice"),
        (["nan%"], ">= 0"),
    ],
)
def test_parse_thresholds_rejects_bad_specs(spec: list[str], message: str) -> None:
    # GIVEN a malformed or ambiguous spec WHEN parsed THEN a ValueError explains it
    with pytest.raises(ValueError, match=message):
        parse_thresholds(spec)


def test_p50_threshold_sets_the_shift_threshold() -> None:
    # GIVEN a 20% slowdown and p50=30%
    rng = np.random.default_rng(18)
    old, new = latencies(rng, 300), latencies(rng, 300, factor=1.2)
    # WHEN compared
    r = compare_stage("s", old, new, metric_thresholds={"p50": 0.30})
    # THEN the shift is judged against 30%: significant but not beyond it, so not a regression
    assert r.threshold == pytest.approx(0.30)
    assert r.verdict != "regression"
    assert compare_stage("s", old, new).verdict == "regression"


@pytest.mark.parametrize("metric", ["p50", "p95", "p99", "mean"])
def test_the_large_sample_ratio_interval_covers_no_change_95_percent_of_the_time(metric):
    # GIVEN runs too large to bootstrap (past 2,000 queries a side), with no change between them
    from ragperf.analysis.metric_ci import log_ratio_ci

    rng = np.random.default_rng(7)
    trials = 300
    # WHEN the interval of log(new / old) is computed for each pair
    covered = sum(
        lo <= 0.0 <= hi
        for lo, hi in (
            log_ratio_ci(rng.lognormal(0, 1, 3000), rng.lognormal(0, 1, 3000), metric, 0.05, rng) for _ in range(trials)
        )
    )
    # THEN it holds "no change" about 95% of the time (seeded: the same draws every run)
    assert 0.90 <= covered / trials <= 0.99
