"""Turn two load files into a `DiffReport`: each offered rate both ran, capacity, rate targets, warnings.

Steps are matched by offered rate. At each matched rate, the pipeline latency (from the intended start,
queueing included) and every stage's service time are compared from the step's merged histograms, with the
rank test and verdict rule `ragperf diff` applies to run files (see `diff_load_stats` for how histograms
stand in for per-query samples). One Bonferroni family covers every latency check and throughput figure
of every matched step, so testing more rates does not raise the chance of a false alarm.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, cast

from ragperf.analysis.compare import METRICS, MIN_SAMPLES, compare_stages, decide
from ragperf.analysis.diff import stage_diff
from ragperf.analysis.diff_context import comparability_warnings
from ragperf.analysis.diff_load_figures import (
    FIGURES_PER_STEP,
    Family,
    capacity_figures,
    rate_target_changes,
    stage_target_changes,
    step_figures,
)
from ragperf.analysis.diff_load_stats import histogram, log_se, metric_value, needed, samples_ms
from ragperf.analysis.diff_load_warnings import load_warnings
from ragperf.analysis.summary import TOTAL
from ragperf.analysis.thresholds import split_thresholds
from ragperf.errors import RunFileError
from ragperf.schema.diff import DiffReport, LoadDiff, MetricDelta, RunRef, StageDiff, StepDiff

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    import numpy as np
    import numpy.typing as npt

    from ragperf.analysis.compare import Verdict
    from ragperf.load.histogram import Histogram
    from ragperf.schema.load import LoadReport, LoadStep
    from ragperf.schema.run import RunFile

    FloatArray = npt.NDArray[np.float64]

__all__ = ["diff_loads"]

_LATENCY = "latency"  # the histogram of the whole pipeline, from each query's intended start
_SEVERITY: tuple[Verdict, ...] = ("regression", "inconclusive", "improvement", "unchanged")
_RATE_DIGITS = 3  # find-max rounds the rates it tries to this many decimals
# Relative resolution of a difference of two histogram values: half a 1/128-wide bucket on each side.
_RESOLUTION = 1.0 / 128.0


def diff_loads(
    baseline: RunFile,
    new: RunFile,
    *,
    baseline_path: Path,
    new_path: Path,
    threshold: float,
    alpha: float,
    metric_thresholds: Mapping[str, float] | None,
    force: bool,
) -> DiffReport:
    """Compare two load files; refuse files of different pipelines unless `force`."""
    old_load, new_load = _section(baseline, baseline_path), _section(new, new_path)
    if baseline.pipeline != new.pipeline and not force:
        raise RunFileError(
            f"{new_path}: pipeline {new.pipeline!r} is not the baseline's {baseline.pipeline!r}; "
            "compare two load tests of one pipeline, or pass --force"
        )
    shift_threshold, gated = split_thresholds(threshold, metric_thresholds)
    pairs = _match(old_load.steps, new_load.steps)
    # A fixed-rate file tried one rate: whether it held is in its step's figures, not a capacity measured.
    fixed = "fixed" in (old_load.mode, new_load.mode)
    if not pairs and fixed:  # no step to compare and no capacity either: a verdict would be empty
        raise RunFileError(
            f"the runs cannot be compared: no offered rate in common ({baseline_path} ran {_rates(old_load)}; "
            f"{new_path} ran {_rates(new_load)}); run both at the same --qps or --ramp"
        )
    parents = {info.path: info.parent for run in (new, baseline) for info in run.stages}
    paths = {index: _paths(old, now) for index, (old, now) in enumerate(pairs)}
    hists = {
        (index, path): (histogram(old.histograms[key]), histogram(now.histograms[key]))
        for index, (old, now) in enumerate(pairs)
        for path, key in paths[index]
    }
    samples = {name: (samples_ms(a), samples_ms(b)) for name, (a, b) in hists.items()}
    tested = sum(1 for a, b in samples.values() if min(a.size, b.size) >= MIN_SAMPLES)
    family = max(1, tested * (1 + len(gated)) + FIGURES_PER_STEP * len(pairs))
    z_crit = NormalDist().inv_cdf(1.0 - alpha / family / 2.0)
    tests = Family(alpha=alpha, family=family, z_crit=z_crit, threshold=shift_threshold)
    # compare_stages corrects over the paths it sees; scale alpha so its level is alpha / the whole family.
    keyed = {f"{index}\x1f{path}": (index, path) for index, path in samples}
    results = compare_stages(
        {key: cast("Sequence[float]", samples[name][0]) for key, name in keyed.items()},
        {key: cast("Sequence[float]", samples[name][1]) for key, name in keyed.items()},
        threshold=shift_threshold,
        alpha=alpha * max(tested, 1) / family,
    )
    judged = {keyed[r.name]: r for r in results}

    def path_diff(index: int, path: str) -> StageDiff:
        result = judged[(index, path)]
        base = stage_diff(result, parents.get(path)).model_copy(update={"path": path})
        return _with_histograms(base, *hists[(index, path)], *samples[(index, path)], gated, tests)

    steps = tuple(
        _step(old, now, [path_diff(index, path) for path, _ in paths[index]], tests, new_load.error_budget)
        for index, (old, now) in enumerate(pairs)
    )
    capacity = () if fixed else capacity_figures(old_load, new_load, shift_threshold)
    targets = rate_target_changes(old_load, new_load)
    regressions = [*_named(steps, "regression"), *(f.name for f in capacity if f.verdict == "regression")]
    regressions += [f"{t.name} target" for t in targets if t.old_verdict == "PASS" and t.new_verdict == "FAIL"]
    matched = {round(old.offered_qps, _RATE_DIGITS) for old, _ in pairs}
    return DiffReport(
        baseline=_ref(baseline, old_load, baseline_path),
        new=_ref(new, new_load, new_path),
        alpha=alpha,
        threshold=shift_threshold,
        metric_thresholds=gated,
        paths_compared=tested,
        stages=(),
        total=None,
        only_in_baseline=_only_in(pairs, 0),
        only_in_new=_only_in(pairs, 1),
        hotspots=(),
        memory=(),
        targets=(*targets, *(c for old, now in pairs for c in stage_target_changes(old, now))),
        warnings=(
            *(w for w in comparability_warnings(baseline, new) if w.kind != "failures"),
            *load_warnings(baseline, new, pairs, steps, alpha),
        ),
        regressions=tuple(regressions),
        improvements=(*_named(steps, "improvement"), *(f.name for f in capacity if f.verdict == "improvement")),
        inconclusive=(
            *_named(steps, "inconclusive"),
            *_named(steps, "too_few"),
            *(f.name for f in capacity if f.verdict == "inconclusive"),
        ),
        load=LoadDiff(
            steps=steps,
            only_in_baseline_qps=tuple(s.offered_qps for s in old_load.steps if _rate(s) not in matched),
            only_in_new_qps=tuple(s.offered_qps for s in new_load.steps if _rate(s) not in matched),
            capacity=capacity,
            hypotheses=family,
        ),
    )


def _section(run: RunFile, path: Path) -> LoadReport:
    if run.load is None or not run.load.steps:
        raise RunFileError(f"{path}: a load file without any rate step; re-run 'ragperf load' to completion")
    return run.load


def _rate(step: LoadStep) -> float:
    return round(step.offered_qps, _RATE_DIGITS)


def _rates(load: LoadReport) -> str:
    return ", ".join(f"{rate:g}" for rate in sorted({_rate(step) for step in load.steps})) + " qps"


def _match(old: tuple[LoadStep, ...], new: tuple[LoadStep, ...]) -> list[tuple[LoadStep, LoadStep]]:
    """Steps at the same offered rate, in rising rate; a rate run twice in one file counts once (its first)."""
    first_new: dict[float, LoadStep] = {}
    for step in new:
        first_new.setdefault(_rate(step), step)
    first_old: dict[float, LoadStep] = {}
    for step in old:
        first_old.setdefault(_rate(step), step)
    return [(first_old[rate], first_new[rate]) for rate in sorted(first_old) if rate in first_new]


def _paths(old: LoadStep, new: LoadStep) -> list[tuple[str, str]]:
    """(span path, histogram key) for every stage both steps measured, in the new step's order, then the total."""
    found = [(s.path, f"stage:{s.path}") for s in new.stages]
    both = [(path, key) for path, key in found if key in old.histograms and key in new.histograms]
    return [*both, (TOTAL, _LATENCY)] if _LATENCY in old.histograms and _LATENCY in new.histograms else both


