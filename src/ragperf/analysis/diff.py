"""`ragperf diff`'s analysis: two files of one kind in, one `DiffReport` (groups of compared paths) out.

Run and leak files become one group (`diff_run`), load files one group per offered rate (`diff_load`);
this module checks that the two files can be compared, and names every verdict in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from ragperf.analysis.compare import DEFAULT_ALPHA, DEFAULT_MIN_MS, DEFAULT_THRESHOLD
from ragperf.analysis.diff_context import machine_wide
from ragperf.analysis.diff_load import diff_load_files
from ragperf.analysis.diff_paths import DiffSettings
from ragperf.analysis.diff_run import diff_run_files
from ragperf.config import DiffConfig
from ragperf.errors import RunFileError
from ragperf.schema.diff import DiffReport, RunRef

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from ragperf.schema.run import RunFile

__all__ = ["diff_runs", "min_ms_of"]


def diff_runs(
    baseline: RunFile,
    new: RunFile,
    *,
    baseline_path: Path,
    new_path: Path,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    metric_thresholds: Mapping[str, float] | None = None,
    min_ms: float | None = None,
    force: bool = False,
) -> DiffReport:
    """Compare `new` against `baseline` (two run, leak or load files); refuse different pipelines unless `force`.

    `min_ms` None takes the floor from the new file's config (`[diff] min_ms`), else the default.
    """
    if baseline.kind != new.kind:
        fix = (
            "diff compares two load files ('ragperf load') or two run files"
            if "load" in (baseline.kind, new.kind)
            else "compare two of one kind"
        )
        raise RunFileError(f"{new_path}: a {new.kind} file, but the baseline is a {baseline.kind} file; {fix}")
    settings = DiffSettings.of(threshold, metric_thresholds, alpha, min_ms_of(new) if min_ms is None else min_ms)
    build = diff_load_files if new.kind == "load" else diff_run_files
    parts = build(baseline, new, settings, baseline_path=baseline_path, new_path=new_path, force=force)
    report = DiffReport(
        kind=new.kind,
        baseline=_ref(baseline, baseline_path, parts.queries[0]),
        new=_ref(new, new_path, parts.queries[1]),
        alpha=settings.alpha,
        threshold=settings.threshold,
        min_ms=settings.min_ms,
        metric_thresholds=dict(settings.gated),
        family=parts.family,
        paths_compared=parts.paths_compared,
        groups=parts.groups,
        only_in_baseline=parts.only_in_baseline,
        only_in_new=parts.only_in_new,
        only_in_baseline_groups=parts.only_in_baseline_groups,
        only_in_new_groups=parts.only_in_new_groups,
        capacity=parts.capacity,
        targets=parts.targets,
        warnings=(*parts.warnings, *machine_wide(parts.groups, parts.warnings, settings.alpha)),
        regressions=(),
        improvements=(),
        inconclusive=(),
    )
    # The verdict lists are read off the report's own findings, so they cannot disagree with what it shows.
    found = list(report.findings())
    return report.model_copy(
        update={
            "regressions": tuple(name for name, verdict, _ in found if verdict == "regression"),
            "improvements": tuple(name for name, verdict, _ in found if verdict == "improvement"),
            "inconclusive": tuple(name for name, verdict, _ in found if verdict in ("inconclusive", "too_few")),
            "contention": tuple(name for name, verdict, _ in found if verdict == "contention"),
        }
    )


def min_ms_of(run: RunFile) -> float:
    """The absolute floor the run's config asks for (`[diff] min_ms`), or the default."""
    table = run.config.get("diff")
    if table is None:  # a config without the table, or a file from before it existed
        return DEFAULT_MIN_MS
    try:
        floor = DiffConfig.model_validate(table).min_ms
    except ValidationError:
        raise RunFileError("the new file's config has an invalid [diff] table; pass --min-ms to override it") from None
    return DEFAULT_MIN_MS if floor is None else floor


def _ref(run: RunFile, path: Path, queries: tuple[int, int]) -> RunRef:
    return RunRef(
        path=str(path),
        pipeline=run.pipeline,
        backend=run.backend.name,
        n_queries=queries[0],
        n_failed=queries[1],
        started_at=run.environment.started_at,
        git_commit=run.environment.git_commit,
    )
