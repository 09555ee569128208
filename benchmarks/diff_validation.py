"""Validate the `ragperf diff` verdicts by simulation, against the rules of pyperf, pytest-benchmark and asv.

Run: ``python benchmarks/diff_validation.py [--pairs 300] [--seed 1] [--strict]`` (needs numpy and scipy).

A "pair" is two runs (old, new) of a five-stage pipeline, ``n`` queries each. Stage latencies are
log-normal (sigma on the log scale) with 3% of queries slowed x2 to x5 (GC pauses, cold caches).

* A/A pairs: both runs from the same distribution. Two false-alarm rates are printed: per pair (ANY of the
  five stages flagged: what a CI gate sees) and per stage comparison (each stage's own chance).
* Shift pairs: one stage (cycling through the five) is 10% slower in the new run. Detection is that stage
  flagged; we also count pairs where some *other* stage was flagged.

The other tools' rules, applied per stage to the same samples:

* pyperf ``compare_to``: Student's two-sample t-test (pooled variance, equal sizes), two-tailed at 95%
  (``pyperf._utils.is_significant``), no correction across benchmarks, no minimum speed by default;
  "slower and significant" counts as a flag.
* pytest-benchmark ``--benchmark-compare-fail=mean:5%``: new mean more than 5% above old mean.
* asv ``compare``: Mann-Whitney U p < 0.002 (``asv.statistics.is_different``) and the median (asv's
  result value) worse by the default factor 1.1.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ragperf.analysis.compare import DEFAULT_MIN_MS, compare_stages

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    Run = dict[str, npt.NDArray[np.float64]]
    Rule = Callable[[Run, Run], set[str]]

# Typical medians (ms) of RAG stages; only ratios matter to every rule here, but keep it realistic.
STAGES = {"embed": 18.0, "retrieve": 45.0, "rerank": 120.0, "generate": 850.0, "postprocess": 4.0}
OUTLIER_SHARE = 0.03
OUTLIER_SLOWDOWN = (2.0, 5.0)
SHIFT = 1.10
VERDICTS = ("unchanged", "inconclusive", "regression", "improvement")
# The other tools' decision constants (see the module docstring for where each comes from).
PYPERF_ALPHA = 0.05
PYTEST_BENCHMARK_LIMIT = 1.05
ASV_P_THRESHOLD = 0.002
ASV_FACTOR = 1.1
GOAL_FALSE_ALARMS = 0.025  # per pair: alpha / 2, the two-sided test's share of a one-sided gate
GOAL_FALSE_ALARMS_PER_STAGE = GOAL_FALSE_ALARMS / len(STAGES)  # Bonferroni's share of it
GOAL_DETECTION = 0.90


def draw_run(rng: np.random.Generator, sigma: float, n: int, shifted: str | None = None) -> Run:
    """One run: n queries per stage; `shifted` (if any) is SHIFT times slower."""
    run: Run = {}
    for stage, median in STAGES.items():
        x = rng.lognormal(math.log(median), sigma, n)
        slow = rng.random(n) < OUTLIER_SHARE
        x[slow] *= rng.uniform(*OUTLIER_SLOWDOWN, int(slow.sum()))
        run[stage] = x * (SHIFT if stage == shifted else 1.0)
    return run


def ragperf_rule(alpha: float, min_ms: float = DEFAULT_MIN_MS) -> Rule:
    """`ragperf diff` with the default 5% threshold and the floor: stages whose verdict is regression."""

    def flag(old: Run, new: Run) -> set[str]:
        return {c.name for c in compare_stages(old, new, alpha=alpha, min_ms=min_ms) if c.verdict == "regression"}

    return flag


def pyperf_rule(old: Run, new: Run) -> set[str]:
    """pyperf compare_to: significant by Student's t-test (two-tailed 95%) and slower."""
    flagged = set()
    for stage in old:
        a, b = old[stage], new[stage]
        if b.mean() > a.mean() and stats.ttest_ind(b, a, equal_var=True).pvalue < PYPERF_ALPHA:
            flagged.add(stage)
    return flagged


