"""The load histogram: bounded relative error, exact merges, lossless JSON round trip."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ragperf.load.histogram import SUB_BITS, Histogram, bucket_bounds, bucket_index


def _values(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    # Latencies in ns from ~10 µs to ~10 s: several decades, as a load test sees.
    return [int(rng.lognormvariate(16, 2.5)) for _ in range(n)]


def test_every_value_falls_inside_its_bucket_and_buckets_are_narrow():
    # GIVEN values across the whole range, including the exact small ones and powers of two
    values = [*range(600), *(2**k + d for k in range(8, 45) for d in (-1, 0, 1)), *_values(2000, 1)]
    for value in values:
        # WHEN its bucket is found
        low, high = bucket_bounds(bucket_index(value))
        # THEN the bucket holds it, and is at most 1/2**(SUB_BITS-1) of its values wide
        assert low <= value < high
        assert (high - low) <= max(1, low / 2 ** (SUB_BITS - 1))


def test_quantiles_within_half_a_percent_of_exact():
    # GIVEN 20,000 latencies spread over six decades
    values = _values(20_000, 2)
    hist = Histogram()
    for value in values:
        hist.record(value)
    # WHEN quantiles are read back
    # THEN each is within 0.4% of the exact order statistic (nearest rank), and count/mean/min/max are exact
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        exact = ordered[max(0, int(np.ceil(q * len(values))) - 1)]
        assert hist.quantile(q) == pytest.approx(exact, rel=0.004)
    assert hist.count == len(values)
    assert hist.mean() == pytest.approx(sum(values) / len(values))
    assert (hist.min, hist.max) == (min(values), max(values))
    assert hist.stdev() == pytest.approx(float(np.std(values, ddof=1)), rel=0.01)


def test_merge_equals_recording_everything_in_one():
    # GIVEN the same values split across three "workers"
    values = _values(9_000, 3)
    parts = [Histogram(), Histogram(), Histogram()]
    whole = Histogram()
    for i, value in enumerate(values):
        parts[i % 3].record(value)
        whole.record(value)
    # WHEN the parts are merged (after a JSON round trip, as workers ship them)
    merged = Histogram.merged(Histogram.from_dict(p.to_dict()) for p in parts)
    # THEN nothing is lost: identical buckets and aggregates
    assert list(merged.items()) == list(whole.items())
    assert (merged.count, merged.total, merged.min, merged.max) == (whole.count, whole.total, whole.min, whole.max)
    assert merged.quantile(0.99) == whole.quantile(0.99)


def test_empty_and_negative_and_foreign_layout():
    hist = Histogram()
    assert hist.quantile(0.5) is None
    assert hist.mean() is None
    hist.record(-5)  # a clock stepping back by a tick counts as zero
    assert hist.quantile(0.5) == 0
    data = hist.to_dict()
    data["sub_bits"] = SUB_BITS + 1
    with pytest.raises(ValueError, match="sub_bits"):
        Histogram.from_dict(data)
