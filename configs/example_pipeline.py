"""A minimal pipeline of your own, as a template: plain functions that take the state.

Real (small) work in each stage: a keyword intent rule, two retrievers over a tiny in-memory
corpus run in parallel, a scoring rerank, and an async "generation" that assembles an answer.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import ragperf

CORPUS = {
    "p1": "ragperf times every stage of a retrieval-augmented generation pipeline",
    "p2": "pyinstrument is a statistical profiler that records the call stack",
    "p3": "memray tracks every allocation made by a Python program",
    "p4": "py-spy samples a running Python process from outside without changing it",
    "p5": "BM25 ranks passages by term frequency and inverse document frequency",
    "p6": "reciprocal rank fusion merges ranked lists from several retrievers",
}
_WORD = re.compile(r"\w+")


def setup(options: dict[str, Any]) -> dict[str, Any]:
    """Tokenise the corpus once; `options` is the config's [pipeline.options] table."""
    tokens = {pid: Counter(_WORD.findall(text.lower())) for pid, text in CORPUS.items()}
    return {"tokens": tokens, "top_k": int(options.get("top_k", 3))}


def classify_intent(state: ragperf.State) -> str:
    """A keyword rule: questions about memory, speed, or anything else."""
    words = set(_WORD.findall(state.query.lower()))
    if words & {"memory", "allocation", "leak"}:
        return "memory"
    return "speed" if words & {"slow", "fast", "latency", "profiler"} else "general"


def keyword_search(state: ragperf.State) -> list[str]:
    """Passages sharing the most words with the query."""
    query = Counter(_WORD.findall(state.query.lower()))
    scores = {pid: sum((query & toks).values()) for pid, toks in state.ctx["tokens"].items()}
    return sorted(scores, key=lambda pid: -scores[pid])[: state.ctx["top_k"]]


def prefix_search(state: ragperf.State) -> list[str]:
    """Passages containing a word that starts like a query word (a crude fuzzy match)."""
    stems = {w[:4] for w in _WORD.findall(state.query.lower()) if len(w) > 3}
    hits = [pid for pid, toks in state.ctx["tokens"].items() if any(t[:4] in stems for t in toks)]
    return hits[: state.ctx["top_k"]]


def fuse(state: ragperf.State) -> list[str]:
    """Reciprocal-rank fusion of the retrievers' lists."""
    scores: Counter[str] = Counter()
    for ranked in state.outputs["retrieval"].values():
        for rank, pid in enumerate(ranked):
            scores[pid] += 1.0 / (60 + rank)
    return [pid for pid, _ in scores.most_common()]


def rerank(state: ragperf.State) -> list[str]:
    """Score each candidate by query-term coverage, with a marked span for the scoring loop."""
    query = set(_WORD.findall(state.query.lower()))
    with ragperf.stage("score"):
        scored = [(len(query & set(state.ctx["tokens"][pid])), pid) for pid in state.outputs["retrieval"]]
    return [pid for _, pid in sorted(scored, reverse=True)]


async def generate(state: ragperf.State) -> str:
    """Assemble an answer from the best passage (async, as an LLM client would be)."""
    await asyncio.sleep(0)  # yield to the loop once, as a real client's first await would
    best = state.outputs["rerank"][0] if state.outputs["rerank"] else None
    answer = CORPUS[best] if best else "I don't know."
    ragperf.metric("answer_chars", len(answer))
    return answer
