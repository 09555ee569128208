"""Which top-level stage was each query's largest: one pass over the columns, shared by summary and roadmap."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from ragperf.schema.queries import QueryTable

__all__ = ["largest_stage"]


def largest_stage(table: QueryTable, paths: Sequence[str]) -> NDArray[np.intp]:
    """For each successful query, the index in `paths` of its longest stage; -1 when none of them ran.

    Ties go to the stage first in `paths` (the config's order).
    """
    ok = table.ok
    if not paths or not ok.any():
        return np.full(int(ok.sum()), -1, dtype=np.intp)
    matrix = np.column_stack([table.span(path)[ok] for path in paths])
    ran = ~np.isnan(matrix)
    winner = np.argmax(np.where(ran, matrix, -np.inf), axis=1)
    return np.where(ran.any(axis=1), winner, -1)
