"""A small pipeline with known character per stage, to produce the saved run files the renderer tests read.

Regenerate all of them: python tests/data/runs/rich/generate.py
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ragperf


def setup(options: dict[str, Any]) -> dict[str, Any]:
    """`leak_kb`: bytes kept forever by each rerank call (0: no leak), for the leak file."""
    return {"leak_kb": int(options.get("leak_kb", 0)), "kept": []}


def _spin(ms: float) -> None:
    # Busy-wait: CPU time a profiler sees as computing.
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def _jitter(state: ragperf.State, base: float, spread: float) -> float:
    # Deterministic per query, so regenerated files keep the same shape.
    return base + spread * (sum(map(ord, state.query)) % 7) / 6


def classify_intent(state: ragperf.State) -> str:
    """CPU: a small scoring loop."""
    _spin(_jitter(state, 1.0, 1.0))
    return "general"


def vector_search(state: ragperf.State) -> list[str]:
    """I/O: waits as on a vector database call."""
    time.sleep(_jitter(state, 0.006, 0.006))
    return ["a", "b"]


def bm25_search(state: ragperf.State) -> list[str]:
    """CPU: scores in Python."""
    _spin(_jitter(state, 2.0, 2.0))
    return ["b", "c"]


def rerank(state: ragperf.State) -> list[str]:
    """CPU: a cross-encoder stand-in, slower on some queries."""
    _spin(_jitter(state, 3.0, 6.0))
    if state.ctx["leak_kb"]:
        state.ctx["kept"].append(bytearray(state.ctx["leak_kb"] * 1024))  # a cache that is never evicted
    return sorted(state.outputs["retrieval"]["vector"] + state.outputs["retrieval"]["bm25"])


def generate(state: ragperf.State) -> str:
    """I/O: waits as on an LLM server."""
    time.sleep(_jitter(state, 0.010, 0.020))
    return "answer"
