"""What the worker needs to know for `ragperf leak` (part of the worker spec)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_MIN_SLOPE", "LeakSettings"]

# Growth under 10 KiB per iteration counts as noise. Measured: leak-free test pipelines move
# the heap < 0.1 KiB/iter; the demo grows ~7 KiB per *new* query (caches keyed by query text,
# bounded by the query set), which is not what a leak check should flag; 0.1 MB/iter must pass.
DEFAULT_MIN_SLOPE = 0.01


class LeakSettings(BaseModel):
    """Leak mode: gc between iterations, then tracemalloc snapshots on a few extra iterations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    snapshot_every: int = Field(default=3, ge=0, description="iterations between snapshots; 0: no snapshots")
    frames: int = Field(default=40, ge=1, description="tracemalloc frames kept: enough to reach the stage trampoline")
    min_slope: float = Field(default=DEFAULT_MIN_SLOPE, gt=0, description="MB/iter under which growth is noise")
