"""What the load parent hands each worker: the pipeline once, then one command per rate step."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragperf.config import Config
from ragperf.queries import Query

__all__ = ["LoadWorkerSpec", "StepCommand"]


class LoadWorkerSpec(BaseModel):
    """Everything a load worker needs before the clock starts (written as a JSON file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Config
    config_dir: str
    queries: tuple[Query, ...]
    warmup: int = Field(ge=0)
    index: int = Field(ge=0)
    workers: int = Field(ge=1)
    concurrency: int = Field(default=1, ge=1, description="lanes (queries in flight) per worker")
    seed: int = 0
    parent_pid: int | None = Field(default=None, description="the worker dies with this process")


class StepCommand(BaseModel):
    """Run one rate step: the whole offered rate R (the worker takes R/N), from a common start."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: int
    rate: float = Field(gt=0)
    arrival: Literal["constant", "poisson"]
    start_wall_ns: int
    duration_s: float = Field(gt=0)
    drain_s: float = Field(ge=0)
    window_s: float = Field(gt=0)
    progress_s: float = Field(gt=0)
