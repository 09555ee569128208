"""The one object every stage receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["State"]


@dataclass(slots=True)
class State:
    """What a stage sees: the query, the setup result, and earlier stages' outputs by name.

    `outputs["retrieval"]` of a parallel stage is a dict of its sub-stages' outputs.
    `meta` holds the other fields of a JSONL query record (expected ids and the like).
    """

    query: str
    ctx: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    query_id: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
