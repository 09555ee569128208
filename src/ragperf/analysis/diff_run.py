"""Two run (or leak) files compared: one group of every span path, with hotspots, memory and failed queries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.diff_context import comparability_warnings
from ragperf.analysis.diff_cpu import cpu_checked
from ragperf.analysis.diff_memory import memory_changes
from ragperf.analysis.diff_paths import DiffParts, compare_paths
from ragperf.analysis.diff_sections import hotspot_changes, target_changes
from ragperf.analysis.failures import failure_change
from ragperf.analysis.family import family_size, tested
from ragperf.analysis.summary import TOTAL
from ragperf.errors import RunFileError
from ragperf.schema.diff import DiffGroup

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from numpy.typing import NDArray

    from ragperf.analysis.diff_paths import DiffSettings
    from ragperf.schema.run import RunFile

__all__ = ["diff_run_files", "span_samples"]


def diff_run_files(
    baseline: RunFile, new: RunFile, settings: DiffSettings, *, baseline_path: Path, new_path: Path, force: bool
) -> DiffParts:
    """Compare every span path both runs measured, and what else both recorded."""
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
    sizes = [(old_samples[p].size, new_samples[p].size) for p in old_samples if p in new_samples]
    paths_tested = tested(sizes)
    family = family_size(paths_tested, len(settings.gated))
    parents = {info.path: info.parent for run in (new, baseline) for info in run.stages}
    paths = compare_paths(
        old_samples,
        new_samples,
        parents,
        settings,
        family=family,
        samples="queries",
    )
    checked = cpu_checked(paths, baseline, new)
    group = DiffGroup(
        label=None,
        stages=tuple(p for p in checked if p.path != TOTAL),
        total=next(p for p in checked if p.path == TOTAL),
        failures=failure_change(baseline, new, settings.alpha),
        hotspots=hotspot_changes(baseline, new),
        memory=memory_changes(baseline, new),
    )
    return DiffParts(
        groups=(group,),
        family=family,
        paths_compared=paths_tested,
        only_in_baseline=tuple(p for p in old_samples if p not in new_samples),
        only_in_new=tuple(p for p in new_samples if p not in old_samples),
        targets=target_changes(baseline, new),
        warnings=comparability_warnings(baseline, new),
        queries=(
            (baseline.summary.n_queries, baseline.summary.n_failed),
            (new.summary.n_queries, new.summary.n_failed),
        ),
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
