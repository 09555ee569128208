"""Ranked hits and reciprocal-rank fusion."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["RRF_K", "Hit", "rrf"]

# The constant from Cormack et al. (2009): damps the head so no single list dominates.
RRF_K = 60


class Hit(NamedTuple):
    """A retrieved passage id and the score its retriever gave it (higher is better)."""

    pid: str
    score: float


def rrf(
    rankings: Mapping[str, Iterable[Hit]],
    k: int = RRF_K,
    limit: int = 50,
    weights: Mapping[str, float] | None = None,
) -> list[Hit]:
    """Fuse ranked lists by summing weight / (k + rank); ties keep first-seen order."""
    scores: dict[str, float] = {}
    for name, hits in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        for rank, hit in enumerate(hits, start=1):
            scores[hit.pid] = scores.get(hit.pid, 0.0) + weight / (k + rank)
    fused = sorted(scores.items(), key=lambda item: -item[1])
    return [Hit(pid, score) for pid, score in fused[:limit]]
