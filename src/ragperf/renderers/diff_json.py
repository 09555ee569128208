"""The JSON view of a diff: the `DiffReport` model itself (`ragperf.schema.diff`), versioned, strict JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragperf.schema.diff import DiffReport

__all__ = ["render_diff_json"]


def render_diff_json(report: DiffReport) -> str:
    """The diff as JSON; a statistic that could not be estimated is null, never NaN."""
    return report.model_dump_json(indent=1) + "\n"
