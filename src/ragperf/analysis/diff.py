"""Turn two run files into a `DiffReport`: every span path compared, plus hotspots, memory, targets, warnings."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ragperf.analysis.compare import DEFAULT_ALPHA, DEFAULT_THRESHOLD, compare_stages
from ragperf.analysis.diff_context import comparability_warnings, hotspot_changes, target_changes
from ragperf.analysis.diff_memory import memory_changes
from ragperf.analysis.failures import FAILED_QUERIES, failure_change
from ragperf.analysis.summary import TOTAL
from ragperf.analysis.thresholds import split_thresholds
from ragperf.errors import RunFileError
from ragperf.schema.diff import ComparabilityWarning, DiffReport, MetricDelta, RunRef, StageDiff

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import numpy as np
    from numpy.typing import NDArray

    from ragperf.analysis.compare import StageComparison
    from ragperf.schema.run import RunFile

__all__ = ["diff_runs", "span_samples", "stage_diff", "uniform_shift"]


def diff_runs(
    baseline: RunFile,
    new: RunFile,
    *,
    baseline_path: Path,
    new_path: Path,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    metric_thresholds: Mapping[str, float] | None = None,
    force: bool = False,
) -> DiffReport:
    """Compare `new` against `baseline` (two run, leak or load files); refuse different pipelines unless `force`."""
    if "load" in (baseline.kind, new.kind):
        if baseline.kind != new.kind:
            raise RunFileError(
                f"{new_path}: a {new.kind} file, but the baseline is a {baseline.kind} file; "
                "diff compares two load files ('ragperf load') or two run files"
            )
        # Imported here: diff_load builds on this module's helpers.
        from ragperf.analysis.diff_load import diff_loads

        return diff_loads(
            baseline,
            new,
            baseline_path=baseline_path,
            new_path=new_path,
            threshold=threshold,
            alpha=alpha,
            metric_thresholds=metric_thresholds,
            force=force,
        )
    if baseline.kind != new.kind:
        raise RunFileError(
            f"{new_path}: a {new.kind} file, but the baseline is a {baseline.kind} file; compare two of one kind"
        )
    if baseline.pipeline != new.pipeline and not force:
        raise RunFileError(
            f"{new_path}: pipeline {new.pipeline!r} is not the baseline's {baseline.pipeline!r}; "
            "compare two runs of one pipeline, or pass --force"
        )
    old_samples, new_samples = span_samples(baseline), span_samples(new)
    if not set(old_samples) & set(new_samples) - {TOTAL} and not force:
        raise RunFileError(
            f"{new_path}: no stage in common with {baseline_path}; compare two runs of one pipeline, or pass --force"
        )
    results = compare_stages(
        old_samples, new_samples, threshold=threshold, alpha=alpha, metric_thresholds=metric_thresholds
    )
    parents = {info.path: info.parent for run in (new, baseline) for info in run.stages}
    diffs = {result.name: stage_diff(result, parents.get(result.name)) for result in results}
    total = diffs.pop(TOTAL)
    stage_diffs = tuple(diffs.values())
    every = (*stage_diffs, total)
    failures = failure_change(baseline, new, alpha)
    return DiffReport(
        baseline=_ref(baseline, baseline_path),
        new=_ref(new, new_path),
        alpha=alpha,
        threshold=total.threshold,  # the p50 one, whether given as the default or as p50=
        metric_thresholds=split_thresholds(threshold, metric_thresholds)[1],
        paths_compared=sum(1 for d in every if d.verdict != "too_few"),
        stages=stage_diffs,
        total=total,
        only_in_baseline=tuple(p for p in old_samples if p not in new_samples),
        only_in_new=tuple(p for p in new_samples if p not in old_samples),
        hotspots=hotspot_changes(baseline, new),
        memory=memory_changes(baseline, new),
        targets=target_changes(baseline, new),
        failures=failures,
        warnings=(*comparability_warnings(baseline, new), *uniform_shift(stage_diffs, alpha)),
        regressions=(
            *((FAILED_QUERIES,) if failures.verdict == "regression" else ()),
            *(d.path for d in every if d.verdict == "regression"),
        ),
        improvements=tuple(d.path for d in every if d.verdict == "improvement"),
        inconclusive=tuple(d.path for d in every if d.verdict in ("inconclusive", "too_few")),
    )


def span_samples(run: RunFile) -> dict[str, NDArray[np.float64]]:
    """Per span path (in config order, then "total"), the durations of the successful queries."""
    table = run.queries
    samples: dict[str, NDArray[np.float64]] = {
        info.path: table.ok_span(info.path) for info in run.stages if info.enabled
    }
    # Marked spans (ragperf.stage inside a stage) are not in `stages`: take them in order of appearance.
    for path in table.paths:
        if path not in samples:
            samples[path] = table.ok_span(path)
    samples[TOTAL] = table.total_ms.values[table.ok]
    return samples


def uniform_shift(stages: tuple[StageDiff, ...], alpha: float) -> tuple[ComparabilityWarning, ...]:
    """Warn when every top-level stage moved the same way: the machine changed more likely than the code."""
    top = [s for s in stages if s.parent is None and s.verdict != "too_few"]
    moved = [s for s in top if s.p_adjusted is not None and s.p_adjusted < alpha and s.shift is not None]
    if len(top) < 2 or len(moved) < len(top):
        return ()
    shifts = sorted(s.shift for s in moved if s.shift is not None)
    if shifts[0] * shifts[-1] <= 0:
        return ()
    return (
        ComparabilityWarning(
            kind="uniform",
            message=f"all {len(top)} stages moved together ({shifts[0]:+.0%} to {shifts[-1]:+.0%}): a machine-wide "
            "cause (load, CPU frequency, another machine) is likelier than a code change; re-run both on a quiet "
            "machine",
        ),
    )


def _ref(run: RunFile, path: Path) -> RunRef:
    return RunRef(
        path=str(path),
        pipeline=run.pipeline,
        backend=run.backend.name,
        n_queries=run.summary.n_queries,
        n_failed=run.summary.n_failed,
        started_at=run.environment.started_at,
        git_commit=run.environment.git_commit,
    )


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: a statistic that could not be estimated is null."""
    return value if value is not None and math.isfinite(value) else None


def stage_diff(result: StageComparison, parent: str | None) -> StageDiff:
    """The schema form of one path's comparison."""
    metrics = tuple(
        MetricDelta(
            metric=m.metric,
            old=_finite(m.old),
            new=_finite(m.new),
            rel_change=_finite(m.rel_change),
            threshold=m.threshold,
            ci=None if m.ci is None else (m.ci[0], m.ci[1]),
            verdict=m.verdict,
        )
        for m in result.metrics
    )
    lo, hi = result.shift_ci
    return StageDiff(
        path=result.name,
        parent=parent,
        n_old=result.n_old,
        n_new=result.n_new,
        metrics=metrics,
        shift=_finite(result.shift),
        shift_ci=None if math.isnan(lo) else (_finite(lo), _finite(hi)),
        ci_level=result.ci_level,
        p_value=_finite(result.p_value),
        p_adjusted=_finite(result.p_adjusted),
        verdict=result.verdict,
        threshold=result.threshold,
        min_detectable=result.min_detectable,
        queries_needed=result.queries_needed,
    )
