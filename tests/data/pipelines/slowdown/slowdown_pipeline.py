"""A pipeline whose rerank stage gets slower when asked: the ground truth for diff pages.

RAGPERF_TEST_SLOWDOWN (default 1) multiplies the work of `score`, rerank's hot function; the other
stages do the same work in both runs.
"""

from __future__ import annotations

import os
import time
from typing import Any

_FACTOR = float(os.environ.get("RAGPERF_TEST_SLOWDOWN", "1"))


def tokenize(text: str, n: int) -> list[str]:
    """CPU work the retrieval stage does whatever the slowdown."""
    words = []
    for i in range(n):
        words.extend(f"{text}{i % 7}".split())
    return words


def score(n: int) -> int:
    """Rerank's hot function: its work grows with the slowdown."""
    total = 0
    for i in range(int(n * _FACTOR)):
        total += i * i % 11
    return total


def normalise(n: int) -> float:
    """A small part of rerank that does not change."""
    return sum(i / (i + 1) for i in range(n))


def retrieve(state: Any) -> list[str]:
    return tokenize(state.query, 20_000)


def rerank(state: Any) -> int:
    normalise(20_000)
    return score(120_000)


def generate(state: Any) -> None:
    time.sleep(0.01)