def _with_histograms(
    base: StageDiff,
    old: Histogram,
    new: Histogram,
    a: FloatArray,
    b: FloatArray,
    gated: Mapping[str, float],
    tests: Family,
) -> StageDiff:
    """The stage diff with the load file's own percentiles, the gated metrics' checks, one family's p-value."""
    metrics, verdicts = [], [base.verdict]
    for name in METRICS:
        was, now = metric_value(old, name), metric_value(new, name)
        rel = None if was is None or now is None or was <= 0 else now / was - 1.0
        if name not in gated or rel is None:
            metrics.append(MetricDelta(metric=name, old=was, new=now, rel_change=rel))
            continue
        metric, verdict = _gated(name, old, new, a, b, rel, gated[name], tests)
        metrics.append(metric)
        verdicts.append("inconclusive" if verdict == "too_few" else verdict)
    shift_ci, min_detectable = _resolution(base)
    if verdicts[0] == "unchanged" and shift_ci is not None and not _inside(shift_ci, base.threshold):
        verdicts[0] = "inconclusive"
    verdict = base.verdict if base.verdict == "too_few" else next(v for v in _SEVERITY if v in verdicts)
    p_adjusted = None if base.p_value is None else tests.adjust(base.p_value)
    update = {"metrics": tuple(metrics), "p_adjusted": p_adjusted, "verdict": verdict}
    return base.model_copy(update={**update, "shift_ci": shift_ci, "min_detectable": min_detectable})


