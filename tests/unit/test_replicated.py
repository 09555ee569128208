"""Replicated evidence (`ragperf run --processes K`): Student's t, and the verdicts of Welch's test over processes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ragperf.analysis.compare import compare_stages
from ragperf.analysis.replicated import compare_replicated_stages
from ragperf.analysis.student import t_quantile, t_sf

PROCESSES, PER_PROCESS = 5, 40


@pytest.mark.parametrize("df", [1.0, 2.0, 3.7, 8.0, 30.0, 400.0])
@pytest.mark.parametrize("t", [-3.0, 0.0, 0.4, 1.0, 2.5, 7.0, 40.0])
def test_t_survival_function_matches_scipy(t, df):
    assert t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("p", "df"), [(0.975, 4.0), (0.99917, 2.0), (0.99999, 8.0), (0.6, 1.5), (0.05, 10.0)])
def test_t_quantile_inverts_the_distribution(p, df):
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)


def test_t_functions_refuse_meaningless_arguments():
    with pytest.raises(ValueError, match="df > 0"):
        t_sf(1.0, 0.0)
    with pytest.raises(ValueError, match="0 < p < 1"):
        t_quantile(1.0, 3.0)


def _processes(rng: np.random.Generator, shift: float, offset_sd: float) -> list[np.ndarray]:
    """A 10 ms stage measured in 5 processes, each with its own offset (layout, machine state), 3% query noise."""
    offsets = rng.normal(0.0, offset_sd, PROCESSES)
    return [10.0 * (1 + shift) * np.exp(o) * rng.lognormal(0.0, 0.03, PER_PROCESS) for o in offsets]


def _verdict(old: list[np.ndarray], new: list[np.ndarray]) -> str:
    [result] = compare_replicated_stages(
        {"stage": old}, {"stage": new}, family=1, threshold=0.05, alpha=0.05, min_ms=0.25
    )
    return result.verdict


def test_process_offsets_make_queries_overconfident_but_not_processes():
    # GIVEN A/A runs whose processes differ by 8% (sd) from one another: the queries of one process agree
    rng = np.random.default_rng(3)
    pairs = [(_processes(rng, 0.0, 0.08), _processes(rng, 0.0, 0.08)) for _ in range(100)]
    # WHEN judged query by query, and process by process
    by_query = [
        compare_stages({"s": np.concatenate(o)}, {"s": np.concatenate(n)}, threshold=0.05, min_ms=0.25)[0].verdict
        for o, n in pairs
    ]
    by_process = [_verdict(o, n) for o, n in pairs]
    # THEN the queries call many false regressions, the processes (almost) none
    assert by_query.count("regression") >= 10, by_query.count("regression")
    assert by_process.count("regression") <= 3, by_process.count("regression")


def test_a_clear_slowdown_is_found_across_processes():
    # GIVEN runs whose processes agree within 1%, the new one 20% slower
    rng = np.random.default_rng(5)
    verdicts = [_verdict(_processes(rng, 0.0, 0.01), _processes(rng, 0.20, 0.01)) for _ in range(50)]
    # THEN it is a regression nearly every time
    assert verdicts.count("regression") >= 48, verdicts


def test_the_evidence_says_how_it_was_made_and_what_would_settle_it():
    rng = np.random.default_rng(11)
    old, new = _processes(rng, 0.0, 0.08), _processes(rng, 0.06, 0.08)
    [result] = compare_replicated_stages({"s": old}, {"s": new}, family=3, threshold=0.05, alpha=0.05, min_ms=0.25)
    assert result.kind == "replicated"
    assert result.processes == (PROCESSES, PROCESSES)
    assert result.n_old == PROCESSES * PER_PROCESS
    assert result.verdict == "inconclusive"
    assert result.processes_needed is not None
    assert result.processes_needed > PROCESSES


def test_one_process_a_side_is_too_few():
    rng = np.random.default_rng(2)
    [result] = compare_replicated_stages(
        {"s": _processes(rng, 0.0, 0.0)[:1]}, {"s": _processes(rng, 0.0, 0.0)}, family=1, threshold=0.05,
        alpha=0.05, min_ms=0.25,
    )  # fmt: skip
    assert result.verdict == "too_few"
    assert result.processes == (1, PROCESSES)
