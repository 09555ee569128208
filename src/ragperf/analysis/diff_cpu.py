"""Wall time against CPU time: a CPU-bound path that got slower without doing more work was slowed by the machine.

A run records each query's CPU time (the worker's, all threads) and, with `[run] cpu_time`, each
stage's thread CPU time. A regression in wall time becomes "contention" only on evidence from
both sides: the path was CPU-bound in the baseline (its CPU time at least half its wall time),
its CPU time did not grow past the path's own threshold, and the new run's machine section says
it was measured under contention. Without CPU or machine readings nothing changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ragperf.analysis.summary import TOTAL

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from ragperf.schema.diff import PathDiff
    from ragperf.schema.run import RunFile

__all__ = ["CPU_BOUND", "cpu_bound", "cpu_checked", "cpu_column"]

CPU_BOUND = 0.5  # CPU time / wall time at the median, in the baseline
# A compare reads CPU time for a path that computes all through: in the queries no other process preempted
# (the worker's involuntary context switches: 0), it is on the CPU 90% of the time at the median. A path that
# waits (I/O, a lock, a sleep) is read in wall time, and so is one whose new code added a wait: its CPU share
# drops below this.
PAIRED_CPU_BOUND = 0.9
_CALM_QUANTILE = 90  # without enough unpreempted queries: the least preempted tenth stands in for them
_MIN_QUERIES = 10


def cpu_checked(paths: Sequence[PathDiff], old: RunFile, new: RunFile, *, relabel: bool = True) -> tuple[PathDiff, ...]:
    """Each path with its CPU change where both runs have CPU readings; the machine's regressions relabelled
    (unless not `relabel`: runs interleaved by a compare shared the machine's state)."""
    contended = new.machine is not None and new.machine.verdict == "contended"
    out = []
    for path in paths:
        old_cpu, new_cpu = _cpu(old, path.path), _cpu(new, path.path)
        if old_cpu is None or new_cpu is None:
            out.append(path)
            continue
        old_p50, new_p50 = float(np.median(old_cpu)), float(np.median(new_cpu))
        change = new_p50 / old_p50 - 1.0 if old_p50 > 0 else None
        update: dict[str, object] = {"cpu_change": change}
        wall = next((m.old for m in path.metrics if m.metric == "p50"), None)
        bound = wall is not None and wall > 0 and old_p50 / wall >= CPU_BOUND
        if (
            relabel
            and path.verdict == "regression"
            and contended
            and bound
            and change is not None
            and change < path.threshold
        ):
            update["verdict"] = "contention"
        out.append(path.model_copy(update=update))
    return tuple(out)


def cpu_column(run: RunFile, path: str) -> NDArray[np.float64] | None:
    """A path's per-query CPU times (ms, NaN where not measured), or None when the run did not record them."""
    table = run.queries
    column = table.cpu_ms if path == TOTAL else table.cpu_spans.get(path)
    return None if column is None else column.values


def cpu_bound(run: RunFile, path: str, cpu: NDArray[np.float64]) -> bool:
    """The path computes all through in this run: PAIRED_CPU_BOUND of its wall time in unpreempted queries."""
    table = run.queries
    wall = table.total_ms.values if path == TOTAL else table.span(path)
    keep = table.ok & ~np.isnan(cpu) & ~np.isnan(wall) & (wall > 0)
    if keep.sum() < _MIN_QUERIES:
        return False
    preempted = None if table.preempted is None else table.preempted.values
    calm = keep if preempted is None else keep & (preempted == 0)
    if calm.sum() >= _MIN_QUERIES:
        return float(np.median(cpu[calm] / wall[calm])) >= PAIRED_CPU_BOUND
    return float(np.percentile(cpu[keep] / wall[keep], _CALM_QUANTILE)) >= PAIRED_CPU_BOUND


def _cpu(run: RunFile, path: str) -> NDArray[np.float64] | None:
    """The successful queries' CPU times of a path (ms), or None when the run has too few."""
    column = cpu_column(run, path)
    if column is None:
        return None
    values = column[run.queries.ok]
    values = values[~np.isnan(values)]
    return values if values.size >= _MIN_QUERIES else None
