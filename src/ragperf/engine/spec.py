"""What the parent hands the worker: one JSON file, read by `python -m ragperf.engine.worker`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ragperf.config import Config
from ragperf.memory.settings import LeakSettings
from ragperf.queries import Query

__all__ = ["WorkerSpec"]


class WorkerSpec(BaseModel):
    """Everything one worker run needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: Config
    config_dir: str
    queries: tuple[Query, ...]
    warmup: int
    measured: int
    fail_fast: bool
    backend: str
    backend_options: dict[str, object]
    backend_wraps: bool = False  # a wrapping profiler writes its file at exit: the worker must exit normally
    artifacts: str
    parent_pid: int  # the worker ends itself when this process is gone (no orphan runs on)
    memory: bool = False  # per-stage RSS/heap/peak readings (ragperf.memory)
    cpu_time: bool = False  # each stage call's thread CPU time beside its wall time
    leak: LeakSettings | None = None  # leak mode: gc between queries, then allocation-site snapshots
    # Served (`ragperf compare`): after warm-up the worker measures the blocks its parent asks for on stdin
    # (`ragperf.engine.served`) instead of `measured` queries in a row; `measured` is then the planned total.
    served: bool = False
    # `--processes K`: this process's measured queries start at this position of the query cycle, so the K
    # processes together run the queries one process would have.
    first_query: int = 0
    # `ragperf compare`: both sides' workers run on these CPUs (they never run at once), so the difference
    # between two CPUs (frequency, cache, a neighbour's load) is not read as the code's.
    cpus: tuple[int, ...] | None = None
