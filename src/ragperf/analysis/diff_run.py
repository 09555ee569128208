"""Two run (or leak) files compared: one group of every span path, with hotspots, memory and failed queries.

The two files of one `ragperf compare` (`compare` sections with one id) are compared paired by block.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.diff_context import comparability_warnings
from ragperf.analysis.diff_cpu import cpu_checked
from ragperf.analysis.diff_memory import memory_changes
from ragperf.analysis.diff_paths import DiffParts, compare_paired_paths, compare_paths
from ragperf.analysis.diff_sections import hotspot_changes, target_changes
from ragperf.analysis.failures import failure_change
from ragperf.analysis.family import family_size, tested
from ragperf.analysis.paired import block_log_ratios
from ragperf.analysis.summary import TOTAL
from ragperf.errors import RunFileError
from ragperf.schema.diff import DiffGroup

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from ragperf.analysis.diff_paths import DiffSettings
    from ragperf.schema.run import RunFile

__all__ = ["block_samples", "diff_run_files", "paired_blocks", "span_samples"]


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
    parents = {info.path: info.parent for run in (new, baseline) for info in run.stages}
    pairs = paired_blocks(baseline, new)
    if pairs is None:
        sizes = [(old_samples[p].size, new_samples[p].size) for p in old_samples if p in new_samples]
        paths_tested = tested(sizes)
        family = family_size(paths_tested, len(settings.gated))
        paths = compare_paths(old_samples, new_samples, parents, settings, family=family, samples="queries")
    else:
        old_blocks, new_blocks = (
            block_samples(run, samples, pairs) for run, samples in ((baseline, old_samples), (new, new_samples))
        )
        counts = {p: len(block_log_ratios(old_blocks[p], new_blocks[p])) for p in old_blocks if p in new_blocks}
        paths_tested = tested([(n, n) for n in counts.values()])
        family = family_size(paths_tested, len(settings.gated))
        block_size = baseline.compare.block_size if baseline.compare is not None else 1
        paths = compare_paired_paths(old_blocks, new_blocks, parents, settings, family=family, block_size=block_size)
    # Interleaved, the machine weighed on both sides alike: a paired regression is not the machine's doing.
    checked = cpu_checked(paths, baseline, new, relabel=pairs is None)
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


def paired_blocks(baseline: RunFile, new: RunFile) -> list[int] | None:
    """The block numbers both files measured when they are the two sides of one compare; None otherwise."""
    old_side, new_side = baseline.compare, new.compare
    if old_side is None or new_side is None or old_side.id != new_side.id or old_side.side == new_side.side:
        return None
    return sorted({b.block for b in old_side.blocks if b.n} & {b.block for b in new_side.blocks if b.n})


def block_samples(
    run: RunFile, samples: dict[str, NDArray[np.float64]], blocks: list[int]
) -> dict[str, list[NDArray[np.float64]]]:
    """Per span path, the successful queries' durations of each of these blocks (in `samples`' path order)."""
    side = run.compare
    assert side is not None  # noqa: S101 - paired_blocks found both sides
    table = run.queries
    ok = table.ok
    index = np.asarray(side.block_of(table.n))
    masks = [ok & (index == block) for block in blocks]
    out: dict[str, list[NDArray[np.float64]]] = {}
    for path in samples:
        values = table.total_ms.values if path == TOTAL else table.span(path)
        out[path] = [values[mask & ~np.isnan(values)] for mask in masks]
    return out


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
