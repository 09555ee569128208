"""Reading version-2 run files (memory without peak working memory), upgraded on load.

Only what differs from the current version lives here: the memory section, whose per-stage
"peak" was the process's RSS high-water mark and whose per-request figure was a rise of RSS.
They are kept under their true names; peak working memory was not measured then (None).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragperf.schema.memory import MemoryPoint, MemoryReport, StageMemory, Verdict
from ragperf.schema.queries import QueryTable  # noqa: TC001 - pydantic reads annotations at runtime
from ragperf.schema.run import RunFile, RunFileBase

__all__ = ["MemoryReportV2", "RunFileV2", "upgrade", "upgrade_memory"]

_NOT_MEASURED = "not measured: a run file from an older ragperf"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageMemoryV2(_Model):
    """A version-2 stage memory record."""

    path: str
    n: int
    rss_delta_mean: float
    rss_delta_max: float
    heap_delta_mean: float | None
    heap_delta_max: float | None
    peak_rss: float
    peak_increment: float
    verdict: Verdict


class MemoryReportV2(_Model):
    """A version-2 memory section."""

    rss_source: str | None
    heap_source: str | None
    peak_source: str
    rss_start: float | None
    setup_peak: float | None
    baseline_rss: float | None
    baseline_heap: float | None
    peak_rss: float | None
    peak_where: str | None
    end_rss: float | None
    end_heap: float | None
    total_delta_rss: float | None
    total_delta_heap: float | None
    request_peak_max: float | None
    request_peak_p95: float | None
    probe_us_per_stage: float | None
    stages: tuple[StageMemoryV2, ...]
    series: tuple[MemoryPoint, ...]


class RunFileV2(RunFileBase):
    """A version-2 run file."""

    schema_version: Literal[2] = 2
    queries: QueryTable = Field(description="every measured query, by column")
    memory: MemoryReportV2 | None = None


def upgrade_memory(old: MemoryReportV2 | None) -> MemoryReport | None:
    """The version-2 memory section in the current model; its RSS figures keep their meaning."""
    if old is None:
        return None
    stages = tuple(
        StageMemory(
            path=s.path,
            n=s.n,
            working_peak_mean=None,
            working_peak_max=None,
            rss_delta_mean=s.rss_delta_mean,
            rss_delta_max=s.rss_delta_max,
            heap_delta_mean=s.heap_delta_mean,
            heap_delta_max=s.heap_delta_max,
            rss_rise_max=s.peak_increment,
            rss_high_water=s.peak_rss,
            verdict=s.verdict,
        )
        for s in old.stages
    )
    kept = old.model_dump(exclude={"stages", "series", "request_peak_max", "request_peak_p95"})
    return MemoryReport(
        **kept,
        working_source=_NOT_MEASURED,
        request_working_max=None,
        request_working_mean=None,
        request_working_p95=None,
        request_rss_rise_max=old.request_peak_max,
        stages=stages,
        series=old.series,
    )


def upgrade(old: RunFileV2) -> RunFile:
    """The same run in the current model: only the memory section changes."""
    fields = {name: getattr(old, name) for name in set(RunFileBase.model_fields) - {"schema_version", "queries"}}
    return RunFile(**fields, queries=old.queries, memory=upgrade_memory(old.memory))
