"""Reading version-1 run files (one object per query), upgraded on load to the current model.

Only what differs from the current version lives here: the per-query records (the memory
section reads as version 2's). Everything a
version-1 file holds besides them reads with the current models unchanged.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ragperf.schema.queries import QueryRecord, QueryTable
from ragperf.schema.run import RunFile, RunFileBase
from ragperf.schema.v2 import MemoryReportV2, upgrade_memory

__all__ = ["RunFileV1", "upgrade"]


class RunFileV1(RunFileBase):
    """A version-1 run file: `queries` is a list of per-query records."""

    schema_version: Literal[1] = 1
    queries: tuple[QueryRecord, ...] = Field(description="one record per measured query")
    memory: MemoryReportV2 | None = None


def upgrade(old: RunFileV1) -> RunFile:
    """The same run in the current model: the records become columns; every other section is kept."""
    kept = set(RunFileBase.model_fields) - {"schema_version", "queries"}
    fields = {name: getattr(old, name) for name in kept}
    return RunFile(**fields, queries=QueryTable.from_records(old.queries), memory=upgrade_memory(old.memory))