def _resolution(base: StageDiff) -> tuple[tuple[float | None, float | None] | None, float | None]:
    """The shift's interval and smallest detectable change, no finer than the histograms can resolve.

    Queries sharing a bucket tie exactly, so steady stages (an I/O wait) give an interval of width 0;
    each value is only known to within half a bucket, so the interval is widened by that much either side.
    """
    if base.shift_ci is None:
        return None, base.min_detectable
    lo, hi = base.shift_ci
    wide = (
        None if lo is None else (1.0 + lo) * (1.0 - _RESOLUTION) - 1.0,
        None if hi is None else (1.0 + hi) * (1.0 + _RESOLUTION) - 1.0,
    )
    detect = None if base.min_detectable is None else max(base.min_detectable, _RESOLUTION)
    return wide, detect


def _inside(ci: tuple[float | None, float | None], threshold: float) -> bool:
    lo, hi = ci
    return lo is not None and hi is not None and -threshold < lo and hi < threshold


def _gated(
    name: str, old: Histogram, new: Histogram, a: FloatArray, b: FloatArray, rel: float, threshold: float, tests: Family
) -> tuple[MetricDelta, Verdict]:
    was, now = metric_value(old, name), metric_value(new, name)
    if min(a.size, b.size) < needed(name):
        delta = MetricDelta(metric=name, old=was, new=now, rel_change=rel, threshold=threshold, verdict="too_few")
        return delta, "too_few"
    se = math.hypot(log_se(old, a, name), log_se(new, b, name))
    est = math.log1p(rel)
    ci = (math.expm1(est - tests.z_crit * se), math.expm1(est + tests.z_crit * se))
    verdict = decide(rel, ci, significant=ci[0] > 0 or ci[1] < 0, threshold=threshold)
    delta = MetricDelta(metric=name, old=was, new=now, rel_change=rel, threshold=threshold, ci=ci, verdict=verdict)
    return delta, verdict


def _step(old: LoadStep, new: LoadStep, paths: list[StageDiff], tests: Family, budget: float) -> StepDiff:
    figures = step_figures(old, new, tests, budget)
    total = next((p for p in paths if p.path == TOTAL), None)
    stages = tuple(p for p in paths if p.path != TOTAL)
    every = {*(f.verdict for f in figures), *(p.verdict for p in paths)}
    order: tuple[Verdict, ...] = ("regression", "inconclusive", "too_few", "improvement")
    return StepDiff(
        offered_qps=new.offered_qps,
        old_step=old.step,
        new_step=new.step,
        old_duration_s=old.duration_s,
        new_duration_s=new.duration_s,
        old_sustained=old.sustained,
        new_sustained=new.sustained,
        old_holds_targets=old.holds_targets,
        new_holds_targets=new.holds_targets,
        figures=figures,
        stages=stages,
        total=total,
        verdict=next((v for v in order if v in every), "unchanged"),
    )


def _only_in(pairs: list[tuple[LoadStep, LoadStep]], side: int) -> tuple[str, ...]:
    """Stage paths one side measured at a matched rate and the other did not (a stage added or removed)."""
    found: dict[str, None] = {}
    for pair in pairs:
        mine, other = pair[side], pair[1 - side]
        found.update({s.path: None for s in mine.stages if f"stage:{s.path}" not in other.histograms})
    return tuple(found)


def _named(steps: tuple[StepDiff, ...], verdict: str) -> list[str]:
    """`<stage> @ <rate> qps` for every latency path and figure with this verdict."""
    names = []
    for step in steps:
        rate = f"{step.offered_qps:g} qps"
        names += [f"{s.path} @ {rate}" for s in step.stages if s.verdict == verdict]
        if step.total is not None and step.total.verdict == verdict:
            names.append(f"pipeline total @ {rate}")
        names += [f"{f.name} @ {rate}" for f in step.figures if f.verdict == verdict]
    return names


def _ref(run: RunFile, load: LoadReport, path: Path) -> RunRef:
    return RunRef(
        path=str(path),
        pipeline=run.pipeline,
        backend=run.backend.name,
        n_queries=sum(step.completed for step in load.steps),
        n_failed=sum(step.errors for step in load.steps),
        started_at=run.environment.started_at,
        git_commit=run.environment.git_commit,
    )
