"""Two load files compared: one group per offered rate both ran, the capacity each found, rate targets.

Steps are matched by offered rate. At each matched rate, the pipeline latency (from the intended start,
queueing included) and every stage's service time are compared from the step's merged histograms, with the
rank test and verdict rule `ragperf diff` applies to run files (see `histogram_stats` for how histograms
stand in for per-query samples). One Bonferroni family covers every latency check and throughput figure
of every matched step (`family.family_size`), so testing more rates does not raise the chance of a false
alarm.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from ragperf.analysis.compare import METRICS, decide, effective_threshold
from ragperf.analysis.diff_context import comparability_warnings, load_setup_warnings
from ragperf.analysis.diff_figures import FIGURES_PER_STEP, capacity_figures, step_figures
from ragperf.analysis.diff_paths import DiffParts, compare_paths
from ragperf.analysis.diff_sections import rate_target_changes, stage_target_changes
from ragperf.analysis.family import Family, family_size, tested
from ragperf.analysis.histogram_stats import histogram, log_se, metric_value, needed, samples_ms
from ragperf.analysis.summary import TOTAL
from ragperf.errors import RunFileError
from ragperf.schema.diff import DiffGroup, MetricDelta, PathDiff, RateStep

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import numpy as np
    import numpy.typing as npt

    from ragperf.analysis.compare import Verdict
    from ragperf.analysis.diff_paths import DiffSettings
    from ragperf.load.histogram import Histogram
    from ragperf.schema.load import LoadReport, LoadStep
    from ragperf.schema.run import RunFile

    FloatArray = npt.NDArray[np.float64]

__all__ = ["diff_load_files"]

_LATENCY = "latency"  # the histogram of the whole pipeline, from each query's intended start
_SEVERITY: tuple[Verdict, ...] = ("regression", "inconclusive", "improvement", "unchanged")
_RATE_DIGITS = 3  # find-max rounds the rates it tries to this many decimals
# Relative resolution of a difference of two histogram values: half a 1/128-wide bucket on each side.
_RESOLUTION = 1.0 / 128.0


@dataclasses.dataclass(frozen=True)
class _Rate:
    """The histograms of one offered rate both files ran, keyed by span path."""

    old: LoadStep
    new: LoadStep
    hists: dict[str, tuple[Histogram, Histogram]]
    samples: dict[str, tuple[FloatArray, FloatArray]]


def diff_load_files(
    baseline: RunFile, new: RunFile, settings: DiffSettings, *, baseline_path: Path, new_path: Path, force: bool
) -> DiffParts:
    """Compare two load files rate by rate; refuse files of different pipelines unless `force`."""
    old_load, new_load = _section(baseline, baseline_path), _section(new, new_path)
    if baseline.pipeline != new.pipeline and not force:
        raise RunFileError(
            f"{new_path}: pipeline {new.pipeline!r} is not the baseline's {baseline.pipeline!r}; "
            "compare two load tests of one pipeline, or pass --force"
        )
    pairs = _match(old_load.steps, new_load.steps)
    # A fixed-rate file tried one rate: whether it held is in its step's figures, not a capacity measured.
    fixed = "fixed" in (old_load.mode, new_load.mode)
    if not pairs and fixed:  # no step to compare and no capacity either: a verdict would be empty
        raise RunFileError(
            f"the runs cannot be compared: no offered rate in common ({baseline_path} ran {_rates(old_load)}; "
            f"{new_path} ran {_rates(new_load)}); run both at the same --qps or --ramp"
        )
    rates = [_histograms(old, now) for old, now in pairs]
    paths_tested = tested([(a.size, b.size) for rate in rates for a, b in rate.samples.values()])
    family = family_size(paths_tested, len(settings.gated), FIGURES_PER_STEP * len(rates))
    parents = {info.path: info.parent for run in (new, baseline) for info in run.stages}
    groups = tuple(_group(rate, parents, settings, family, new_load.error_budget) for rate in rates)
    matched = {_rate(old) for old, _ in pairs}
    return DiffParts(
        groups=groups,
        family=family,
        paths_compared=paths_tested,
        only_in_baseline=_only_in(pairs, 0),
        only_in_new=_only_in(pairs, 1),
        only_in_baseline_groups=tuple(_label(s) for s in old_load.steps if _rate(s) not in matched),
        only_in_new_groups=tuple(_label(s) for s in new_load.steps if _rate(s) not in matched),
        capacity=() if fixed else capacity_figures(old_load, new_load, settings.threshold),
        targets=(
            *rate_target_changes(old_load, new_load),
            *(c for old, now in pairs for c in stage_target_changes(old, now)),
        ),
        warnings=(
            # Failed queries of a load test are judged per step, as its error rate.
            *(w for w in comparability_warnings(baseline, new) if w.kind != "failures"),
            *load_setup_warnings(baseline, new, pairs),
        ),
        queries=(_counts(old_load), _counts(new_load)),
    )


def _section(run: RunFile, path: Path) -> LoadReport:
    if run.load is None or not run.load.steps:
        raise RunFileError(f"{path}: a load file without any rate step; re-run 'ragperf load' to completion")
    return run.load


def _rate(step: LoadStep) -> float:
    return round(step.offered_qps, _RATE_DIGITS)


def _label(step: LoadStep) -> str:
    return f"{step.offered_qps:g} qps"


def _rates(load: LoadReport) -> str:
    return ", ".join(f"{rate:g}" for rate in sorted({_rate(step) for step in load.steps})) + " qps"


def _counts(load: LoadReport) -> tuple[int, int]:
    return sum(step.completed for step in load.steps), sum(step.errors for step in load.steps)


def _match(old: tuple[LoadStep, ...], new: tuple[LoadStep, ...]) -> list[tuple[LoadStep, LoadStep]]:
    """Steps at the same offered rate, in rising rate; a rate run twice in one file counts once (its first)."""
    first_new: dict[float, LoadStep] = {}
    for step in new:
        first_new.setdefault(_rate(step), step)
    first_old: dict[float, LoadStep] = {}
    for step in old:
        first_old.setdefault(_rate(step), step)
    return [(first_old[rate], first_new[rate]) for rate in sorted(first_old) if rate in first_new]


def _histograms(old: LoadStep, new: LoadStep) -> _Rate:
    """Every stage both steps measured (in the new step's order), then the total, as histograms and samples."""
    found = [(s.path, f"stage:{s.path}") for s in new.stages]
    keys = [(path, key) for path, key in found if key in old.histograms and key in new.histograms]
    if _LATENCY in old.histograms and _LATENCY in new.histograms:
        keys.append((TOTAL, _LATENCY))
    hists = {path: (histogram(old.histograms[key]), histogram(new.histograms[key])) for path, key in keys}
    return _Rate(old, new, hists, {path: (samples_ms(a), samples_ms(b)) for path, (a, b) in hists.items()})


def _group(
    rate: _Rate, parents: Mapping[str, str | None], settings: DiffSettings, family: int, budget: float
) -> DiffGroup:
    """One offered rate: its throughput figures, then each path's latency."""
    # The gated metrics are checked below from the histograms' own percentiles, not bootstrapped.
    shift_only = dataclasses.replace(settings, gated={})
    old = {path: a for path, (a, _) in rate.samples.items()}
    new = {path: b for path, (_, b) in rate.samples.items()}
    tests = Family(settings.alpha, family)
    paths = [
        _with_histograms(base, *rate.hists[base.path], *rate.samples[base.path], settings, tests)
        for base in compare_paths(old, new, parents, shift_only, family=family, samples="histogram")
    ]
    old_step, new_step = rate.old, rate.new
    return DiffGroup(
        label=_label(new_step),
        rate=RateStep(
            offered_qps=new_step.offered_qps,
            old_step=old_step.step,
            new_step=new_step.step,
            old_duration_s=old_step.duration_s,
            new_duration_s=new_step.duration_s,
            old_sustained=old_step.sustained,
            new_sustained=new_step.sustained,
            old_holds_targets=old_step.holds_targets,
            new_holds_targets=new_step.holds_targets,
        ),
        stages=tuple(p for p in paths if p.path != TOTAL),
        total=next((p for p in paths if p.path == TOTAL), None),
        figures=step_figures(old_step, new_step, tests, settings.threshold, budget),
    )


def _with_histograms(
    base: PathDiff,
    old: Histogram,
    new: Histogram,
    a: FloatArray,
    b: FloatArray,
    settings: DiffSettings,
    tests: Family,
) -> PathDiff:
    """The path with the load file's own percentiles, the gated metrics' checks, no finer than a bucket."""
    metrics, verdicts = [], [base.verdict]
    for name in METRICS:
        was, now = metric_value(old, name), metric_value(new, name)
        rel = None if was is None or now is None or was <= 0 else now / was - 1.0
        if name not in settings.gated or rel is None or was is None:
            metrics.append(MetricDelta(metric=name, old=was, new=now, rel_change=rel))
            continue
        threshold = effective_threshold(settings.gated[name], settings.min_ms, was)
        metric, verdict = _gated(name, old, new, a, b, rel, threshold, tests)
        metrics.append(metric)
        verdicts.append("inconclusive" if verdict == "too_few" else verdict)
    shift_ci, min_detectable = _resolution(base)
    if verdicts[0] == "unchanged" and shift_ci is not None and not _inside(shift_ci, base.threshold):
        verdicts[0] = "inconclusive"
    verdict = base.verdict if base.verdict == "too_few" else next(v for v in _SEVERITY if v in verdicts)
    evidence = base.evidence.model_copy(update={"shift_ci": shift_ci, "min_detectable": min_detectable})
    return base.model_copy(update={"metrics": tuple(metrics), "verdict": verdict, "evidence": evidence})


def _resolution(base: PathDiff) -> tuple[tuple[float | None, float | None] | None, float | None]:
    """The shift's interval and smallest detectable change, no finer than the histograms can resolve.

    Queries sharing a bucket tie exactly, so steady stages (an I/O wait) give an interval of width 0;
    each value is only known to within half a bucket, so the interval is widened by that much either side.
    """
    evidence = base.evidence
    if evidence.shift_ci is None:
        return None, evidence.min_detectable
    lo, hi = evidence.shift_ci
    wide = (
        None if lo is None else (1.0 + lo) * (1.0 - _RESOLUTION) - 1.0,
        None if hi is None else (1.0 + hi) * (1.0 + _RESOLUTION) - 1.0,
    )
    detect = None if evidence.min_detectable is None else max(evidence.min_detectable, _RESOLUTION)
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


def _only_in(pairs: list[tuple[LoadStep, LoadStep]], side: int) -> tuple[str, ...]:
    """Stage paths one side measured at a matched rate and the other did not (a stage added or removed)."""
    found: dict[str, None] = {}
    for pair in pairs:
        mine, other = pair[side], pair[1 - side]
        found.update({s.path: None for s in mine.stages if f"stage:{s.path}" not in other.histograms})
    return tuple(found)
