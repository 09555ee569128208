"""The demo's stages: each takes ragperf's `State` and returns its output.

intent -> rewrite (off by default) -> retrieval (vector | bm25 | graph_local | graph_global,
fused by `fuse`) -> rerank -> generate. `state.ctx` is the `DemoContext` from `pipeline.setup`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ragperf import metric, stage
from ragperf_demo import ollama_client
from ragperf_demo.fusion import Hit, rrf
from ragperf_demo.prompt import build_messages

if TYPE_CHECKING:
    from ragperf import State
    from ragperf_demo.intent import Intent
    from ragperf_demo.pipeline import DemoContext

__all__ = [
    "bm25_search",
    "classify_intent",
    "fuse",
    "generate",
    "graph_global_search",
    "graph_local_search",
    "rerank",
    "rewrite_query",
    "vector_search",
]

RETRIEVERS = ("vector", "bm25", "graph_local", "graph_global")
# BM25 is the strongest single retriever on this corpus (see `python -m ragperf_demo.evaluate`).
FUSION_WEIGHTS = {"vector": 1.0, "bm25": 2.0, "graph_local": 1.0, "graph_global": 1.0}


def _ctx(state: State) -> DemoContext:
    ctx: DemoContext = state.ctx
    return ctx


def _query(state: State) -> str:
    """The rewritten query when the rewrite stage ran, else the user's."""
    rewritten = state.outputs.get("rewrite")
    return rewritten if isinstance(rewritten, str) and rewritten else state.query


def classify_intent(state: State) -> Intent:
    """Intent label and confidence (cached per normalized query)."""
    return _ctx(state).intent(state.query)


def rewrite_query(state: State) -> str:
    """The query with abbreviations and synonyms expanded."""
    return _ctx(state).rewriter(state.query)


def vector_search(state: State) -> list[Hit]:
    """Dense retrieval: the query's embedding (LSA, or MiniLM with embedder="minilm"), cosine search in Qdrant."""
    ctx = _ctx(state)
    return _qdrant(ctx, _embed(ctx, _query(state)))


# Decorated, not `with` blocks: a decorated function runs under its span's frame, so profilers
# attribute its samples to `retrieval.vector.embed` and `.qdrant` rather than to the stage.
@stage("embed", kind="embedding")
def _embed(ctx: DemoContext, query: str) -> Any:
    return ctx.dense.encode([query])[0]


@stage("qdrant", kind="retrieval")
def _qdrant(ctx: DemoContext, vector: Any) -> list[Hit]:
    return ctx.vector_index.search(vector, ctx.options.retrieval_k)


def bm25_search(state: State) -> list[Hit]:
    """Sparse retrieval: BM25 over the shared tokenizer's terms."""
    ctx = _ctx(state)
    return ctx.indexes.bm25.search(_query(state), ctx.options.retrieval_k)


def graph_local_search(state: State) -> list[Hit]:
    """Entity linking plus neighbourhood expansion in the entity graph."""
    ctx = _ctx(state)
    return ctx.indexes.graph.local_search(_query(state), ctx.options.retrieval_k)


def graph_global_search(state: State) -> list[Hit]:
    """Best-matching graph communities, then their most relevant and central passages."""
    ctx = _ctx(state)
    query_vec = ctx.indexes.embedder.sparse([_query(state)])
    return ctx.indexes.graph.global_search(query_vec, ctx.indexes.tfidf, ctx.options.retrieval_k)


def _rankings(value: Any) -> dict[str, list[Hit]]:
    """Sub-stage outputs that are hit lists; failed or missing retrievers are left out."""
    if not isinstance(value, dict):
        return {}
    return {name: [Hit(*h) for h in hits] for name, hits in value.items() if isinstance(hits, list)}


def fuse(state: State) -> list[Hit]:
    """Reciprocal-rank fusion of the retrieval sub-stages (the parallel stage's merge)."""
    return rrf(_rankings(state.outputs.get("retrieval")), limit=_ctx(state).options.fused_k, weights=FUSION_WEIGHTS)


def _candidates(state: State) -> list[Hit]:
    value = state.outputs.get("retrieval")
    if isinstance(value, dict):  # merge did not run: fuse here so the pipeline still works
        return rrf(_rankings(value), limit=_ctx(state).options.fused_k, weights=FUSION_WEIGHTS)
    return [Hit(*h) for h in value or []]


def rerank(state: State) -> list[Hit]:
    """Pure-Python feature scoring of the fused candidates; keeps the best few."""
    ctx = _ctx(state)
    return ctx.reranker(_query(state), _candidates(state), ctx.options.rerank_top_k)


def generate(state: State) -> dict[str, Any]:
    """Stream an answer from Ollama's /api/chat (or the simulator); records ttft_ms and tokens_per_s."""
    ctx = _ctx(state)
    hits = state.outputs.get("rerank")
    ranked = [Hit(*h) for h in hits] if hits is not None else _candidates(state)[: ctx.options.rerank_top_k]
    passages = [ctx.passages[h.pid] for h in ranked if h.pid in ctx.passages]
    intent = state.outputs.get("intent")
    label = str(intent[0]) if isinstance(intent, tuple) and intent else ""
    messages = build_messages(state.query, passages, label)
    result = ollama_client.chat(
        ctx.llm_url,
        ctx.options.ollama_model,
        messages,
        {"num_predict": ctx.options.num_predict, "temperature": 0},
        timeout=ctx.options.request_timeout_s,
    )
    metric("ttft_ms", result.ttft_ms)
    metric("tokens_per_s", result.tokens_per_s)
    return {
        "answer": result.content,
        "citations": [p.id for p in passages],
        "model": result.model,
        "tokens": result.tokens,
        "prompt_tokens": result.prompt_tokens,
        "ttft_ms": round(result.ttft_ms, 3),
        "tokens_per_s": round(result.tokens_per_s, 3),
    }
