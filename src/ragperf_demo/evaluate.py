"""Retrieval quality and stage timings of the demo, without ragperf's runner.

``python -m ragperf_demo.evaluate [--limit N] [--generate] [--rewrite] [--embedder minilm]`` runs every shipped
query with a known passage through intent, the four retrievers (on threads, as ragperf's
parallel stage does), fusion and rerank, then prints recall@10 per retriever and fused,
hit@k after rerank, and per-stage latency percentiles.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ragperf import State
from ragperf_demo import pipeline, stages
from ragperf_demo.queries import load_queries

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ragperf_demo.fusion import Hit
    from ragperf_demo.pipeline import DemoContext

__all__ = ["evaluate", "hit", "main"]

SUBSTAGES: dict[str, Callable[[State], list[Hit]]] = {
    "vector": stages.vector_search,
    "bm25": stages.bm25_search,
    "graph_local": stages.graph_local_search,
    "graph_global": stages.graph_global_search,
}


def hit(expected: str, hits: Sequence[Hit], k: int) -> bool:
    """Whether any of the first k hits is a passage of the expected entity (any chunk)."""
    return any(h.pid == expected or h.pid.split("#", 1)[0] == expected for h in hits[:k])


def _timed(fn: Callable[[State], Any], state: State, timings: dict[str, list[float]], name: str) -> Any:
    start = time.perf_counter()
    out = fn(state)
    timings.setdefault(name, []).append((time.perf_counter() - start) * 1000.0)
    return out


def evaluate(
    ctx: DemoContext, records: Sequence[dict[str, Any]], generate: bool = False, rewrite: bool = False
) -> dict[str, Any]:
    """Recall per retriever and after fusion/rerank, plus stage latencies in ms."""
    timings: dict[str, list[float]] = {}
    found: dict[str, int] = {}
    judged = 0
    with ThreadPoolExecutor(max_workers=len(SUBSTAGES), thread_name_prefix="retrieval") as pool:
        for rec in records:
            state = State(query=rec["query"], ctx=ctx, query_id=rec.get("id", ""))
            state.outputs["intent"] = _timed(stages.classify_intent, state, timings, "intent")
            if rewrite:
                state.outputs["rewrite"] = _timed(stages.rewrite_query, state, timings, "rewrite")
            start = time.perf_counter()
            futures = {
                name: pool.submit(_timed, fn, state, timings, f"retrieval.{name}") for name, fn in SUBSTAGES.items()
            }
            subs = {name: f.result() for name, f in futures.items()}
            state.outputs["retrieval"] = subs
            fused = stages.fuse(state)
            state.outputs["retrieval"] = fused
            timings.setdefault("retrieval", []).append((time.perf_counter() - start) * 1000.0)
            reranked = _timed(stages.rerank, state, timings, "rerank")
            state.outputs["rerank"] = reranked
            if generate:
                _timed(stages.generate, state, timings, "generation")
            expected = rec.get("expected")
            if not expected or expected.split("#", 1)[0] not in ctx.passages:
                continue  # no known answer, or not in this (possibly limited) corpus
            judged += 1
            for name, hits in subs.items():
                found[name] = found.get(name, 0) + hit(expected, hits, 10)
            found["fused@5"] = found.get("fused@5", 0) + hit(expected, fused, 5)
            found["fused@10"] = found.get("fused@10", 0) + hit(expected, fused, 10)
            found["rerank@5"] = found.get("rerank@5", 0) + hit(expected, reranked, 5)
            found["fused@40"] = found.get("fused@40", 0) + hit(expected, fused, 40)
    recall = {name: n / judged if judged else 0.0 for name, n in found.items()}
    latency = {
        name: {
            "p50": statistics.median(values),
            "p95": sorted(values)[max(0, int(len(values) * 0.95) - 1)],
            "mean": statistics.fmean(values),
        }
        for name, values in timings.items()
    }
    return {"judged": judged, "recall": recall, "latency_ms": latency}


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(prog="python -m ragperf_demo.evaluate")
    parser.add_argument("--limit", type=int, default=0, help="corpus_limit (0 = full corpus)")
    parser.add_argument("--generate", action="store_true", help="also run generation (simulator or OLLAMA_HOST)")
    parser.add_argument("--rewrite", action="store_true", help="run the rewrite stage too")
    parser.add_argument("--source", choices=("all", "hand", "docstring"), default="all")
    parser.add_argument("--embedder", choices=("lsa", "minilm"), default="lsa")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    ctx = pipeline.setup({"corpus_limit": ns.limit, "embedder": ns.embedder})
    print(f"setup {time.perf_counter() - start:.1f}s {ctx.timings_s}")
    records = [r for r in load_queries() if ns.source == "all" or r.get("source") == ns.source]
    try:
        report = evaluate(ctx, records, generate=ns.generate, rewrite=ns.rewrite)
    finally:
        pipeline.teardown(ctx)
    print(f"queries with a known passage in the corpus: {report['judged']} of {len(records)}")
    for name, value in report["recall"].items():
        print(f"  recall {name:<14} {value:.3f}")
    for name, lat in report["latency_ms"].items():
        print(f"  {name:<24} p50 {lat['p50']:7.2f} ms   p95 {lat['p95']:7.2f} ms   mean {lat['mean']:7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
