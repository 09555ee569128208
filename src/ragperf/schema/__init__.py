"""The run file: one versioned Pydantic model tree, loaded by version."""

from __future__ import annotations

from ragperf.schema.io import load_run, save_run
from ragperf.schema.v1 import SCHEMA_VERSION, RunFile

__all__ = ["SCHEMA_VERSION", "RunFile", "load_run", "save_run"]
