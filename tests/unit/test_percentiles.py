"""Percentile intervals from order statistics: their coverage is the binomial probability they claim."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from ragperf.analysis.percentiles import MIN_FOR_CI, order_statistic_ranks, percentile_ci


@pytest.mark.parametrize(("n", "q"), [(10, 50), (100, 95), (200, 50), (1000, 99), (100_000, 95), (1_000_000, 99)])
def test_the_interval_covers_the_percentile_with_at_least_95_percent(n, q):
    # GIVEN the ranks chosen for n samples
    lo, hi = order_statistic_ranks(n, q)
    # THEN P(x(lo) <= true q-th percentile <= x(hi)) = P(lo < B <= hi), B ~ Binomial(n, q/100), is at least 95%
    coverage = binom.cdf(hi, n, q / 100) - binom.cdf(lo, n, q / 100)
    assert coverage >= 0.95
    # AND each tail is no wider than it must be: one rank tighter would miss 97.5% on that side
    assert binom.cdf(lo + 1, n, q / 100) > 0.025 or lo == 0
    assert binom.cdf(hi - 1, n, q / 100) < 0.975 or hi == n - 1


def test_a_sample_too_small_for_95_percent_falls_back_to_its_maximum():
    lo, hi = order_statistic_ranks(100, 99)
    assert hi == 99  # the sample's largest value: p99 of 100 queries cannot be bounded above
    assert lo < hi


def test_the_interval_is_read_off_the_sample_and_brackets_its_percentile():
    rng = np.random.default_rng(3)
    values = rng.lognormal(3, 1, size=5000)
    low, high = percentile_ci(values, 95)
    assert low <= np.percentile(values, 95) <= high
    assert low in values
    assert high in values
    assert percentile_ci(values[: MIN_FOR_CI - 1], 95) is None


@pytest.mark.parametrize("n", [1, 2, 10, 101, 5000])
def test_percentiles_of_a_sorted_sample_are_numpys(n):
    values = np.sort(np.random.default_rng(n).exponential(size=n))
    from ragperf.analysis.percentiles import sorted_percentiles

    assert sorted_percentiles(values, (0, 50, 90, 95, 99, 100)) == pytest.approx(
        list(np.percentile(values, [0, 50, 90, 95, 99, 100])), rel=1e-12
    )
