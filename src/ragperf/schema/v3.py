"""Reading version-3 run files, upgraded on load.

Version 4 only added optional fields: `processes` (`ragperf run --processes`), the CPUs of a compare
(`compare.cpus`) and how working memory was measured (`memory.working_method`). A version-3 file is a
version-4 file without them.
"""

from __future__ import annotations

from typing import Literal

from ragperf.schema.run import RunFile

__all__ = ["RunFileV3", "upgrade"]


class RunFileV3(RunFile):
    """A version-3 run file: the current model, under its old version number."""

    schema_version: Literal[3] = 3  # type: ignore[assignment]


def upgrade(old: RunFileV3) -> RunFile:
    """The same run in the current model."""
    return RunFile(**{name: getattr(old, name) for name in RunFile.model_fields if name != "schema_version"})
