"""Per-worker arrival streams: together they make the offered stream at the whole rate."""

from __future__ import annotations

import itertools
import statistics

import pytest

from ragperf.load.arrivals import intended_starts

NS = 1_000_000_000


def _merged(rate: float, workers: int, duration: float, arrival: str, seed: int = 7) -> list[int]:
    return sorted(t for index in range(workers) for t in intended_starts(rate, workers, index, duration, arrival, seed))


def test_constant_streams_interleave_into_an_evenly_spaced_stream():
    # GIVEN 4 workers sharing 200 qps for 2 s
    starts = _merged(200, 4, 2.0, "constant")
    # THEN there are 400 starts, 5 ms apart (to the nanosecond rounding), all inside the step
    assert len(starts) == 400
    gaps = {b - a for a, b in itertools.pairwise(starts)}
    assert max(gaps) - min(gaps) <= 2
    assert statistics.mean(gaps) == pytest.approx(NS / 200, abs=2)
    assert starts[0] == 0
    assert starts[-1] < 2 * NS


def test_poisson_streams_add_up_to_a_poisson_stream_at_the_whole_rate():
    # GIVEN 2 workers sharing 1000 qps for 20 s, each drawing its own stream
    starts = _merged(1000, 2, 20.0, "poisson")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # THEN the count is 20,000 within 3 standard deviations (sqrt(20,000) ~ 141)
    assert abs(len(starts) - 20_000) < 3 * 141
    # AND the merged gaps look exponential: mean ~ 1 ms, and the stdev ~ the mean
    mean = statistics.mean(gaps)
    assert mean == pytest.approx(NS / 1000, rel=0.03)
    assert statistics.stdev(gaps) == pytest.approx(mean, rel=0.05)


def test_workers_draw_different_streams_and_seeds_repeat():
    first = list(intended_starts(100, 2, 0, 1.0, "poisson", seed=1))
    other = list(intended_starts(100, 2, 1, 1.0, "poisson", seed=1))
    again = list(intended_starts(100, 2, 0, 1.0, "poisson", seed=1))
    assert first != other
    assert first == again


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="rate > 0"):
        list(intended_starts(0, 1, 0, 1.0, "constant"))
    with pytest.raises(ValueError, match="index"):
        list(intended_starts(10, 2, 2, 1.0, "constant"))
