"""Run file schema, version 2: the documented contract of everything ragperf writes.

A run, a leak check and a load test all write a `RunFile`; `kind` says which sections are
filled. Durations are milliseconds, memory figures megabytes (MiB), unless a field says
otherwise. Version 2 stores the measured queries by column (`schema.queries.QueryTable`);
version-1 files are read by `schema.v1` and upgraded on load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragperf.schema.compare import CompareSide
from ragperf.schema.load import LoadReport
from ragperf.schema.machine import MachineLoad
from ragperf.schema.memory import LeakReport, MemoryReport
from ragperf.schema.queries import QueryError, QueryRecord, QueryTable

__all__ = [
    "SCHEMA_VERSION",
    "Artifact",
    "BackendInfo",
    "Bottleneck",
    "Environment",
    "Hotspot",
    "MetricSummary",
    "ProcessRun",
    "ProfileFrame",
    "ProfileStack",
    "QueryError",
    "QueryRecord",
    "QueryTable",
    "RunFile",
    "RunFileBase",
    "RunSummary",
    "SetupTime",
    "StageInfo",
    "StageProfile",
    "StageSummary",
    "TargetVerdict",
]

SCHEMA_VERSION = 4
Verdict = Literal["PASS", "FAIL", "n/a"]
OUTSIDE_STAGES = "<outside stages>"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Environment(_Model):
    """Where and when the run happened, so a diff can warn when two runs are not comparable."""

    python: str
    implementation: str
    platform: str
    machine: str
    cpu_model: str
    cpu_count: int
    load_avg_start: tuple[float, float, float] | None
    load_avg_end: tuple[float, float, float] | None
    packages: dict[str, str]
    git_commit: str | None
    git_dirty: bool | None
    started_at: str
    finished_at: str


class SetupTime(_Model):
    """What the pipeline cost before its first query (milliseconds)."""

    import_ms: float = Field(description="importing the modules the config names")
    setup_ms: float = Field(description="the pipeline's setup call")


class ProcessRun(_Model):
    """The measured queries one worker process ran (`ragperf run --processes K`)."""

    first: int = Field(ge=0, description="index of the process's first measured query in this file")
    n: int = Field(ge=0, description="measured queries it ran")
    setup_ms: float | None = Field(description="its setup call (each process sets the pipeline up anew)")


class StageInfo(_Model):
    """A stage or sub-stage as configured; `path` is dotted ("retrieval.vector")."""

    path: str
    parent: str | None
    kind: str
    call: str | None
    target_ms: float | None
    enabled: bool


class BackendInfo(_Model):
    """The profiler backend that measured the run."""

    name: str
    distribution: str | None
    version: str | None
    options: dict[str, str | int | float | bool]


class MetricSummary(_Model):
    """A stage metric (time to first token, tokens/s, ...) over the measured queries."""

    n: int
    mean: float
    p50: float
    p95: float


class StageSummary(_Model):
    """Latency statistics of one span path over the measured queries (milliseconds)."""

    path: str
    kind: str
    skipped: bool
    n: int
    n_errors: int
    mean: float | None
    stdev: float | None
    min: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None
    p95_ci: tuple[float, float] | None
    p99_ci: tuple[float, float] | None
    share: float | None = Field(description="mean of this span / mean pipeline total")
    bottleneck_count: int = Field(description="queries in which this span was the longest of its siblings")
    target_ms: float | None
    verdict: Verdict = Field(description="PASS when p95 is under target_ms")
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)
    parent_share: float | None = Field(default=None, description="mean of this span / mean of its parent span")
    cpu_mean: float | None = Field(default=None, description="mean CPU time of the stage's thread ([run] cpu_time)")
    cpu_p50: float | None = Field(default=None, description="median CPU time of the stage's thread ([run] cpu_time)")


class TargetVerdict(_Model):
    """A pipeline target judged against a measurement."""

    name: str
    target: float
    measured: float | None
    unit: str
    verdict: Verdict


class Bottleneck(_Model):
    """How often a top-level stage had the largest share of a query, with the seed's priority."""

    stage: str
    queries: int
    fraction: float
    priority: Literal["P0", "P1", "P2"]


