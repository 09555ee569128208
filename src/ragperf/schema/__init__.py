"""The run file: one versioned Pydantic model tree, loaded by version.

`load_run` and `save_run` load on first use: the models themselves are imported by the
measuring worker (through the backends), which must not pay for the reader's numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragperf.schema.run import SCHEMA_VERSION, RunFile

if TYPE_CHECKING:
    from ragperf.schema.io import load_run, save_run

__all__ = ["SCHEMA_VERSION", "RunFile", "load_run", "save_run"]


def __getattr__(name: str) -> Any:
    if name in {"load_run", "save_run"}:
        from ragperf.schema import io

        return getattr(io, name)
    raise AttributeError(name)
