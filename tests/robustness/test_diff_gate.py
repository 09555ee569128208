"""`ragperf diff` as a CI gate: a new run that fails where the baseline did not is a regression."""

from __future__ import annotations

import pytest
from robust_helpers import finish, ragperf
from scipy.stats import fisher_exact

from ragperf.analysis.failures import more_failures_p


@pytest.mark.parametrize(
    "counts", [(0, 100, 20, 20), (0, 100, 1, 100), (5, 100, 15, 100), (0, 20, 3, 20), (2, 50, 2, 50), (0, 5, 0, 5)]
)
def test_the_failure_test_is_fishers_exact_one_sided(counts):
    failed_old, n_old, failed_new, n_new = counts
    table = [[failed_new, n_new - failed_new], [failed_old, n_old - failed_old]]
    expected = fisher_exact(table, alternative="greater")[1]
    assert more_failures_p(*counts) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.slow
def test_a_new_run_whose_queries_all_fail_is_a_regression(knobs, tmp_path):
    # GIVEN a healthy baseline, then the same pipeline with every query failing
    baseline, new = tmp_path / "baseline.json", tmp_path / "new.json"
    assert finish(ragperf("run", str(knobs(ms=1).config), "-n", "20", "-o", str(baseline), "--no-progress"))[0] == 0
    assert finish(ragperf("run", str(knobs(fail=True).config), "-n", "20", "-o", str(new), "--no-progress"))[0] == 3
    # WHEN diffed
    returncode, out, err = finish(ragperf("diff", str(baseline), str(new)))
    # THEN the gate fails, naming the failures
    assert returncode == 1, out + err
    assert "REGRESSION in failed queries (0 of 20 -> 20 of 20)" in out
