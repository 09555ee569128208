"""Throughput and capacity of two load files: achieved rate, goodput, errors, and the find-max results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.compare import decide
from ragperf.analysis.histogram_stats import proportion_difference, proportion_ratio
from ragperf.schema.diff import Figure

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.analysis.compare import Verdict
    from ragperf.analysis.family import Family
    from ragperf.schema.load import LoadReport, LoadStep

__all__ = ["FIGURES_PER_STEP", "capacity_figures", "step_figures"]

FIGURES_PER_STEP = 3  # achieved qps, goodput, error rate: each one hypothesis of the family


def step_figures(
    old: LoadStep, new: LoadStep, tests: Family, threshold: float, error_budget: float
) -> tuple[Figure, ...]:
    """Achieved rate and goodput (a drop beyond the threshold regresses), and the error rate (over budget)."""
    good_old, good_new = round(old.goodput_qps * old.duration_s), round(new.goodput_qps * new.duration_s)
    return (
        _rate(
            "achieved qps",
            old.achieved_qps,
            new.achieved_qps,
            (old.completed_in_time, old.offered),
            (new.completed_in_time, new.offered),
            tests,
            threshold,
        ),
        _rate(
            "goodput qps",
            old.goodput_qps,
            new.goodput_qps,
            (good_old, old.offered),
            (good_new, new.offered),
            tests,
            threshold,
        ),
        _errors(old, new, tests, error_budget),
    )


def _rate(
    name: str,
    old: float,
    new: float,
    k_n_old: tuple[int, int],
    k_n_new: tuple[int, int],
    tests: Family,
    threshold: float,
) -> Figure:
    """A rate compared as the share of arrivals it counts: offered counts differ when durations do."""
    found = proportion_ratio(*k_n_old, *k_n_new, tests.z_crit)
    if found is None:
        same = k_n_old[0] == k_n_new[0] == 0
        return Figure(
            name=name,
            unit="qps",
            old=old,
            new=new,
            rel_change=None,
            verdict="unchanged" if same else ("improvement" if k_n_old[0] == 0 else "regression"),
            note="none on either side" if same else "none on one side",
        )
    rel, (lo, hi), p_value = found
    p_adjusted = tests.adjust(p_value)
    # A drop is the regression here: judge the change with its sign turned, as a slowdown would be.
    verdict = decide(-rel, (-hi, -lo), significant=p_adjusted < tests.alpha, threshold=threshold)
    return Figure(
        name=name,
        unit="qps",
        old=old,
        new=new,
        rel_change=rel,
        ci=(lo, hi),
        p_value=p_value,
        p_adjusted=p_adjusted,
        verdict=verdict,
    )


def _errors(old: LoadStep, new: LoadStep, tests: Family, budget: float) -> Figure:
    """More errors regress only when significant and over the error budget: a rise from 0.1% to 0.2% is noise."""
    diff, ci, p_value = proportion_difference(old.errors, old.completed, new.errors, new.completed, tests.z_crit)
    p_adjusted = tests.adjust(p_value)
    significant = p_adjusted < tests.alpha
    verdict: Verdict
    if significant and diff > 0 and new.error_rate > budget:
        verdict, note = "regression", f"over the {budget:.1%} error budget"
    elif significant and diff < 0 and old.error_rate > budget:
        verdict, note = "improvement", f"back within the {budget:.1%} error budget"
    elif old.error_rate <= budget and new.error_rate <= budget:
        verdict, note = "unchanged", f"both within the {budget:.1%} error budget"
    else:
        verdict, note = "inconclusive", f"over the {budget:.1%} error budget, change not significant"
    return Figure(
        name="error rate",
        unit="fraction",
        old=old.error_rate,
        new=new.error_rate,
        rel_change=diff,
        ci=ci,
        p_value=p_value,
        p_adjusted=p_adjusted,
        verdict=verdict,
        note=note,
    )


def capacity_figures(old: LoadReport, new: LoadReport, threshold: float) -> tuple[Figure, ...]:
    """The highest rate that held the targets and the peak sustained rate, old vs new.

    Each is known only to the rates a file tried, so a drop beyond the threshold counts as a regression only
    when the new file failed at a rate the baseline held; otherwise it is inconclusive (and likewise a rise).
    """
    return (
        _capacity(
            "max rate holding targets",
            old.max_rate_qps,
            new.max_rate_qps,
            old.steps,
            new.steps,
            "holds_targets",
            threshold,
        ),
        _capacity(
            "peak sustained rate", old.peak_rate_qps, new.peak_rate_qps, old.steps, new.steps, "sustained", threshold
        ),
    )


def _failed_at_or_below(steps: Sequence[LoadStep], rate: float, key: str) -> bool:
    return any(step.offered_qps <= rate * (1 + 1e-9) and not getattr(step, key) for step in steps)


def _capacity(
    name: str,
    old: float | None,
    new: float | None,
    old_steps: Sequence[LoadStep],
    new_steps: Sequence[LoadStep],
    key: str,
    threshold: float,
) -> Figure:
    def figure(verdict: Verdict, rel: float | None, note: str | None = None) -> Figure:
        return Figure(name=name, unit="qps", old=old, new=new, rel_change=rel, verdict=verdict, note=note)

    if old is None and new is None:
        return figure("unchanged", None, "no rate held in either file")
    if old is not None and (new is None or new < old * (1 - threshold)):
        rel = -1.0 if new is None else new / old - 1.0
        if _failed_at_or_below(new_steps, old, key):
            return figure("regression", rel, f"new failed at or below {old:g} qps, which the baseline held")
        return figure("inconclusive", rel, f"new never tried {old:g} qps, which the baseline held")
    if new is not None and (old is None or new > old * (1 + threshold)):
        rise = None if old is None else new / old - 1.0
        if old is None or _failed_at_or_below(old_steps, new, key):
            return figure("improvement", rise, f"new held {new:g} qps, where the baseline failed")
        return figure("inconclusive", rise, f"the baseline never tried {new:g} qps")
    return figure("unchanged", None if old is None or new is None else new / old - 1.0)
