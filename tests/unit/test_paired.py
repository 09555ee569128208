"""The paired evidence of `ragperf compare`: block-median log ratios, the signed-rank test, their verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from ragperf.analysis.paired import compare_paired_stages
from ragperf.analysis.ranks import signed_rank, signed_rank_shift
from ragperf.engine.interleave import block_plan

BLOCKS, BLOCK = 20, 10  # the compare's default: -n 200 --block 10


def _interleaved(rng: np.random.Generator, shift: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two sides' blocks of a 10 ms stage on a drifting machine: each pair shares the machine's slowdown then."""
    # Drift: a random walk in log space plus a burst of contention (up to +60%) somewhere in the run.
    walk = np.cumsum(rng.normal(0.0, 0.05, BLOCKS))
    burst = np.zeros(BLOCKS)
    start = rng.integers(0, BLOCKS - 4)
    burst[start : start + 4] = rng.uniform(0.2, 0.6)
    factor = np.exp(walk + burst)
    old = [10.0 * factor[b] * rng.lognormal(0.0, 0.08, BLOCK) for b in range(BLOCKS)]
    new = [10.0 * (1 + shift) * factor[b] * rng.lognormal(0.0, 0.08, BLOCK) for b in range(BLOCKS)]
    return old, new


def _verdict(old: list[np.ndarray], new: list[np.ndarray], **settings: float) -> str:
    [result] = compare_paired_stages(
        {"stage": old}, {"stage": new}, family=1, block_size=BLOCK, threshold=0.05, alpha=0.05, min_ms=0.25, **settings
    )
    return result.verdict


def test_aa_with_drift_rarely_regresses():
    # GIVEN 200 A/A compares of one stage on a machine whose speed drifts and bursts during each run
    verdicts = [_verdict(*_interleaved(np.random.default_rng(seed), 0.0)) for seed in range(200)]
    # WHEN each is judged paired by block at alpha 0.05
    false = verdicts.count("regression")
    # THEN at most 5% are called regressions (two-sided: about 2.5% is expected)
    assert false <= 10, false


def test_a_ten_percent_slowdown_under_drift_is_found():
    # GIVEN 50 compares where the new side is 10% slower, on the same drifting machine
    verdicts = [_verdict(*_interleaved(np.random.default_rng(1000 + seed), 0.10)) for seed in range(50)]
    # THEN nearly all are regressions
    assert verdicts.count("regression") >= 45, verdicts


def test_the_drift_fools_an_unpaired_view_of_the_same_data():
    # GIVEN the pooled queries of the same A/A runs, the drift is far larger than the noise within a pair
    old, new = _interleaved(np.random.default_rng(7), 0.0)
    [result] = compare_paired_stages(
        {"stage": old}, {"stage": new}, family=1, block_size=BLOCK, threshold=0.05, alpha=0.05, min_ms=0.25
    )
    # THEN the paired interval is narrow around 0 and the evidence says how it was made
    assert result.kind == "paired"
    assert result.pairs == BLOCKS
    assert -0.05 < result.shift_ci[0] < 0 < result.shift_ci[1] < 0.05
    assert result.n_old == result.n_new == BLOCKS * BLOCK


def test_too_few_pairs_is_inconclusive_with_the_pairs_needed():
    # GIVEN only 8 block pairs and a family of 20 checks (the interval at 0.05/20 needs more pairs than that)
    rng = np.random.default_rng(3)
    old = [10 * rng.lognormal(0, 0.05, BLOCK) for _ in range(8)]
    new = [10 * rng.lognormal(0, 0.05, BLOCK) for _ in range(8)]
    [result] = compare_paired_stages(
        {"stage": old}, {"stage": new}, family=20, block_size=BLOCK, threshold=0.05, alpha=0.05, min_ms=0.25
    )
    # THEN it is inconclusive, saying how many pairs (and queries per side) would settle it
    assert result.verdict == "inconclusive"
    assert result.blocks_needed is not None
    assert result.blocks_needed > 8
    assert result.queries_needed == result.blocks_needed * BLOCK
    # AND with under 5 pairs nothing is tested at all
    [few] = compare_paired_stages(
        {"stage": old[:4]}, {"stage": new[:4]}, family=1, block_size=BLOCK, threshold=0.05, alpha=0.05, min_ms=0.25
    )
    assert few.verdict == "too_few"
    assert few.pairs == 4


def test_signed_rank_exact_and_its_interval():
    # GIVEN 8 positive differences: the exact two-sided p is 2 / 2^8
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    assert signed_rank(d) == pytest.approx(2 / 256)
    # AND the Hodges-Lehmann estimate of a symmetric sample is its centre, inside its interval
    estimate = signed_rank_shift(d, 0.05, 1.96)
    assert estimate.est == pytest.approx(0.45)
    assert estimate.lo < 0.45 < estimate.hi
    # AND zeros say nothing
    assert signed_rank(np.zeros(10)) == 1.0


def test_block_order_is_counterbalanced():
    # GIVEN 8 pairs of 10 queries
    plan = block_plan(80, 10, 3)
    # THEN the sides alternate ABBA BAAB BAAB ABBA (Thue-Morse), each pair the same queries on both sides
    order = "".join("A" if step.side == "baseline" else "B" for step in plan.steps)
    assert order == "AB BA BA AB BA AB AB BA".replace(" ", "")
    for pair in range(8):
        first, second = plan.steps[2 * pair], plan.steps[2 * pair + 1]
        assert first.block == second.block
        assert first.first_in_pair
        assert not second.first_in_pair
    # AND a last, shorter block
    assert [step.block.n for step in block_plan(25, 10, 3).steps] == [10, 10, 10, 10, 5, 5]


def test_cpu_time_tells_a_cpu_bound_change_through_preemptions():
    # GIVEN 100 query pairs of a 4 ms CPU-bound stage, 10% more work on the new side, and a machine that
    # preempts a third of the queries by 0-8 ms (wall time), which CPU time does not count
    rng = np.random.default_rng(4)
    n = 100
    cpu_old = [4.0 * rng.lognormal(0, 0.03, 1) for _ in range(n)]
    cpu_new = [4.4 * rng.lognormal(0, 0.03, 1) for _ in range(n)]

    def preempted(cpu: list[np.ndarray]) -> list[np.ndarray]:
        return [c + (rng.random() < 0.33) * rng.uniform(0, 8.0) for c in cpu]

    wall_old, wall_new = preempted(cpu_old), preempted(cpu_new)
    settings = {"family": 3, "block_size": 1, "threshold": 0.05, "alpha": 0.05, "min_ms": 0.25}
    # WHEN judged on wall time, and on CPU time
    [wall] = compare_paired_stages({"s": wall_old}, {"s": wall_new}, **settings)
    [cpu] = compare_paired_stages({"s": wall_old}, {"s": wall_new}, cpu={"s": (cpu_old, cpu_new)}, **settings)
    # THEN CPU time sees the +10% with a narrow interval, and says that is what it read
    assert cpu.measure == "cpu"
    assert cpu.verdict == "regression"
    assert 0.07 < cpu.shift_ci[0] < 0.10 < cpu.shift_ci[1] < 0.13
    # AND the wall-time interval is wider (the preemptions), and the shown figures stay wall time
    assert wall.measure == "wall"
    assert wall.shift_ci[1] - wall.shift_ci[0] > 2 * (cpu.shift_ci[1] - cpu.shift_ci[0])
    assert cpu.metric("p50").old == wall.metric("p50").old
