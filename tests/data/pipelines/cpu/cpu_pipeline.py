"""A CPU-bound pipeline on one thread, with a nested span: the ground truth for per-stage CPU time.

Every stage computes in pure Python, none waits, so each stage's span time is its CPU time.
`rank` scores inside a nested span (`rank.score`) whose work runs under its trampoline, as a
framework adapter's component would (`ragperf.spans.framed`).
"""

from __future__ import annotations

from typing import Any

import ragperf
from ragperf.spans import framed


def tokenize(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 5
    return total


def embed(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def score(n: int) -> int:
    total = 0
    for i in range(n):
        total ^= i * 3
    return total


def prepare(state: Any) -> int:
    return tokenize(120_000)


def encode(state: Any) -> int:
    return embed(200_000)


def rank(state: Any) -> int:
    with ragperf.stage("score"):
        scored = framed(score)(100_000)
    return scored + tokenize(40_000)
