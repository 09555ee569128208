"""Two run (or leak) files compared: one group of every span path, with hotspots, memory and failed queries.

The two files of one `ragperf compare` (`compare` sections with one id) are compared paired by block;
two runs of several processes each (`ragperf run --processes K`) process by process; any other two
query by query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.diff_context import comparability_warnings
from ragperf.analysis.diff_cpu import cpu_bound, cpu_checked, cpu_column
from ragperf.analysis.diff_memory import memory_changes
from ragperf.analysis.diff_paths import DiffParts, compare_grouped_paths, compare_paths
from ragperf.analysis.diff_sections import hotspot_changes, target_changes
from ragperf.analysis.failures import failure_change
from ragperf.analysis.family import family_size, tested
from ragperf.analysis.paired import block_log_ratios
from ragperf.analysis.replicated import MIN_PROCESSES, process_log_medians
from ragperf.analysis.summary import TOTAL
from ragperf.errors import RunFileError
from ragperf.schema.diff import DiffGroup

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

    from ragperf.analysis.diff_paths import DiffSettings
    from ragperf.schema.run import RunFile

__all__ = ["diff_run_files", "grouped_samples", "paired_blocks", "span_samples"]


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
    if pairs is not None:
        old_blocks, new_blocks = (
            grouped_samples(run, samples, _block_index(run), pairs)
            for run, samples in ((baseline, old_samples), (new, new_samples))
        )
        counts = {p: len(block_log_ratios(old_blocks[p], new_blocks[p])) for p in old_blocks if p in new_blocks}
        paths_tested = tested([(n, n) for n in counts.values()])
        family = family_size(paths_tested, len(settings.gated))
        block_size = baseline.compare.block_size if baseline.compare is not None else 1
        # A CPU-bound path's wall time is its CPU time plus the machine's preemptions: its CPU time tells the
        # change in work with less of the machine's noise (both sides recorded it: compare turns it on).
        cpu = _cpu_measures(baseline, new, [p for p in old_blocks if p in new_blocks], pairs)
        paths = compare_grouped_paths(
            old_blocks, new_blocks, parents, settings, family=family, evidence="paired", block_size=block_size,
            cpu=cpu,
        )  # fmt: skip
    elif min(len(baseline.processes), len(new.processes)) >= MIN_PROCESSES:
        old_procs, new_procs = (
            grouped_samples(run, samples, _process_index(run), list(range(len(run.processes))))
            for run, samples in ((baseline, old_samples), (new, new_samples))
        )
        paths_tested = sum(
            1
            for p in old_procs
            if p in new_procs
            and min(process_log_medians(old_procs[p]).size, process_log_medians(new_procs[p]).size) >= MIN_PROCESSES
        )
        family = family_size(paths_tested, len(settings.gated))
        paths = compare_grouped_paths(old_procs, new_procs, parents, settings, family=family, evidence="replicated")
    else:
        sizes = [(old_samples[p].size, new_samples[p].size) for p in old_samples if p in new_samples]
        paths_tested = tested(sizes)
        family = family_size(paths_tested, len(settings.gated))
        paths = compare_paths(old_samples, new_samples, parents, settings, family=family, samples="queries")
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


def _block_index(run: RunFile) -> NDArray[np.int64]:
    """Each measured query's block of the compare (-1: none)."""
    assert run.compare is not None  # noqa: S101 - paired_blocks found both sides
    return np.asarray(run.compare.block_of(run.queries.n), dtype=np.int64)


def _process_index(run: RunFile) -> NDArray[np.int64]:
    """Each measured query's process (-1: none)."""
    index = np.full(run.queries.n, -1, dtype=np.int64)
    for k, process in enumerate(run.processes):
        index[process.first : process.first + process.n] = k
    return index


def grouped_samples(
    run: RunFile, samples: dict[str, NDArray[np.float64]], index: NDArray[np.int64], groups: list[int]
) -> dict[str, list[NDArray[np.float64]]]:
    """Per span path, the successful queries' durations of each group (block or process) whose number `index`
    gives each query (in `samples`' path order)."""
    table = run.queries
    ok = table.ok
    masks = [ok & (index == group) for group in groups]
    out: dict[str, list[NDArray[np.float64]]] = {}
    for path in samples:
        values = table.total_ms.values if path == TOTAL else table.span(path)
        out[path] = [values[mask & ~np.isnan(values)] for mask in masks]
    return out


def _cpu_measures(
    baseline: RunFile, new: RunFile, paths: list[str], pairs: list[int]
) -> dict[str, tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]]:
    """Per CPU-bound path of a compare, each side's CPU times by block: what the paired test reads for it."""
    out = {}
    for path in paths:
        old_cpu, new_cpu = cpu_column(baseline, path), cpu_column(new, path)
        if old_cpu is None or new_cpu is None:
            continue
        if not (cpu_bound(baseline, path, old_cpu) and cpu_bound(new, path, new_cpu)):
            continue
        blocks = []
        for run, cpu in ((baseline, old_cpu), (new, new_cpu)):
            index, ok = _block_index(run), run.queries.ok & ~np.isnan(cpu)
            blocks.append([cpu[ok & (index == block)] for block in pairs])
        out[path] = (blocks[0], blocks[1])
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
