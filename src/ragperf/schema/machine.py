"""Run file section: what the machine was doing while the queries were measured.

`blocks` follow the worker's batches (every 50 ms or 1024 queries): how many CPUs were busy in
all, how many of them other processes used, and the run queue, from `/proc/stat`. The verdict
says whether the measurements were taken under contention, so a report or a diff can say so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MachineBlock", "MachineLoad"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MachineBlock(_Model):
    """One block of measured queries and the machine's state over it."""

    first: int = Field(ge=0, description="index of the block's first measured query")
    n: int = Field(ge=0, description="queries in the block")
    busy_cpus: float = Field(ge=0, description="CPUs busy, every process counted")
    others_cpus: float = Field(ge=0, description="CPUs used by processes other than the worker")
    run_queue: int = Field(ge=0, description="runnable tasks at the block's end, the worker's included")


class MachineLoad(_Model):
    """The noise around a run's measured queries, measured."""

    cpu_count: int = Field(ge=1)
    others_cpus_mean: float = Field(ge=0, description="CPUs other processes used, mean over the measured time")
    others_cpus_max: float = Field(ge=0, description="the same, in the busiest block")
    saturated_share: float = Field(ge=0, le=1, description="share of the measured queries run while every CPU was busy")
    preempted_per_query: float | None = Field(
        default=None, description="the worker's involuntary context switches per query (mean)"
    )
    cpu_share: float | None = Field(
        default=None, description="the worker's CPU time / wall time over the measured queries (1.0: all compute)"
    )
    verdict: Literal["quiet", "contended"]
    blocks: tuple[MachineBlock, ...] = ()