def pytest_benchmark_rule(old: Run, new: Run) -> set[str]:
    """pytest-benchmark --benchmark-compare-fail=mean:5%."""
    return {stage for stage in old if new[stage].mean() > old[stage].mean() * PYTEST_BENCHMARK_LIMIT}


def asv_rule(old: Run, new: Run) -> set[str]:
    """asv compare: Mann-Whitney p < 0.002 and median worse by the factor 1.1."""
    flagged = set()
    for stage in old:
        a, b = old[stage], new[stage]
        if np.median(b) > ASV_FACTOR * np.median(a):
            p = stats.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic").pvalue
            if p < ASV_P_THRESHOLD:
                flagged.add(stage)
    return flagged


@dataclass
class Tally:
    """Counts for one rule over the A/A and shift pairs."""

    false_alarms: int = 0
    false_stage_flags: int = 0  # A/A stage comparisons flagged: the per-test rate, not the per-pair one
    detected: int = 0
    collateral: int = 0
    aa_pairs: int = 0
    shift_pairs: int = 0
    stage_flags: Counter[str] = field(default_factory=Counter)


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson interval of a proportion, so 300-pair rates come with their uncertainty."""
    if n == 0:
        return (math.nan, math.nan)
    z = 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def rate(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"{100 * k / n:.1f}% ({k}/{n}; 95% CI {100 * low:.1f}-{100 * high:.1f})"


def run_gate_validation(rules: dict[str, Rule], pairs: int, seed: int, sigma: float, n: int) -> dict[str, Tally]:
    """Draw A/A and shift pairs once and score every rule on the same samples."""
    tallies = {name: Tally() for name in rules}
    rng = np.random.default_rng(seed)
    stage_names = list(STAGES)
    for i in range(pairs):
        old, new = draw_run(rng, sigma, n), draw_run(rng, sigma, n)
        for name, rule in rules.items():
            tally = tallies[name]
            flagged = rule(old, new)
            tally.aa_pairs += 1
            tally.false_alarms += bool(flagged)
            tally.false_stage_flags += len(flagged)
        target = stage_names[i % len(stage_names)]
        old, new = draw_run(rng, sigma, n), draw_run(rng, sigma, n, shifted=target)
        for name, rule in rules.items():
            tally = tallies[name]
            flagged = rule(old, new)
            tally.shift_pairs += 1
            tally.detected += target in flagged
            tally.collateral += bool(flagged - {target})
    return tallies


def run_power_check(pairs: int, seed: int, sigma: float, n: int) -> tuple[Counter[str], list[int]]:
    """A/A verdict shares at a given noise level, and the queries_needed the inconclusive ones report."""
    verdicts: Counter[str] = Counter()
    needed: list[int] = []
    rng = np.random.default_rng(seed)
    for _ in range(pairs):
        for result in compare_stages(draw_run(rng, sigma, n), draw_run(rng, sigma, n)):
            verdicts[result.verdict] += 1
            if result.verdict == "inconclusive" and result.queries_needed is not None:
                needed.append(result.queries_needed)
    return verdicts, needed


def main(argv: list[str] | None = None) -> int:
    """Run the simulation and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=300, help="A/A pairs and shift pairs to draw (each)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=100, help="queries per run")
    parser.add_argument("--strict", action="store_true", help="exit 1 if ragperf misses a goal")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    rules: dict[str, Rule] = {
        f"ragperf diff (defaults: alpha=0.05, Bonferroni x5, 5%, {DEFAULT_MIN_MS:g} ms)": ragperf_rule(0.05),
        "ragperf diff, no floor (--min-ms 0)": ragperf_rule(0.05, 0.0),
        "ragperf diff, --min-ms 1": ragperf_rule(0.05, 1.0),
        "ragperf diff, alpha=0.02": ragperf_rule(0.02),
        "pyperf compare_to (t-test p<0.05)": pyperf_rule,
        "pytest-benchmark (mean > +5%)": pytest_benchmark_rule,
        "asv compare (MWU p<0.002, x1.1)": asv_rule,
    }
    sigma, n = 0.15, args.queries
    tallies = run_gate_validation(rules, args.pairs, args.seed, sigma, n)
    print(
        f"## Regression gate: {args.pairs} A/A + {args.pairs} shift pairs, 5 stages, n={n} queries/run, "
        f"log-normal sigma={sigma} + {OUTLIER_SHARE:.0%} queries x{OUTLIER_SLOWDOWN[0]:g}-{OUTLIER_SLOWDOWN[1]:g}, "
        f"shift +{SHIFT - 1:.0%} in one stage\n"
    )
    print(
        "| rule | false alarms per pair (A/A, any stage) | false alarms per stage comparison "
        "| detection (shifted stage) | shift pairs with another stage flagged |"
    )
    print("|---|---|---|---|---|")
    for name, t in tallies.items():
        per_stage = rate(t.false_stage_flags, t.aa_pairs * len(STAGES))
        print(
            f"| {name} | {rate(t.false_alarms, t.aa_pairs)} | {per_stage} | {rate(t.detected, t.shift_pairs)} "
            f"| {rate(t.collateral, t.shift_pairs)} |"
        )

    print(f"\n## Power honesty: A/A verdicts per stage ({args.pairs} pairs x 5 stages)\n")
    print(
        "| sigma | queries/run | unchanged | inconclusive | regression | improvement | queries_needed: median (IQR) |"
    )
    print("|---|---|---|---|---|---|---|")
    shares: dict[tuple[float, int], Counter[str]] = {}
    # Last row: rerun sigma=0.2 at the query count the n=100 row asked for, to check that promise.
    settings: list[tuple[float, int | None]] = [(0.15, n), (0.20, n), (0.20, None)]
    promised = n
    for index, (noise, size) in enumerate(settings):
        queries = promised if size is None else size
        verdicts, needed = run_power_check(args.pairs, args.seed + 1000 + index, noise, queries)
        shares[noise, queries] = verdicts
        if needed and size is not None:  # the n=100 rows; the sigma=0.2 one comes last and wins
            promised = int(np.median(needed))
        total = sum(verdicts.values())
        q = np.percentile(needed, [25, 50, 75]) if needed else [math.nan] * 3
        share = {v: f"{100 * verdicts[v] / total:.1f}%" for v in VERDICTS}
        label = f"{queries}" if size is not None else f"{queries} (the median queries_needed above)"
        print(
            f"| {noise} | {label} | {share['unchanged']} | {share['inconclusive']} | {share['regression']} "
            f"| {share['improvement']} | {q[1]:.0f} ({q[0]:.0f}-{q[2]:.0f}) |"
        )

    ours = tallies[next(iter(rules))]
    goals = {
        f"false alarms per pair <= {GOAL_FALSE_ALARMS:.1%}": ours.false_alarms / ours.aa_pairs <= GOAL_FALSE_ALARMS,
        f"false alarms per stage <= {GOAL_FALSE_ALARMS_PER_STAGE:.1%}": ours.false_stage_flags
        / (ours.aa_pairs * len(STAGES))
        <= GOAL_FALSE_ALARMS_PER_STAGE,
        f"detection >= {GOAL_DETECTION:.0%}": ours.detected / ours.shift_pairs >= GOAL_DETECTION,
        "sigma=0.2 A/A mostly inconclusive": shares[0.20, n]["inconclusive"] > shares[0.20, n]["unchanged"],
    }
    print("\n## Goals (default ragperf rule)\n")
    for goal, met in goals.items():
        print(f"- {goal}: {'met' if met else 'NOT met'}")
    print(f"\n_{time.perf_counter() - started:.1f} s_")
    return 1 if args.strict and not all(goals.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