class RunSummary(_Model):
    """Everything derived from the query records."""

    n_queries: int
    n_failed: int
    total: StageSummary
    stages: tuple[StageSummary, ...]
    bottlenecks: tuple[Bottleneck, ...]
    targets: tuple[TargetVerdict, ...]


class Hotspot(_Model):
    """A function's cost inside one stage, normalised from any backend."""

    stage: str
    function: str
    file: str
    line: int
    self_value: float
    total_value: float
    unit: Literal["ms", "bytes"]
    samples: int | None
    count: int | None = Field(default=None, description="allocations, for memory backends")
    share: float = Field(description="self_value / the stage's total, 0..1")
    waiting: bool = Field(default=False, description="time spent blocked (I/O, sleep, locks)")
    on_threads: bool = Field(
        default=False,
        description="waiting for the stage's own threads (a future's result, a join): not I/O, the work is elsewhere",
    )
    backend: str

    @property
    def wait_label(self) -> str | None:
        """How reports label a waiting hotspot: "waiting", "waiting on its threads", or None when it computes."""
        if not self.waiting:
            return None
        return "waiting on its threads" if self.on_threads else "waiting"


class ProfileFrame(_Model):
    """A function as a profile's stacks name it: the line is the costliest one seen executing in it."""

    function: str
    file: str
    line: int


class ProfileStack(_Model):
    """One distinct sampled stack of a stage (root first, frames above the stage's trampoline) and its weight."""

    frames: tuple[int, ...] = Field(description="indexes into the stage profile's frames, root first")
    weight: float = Field(description="time (ms) or bytes attributed to this stack")
    waiting: bool = Field(default=False, description="the leaf was blocked (I/O, sleep, locks), not computing")


class StageProfile(_Model):
    """A stage's folded stacks with weights, for its flame graph: bounded (the heaviest stacks, trimmed depth).

    `total` is the stage's whole weight; what the kept stacks leave out of it was in stacks too small
    to draw (`dropped` of them), so a frame's share of `total` is never overstated.
    """

    stage: str
    unit: Literal["ms", "bytes"]
    backend: str
    total: float
    frames: tuple[ProfileFrame, ...]
    stacks: tuple[ProfileStack, ...]
    dropped: int = Field(default=0, description="distinct stacks left out, their weight counted in total only")


class Artifact(_Model):
    """A native output of the profiler, kept beside the run file."""

    kind: str
    path: str
    open_command: str | None


class RunFileBase(_Model):
    """What every version of a run file holds; `schema_version` comes first and decides how the rest is read."""

    schema_version: int
    kind: Literal["run", "leak", "load"] = "run"
    ragperf_version: str
    pipeline: str
    complete: bool
    incomplete_reason: str | None
    notes: tuple[str, ...] = Field(default=(), description="lines the pipeline added with ragperf.note()")
    warnings: tuple[str, ...] = Field(
        default=(),
        description="what ragperf noticed about these measurements: a teardown that raised, a profile missing or "
        "too sparse, a non-finite metric stored as null",
    )
    environment: Environment
    setup: SetupTime | None = None
    config: dict[str, object]
    config_file: str | None
    config_digest: str
    queries_digest: str
    backend: BackendInfo
    warmup: int
    requested: int
    stages: tuple[StageInfo, ...]
    queries: object
    summary: RunSummary
    hotspots: tuple[Hotspot, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    load: LoadReport | None = None
    machine: MachineLoad | None = None  # what the machine was doing while the queries were measured
    leak: LeakReport | None = None  # kind="leak": `ragperf leak`
    compare: CompareSide | None = None  # one side of a `ragperf compare`: its blocks, paired with the other side's
    processes: tuple[ProcessRun, ...] = Field(
        default=(),
        description="--processes K: the measured queries by worker process, in the order they ran (empty: one process)",
    )


class RunFile(RunFileBase):
    """A run file of the current version: the measured queries by column."""

    schema_version: Literal[4] = 4
    queries: QueryTable = Field(description="every measured query, by column")
    memory: MemoryReport | None = None  # `ragperf run --memory`, and every leak file
    profiles: tuple[StageProfile, ...] = Field(default=(), description="per stage, the sampled stacks with weights")

    @property
    def n_queries(self) -> int:
        """How many queries were measured."""
        return self.queries.n
