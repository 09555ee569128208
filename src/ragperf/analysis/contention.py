"""Was the machine quiet while the queries were measured? From the worker's per-block readings.

A query waits for a CPU only when every CPU is busy, so the verdict rests on the share of
measured queries run while the machine was saturated, not on a load average (which lags by a
minute and counts what ran before).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ragperf.schema.machine import MachineBlock, MachineLoad

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.schema.queries import QueryTable

__all__ = ["CONTENDED_SHARE", "contention_warning", "machine_load"]

# Saturated: busy within a quarter CPU of all of them (the /proc/stat clock ticks at 100 Hz).
_SATURATED_SLACK = 0.25
# Contended when this share of the measured queries ran on a saturated machine.
CONTENDED_SHARE = 0.10
_MAX_BLOCKS = 2000  # a longer run keeps evenly spaced blocks: the summary figures use them all


def machine_load(blocks: Sequence[MachineBlock], table: QueryTable, cpu_count: int) -> MachineLoad | None:
    """The run's machine section; None when the platform gave no readings."""
    if not blocks:
        return None
    weights = np.array([b.n for b in blocks], dtype=np.float64)
    if weights.sum() <= 0:
        return None
    busy = np.array([b.busy_cpus for b in blocks])
    others = np.array([b.others_cpus for b in blocks])
    saturated = float(weights[busy >= cpu_count - _SATURATED_SLACK].sum() / weights.sum())
    preempted = _mean(table.preempted.values if table.preempted is not None else None)
    cpu_share = None
    if table.cpu_ms is not None:
        cpu, wall = table.cpu_ms.values, table.total_ms.values
        known = ~np.isnan(cpu)
        if known.any() and wall[known].sum() > 0:
            cpu_share = float(cpu[known].sum() / wall[known].sum())
    kept = tuple(blocks) if len(blocks) <= _MAX_BLOCKS else tuple(blocks[:: -(-len(blocks) // _MAX_BLOCKS)])
    return MachineLoad(
        cpu_count=cpu_count,
        others_cpus_mean=float(np.average(others, weights=weights)),
        others_cpus_max=float(others.max()),
        saturated_share=saturated,
        preempted_per_query=preempted,
        cpu_share=cpu_share,
        verdict="contended" if saturated >= CONTENDED_SHARE else "quiet",
        blocks=kept,
    )


def contention_warning(load: MachineLoad | None) -> str | None:
    """The run warning of a contended run: how much, and what it means for the figures."""
    if load is None or load.verdict != "contended":
        return None
    preempted = (
        ""
        if load.preempted_per_query is None
        else f", and the worker was preempted {load.preempted_per_query:.1f} times a query"
    )
    return (
        f"measured under contention: every CPU was busy during {load.saturated_share:.0%} of the measured queries "
        f"(other processes used {load.others_cpus_mean:.1f} of {load.cpu_count} CPUs on average, "
        f"{load.others_cpus_max:.1f} at most{preempted}); latencies include waiting for a CPU, so compare them "
        "with a run on a quiet machine, or with the queries' CPU time"
    )


def _mean(values: np.ndarray | None) -> float | None:
    if values is None:
        return None
    known = values[~np.isnan(values)]
    return float(known.mean()) if known.size else None
