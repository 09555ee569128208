"""Setup and teardown of the demo pipeline: build or load the indexes, start the LLM endpoint."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ragperf
from ragperf_demo import cache, ollama_client
from ragperf_demo.corpus import load_corpus
from ragperf_demo.embed import Encoder, LsaEmbedder
from ragperf_demo.graph import EntityGraph, build_graph
from ragperf_demo.index import Bm25Index, VectorIndex
from ragperf_demo.intent import IntentClassifier, examples_text, load_examples, train
from ragperf_demo.options import DemoOptions
from ragperf_demo.rerank import DEBUG_HISTORY, Reranker
from ragperf_demo.rewrite import QueryRewriter, load_synonyms
from ragperf_demo.simulator import SimulatorConfig, SimulatorProcess, SimulatorThread

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy as np
    import numpy.typing as npt

    from ragperf_demo.corpus import Corpus, Passage

__all__ = ["DemoContext", "Indexes", "setup", "teardown"]

log = logging.getLogger("ragperf_demo")


@dataclass(slots=True)
class Indexes:
    """Everything built from the corpus that is worth caching on disk."""

    embedder: LsaEmbedder
    tfidf: Any  # scipy CSR: passages x terms, L2-normalized rows
    vectors: npt.NDArray[np.float32]
    bm25: Bm25Index
    graph: EntityGraph
    idf: dict[str, float]


@dataclass(slots=True)
class DemoContext:
    """`state.ctx` for every stage."""

    options: DemoOptions
    corpus: Corpus
    passages: dict[str, Passage]
    indexes: Indexes
    vector_index: VectorIndex
    dense: Encoder  # encodes queries for vector_index: the LSA embedder or MiniLM
    intent: IntentClassifier
    rewriter: QueryRewriter
    reranker: Reranker
    llm_url: str
    simulator: SimulatorProcess | SimulatorThread | None = None
    timings_s: dict[str, float] = field(default_factory=dict)


def build_indexes(corpus: Corpus, dim: int, dense: Encoder | None = None) -> Indexes:
    """Fit the embedder and build BM25 and the entity graph (the slow part of a cold setup).

    LSA is always fitted (its TF-IDF serves graph search and rerank); `dense`, when given,
    replaces the LSA vectors in Qdrant.
    """
    texts = [p.search_text for p in corpus.passages]
    ids = [p.id for p in corpus.passages]
    embedder = LsaEmbedder(dim=dim)
    tfidf, vectors = embedder.fit(texts)
    if dense is not None:
        vectors = dense.encode(texts)
    bm25 = Bm25Index(ids, texts)
    graph = build_graph(corpus, tfidf)
    return Indexes(embedder, tfidf, vectors, bm25, graph, embedder.idf())


def _cache_folder(opts: DemoOptions) -> Path:
    return Path(opts.cache_dir) if opts.cache_dir else cache.cache_dir()


class _Clock:
    """Step timings for the setup log line."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self._last, 3)
        self._last = now


def _start_llm(opts: DemoOptions) -> tuple[str, SimulatorProcess | SimulatorThread | None]:
    host = opts.ollama_host or os.environ.get("OLLAMA_HOST", "")
    if host:
        url = ollama_client.base_url(host)
        ollama_client.check_model(url, opts.ollama_model)
        log.info("ragperf-demo: generation uses Ollama at %s, model %s", url, opts.ollama_model)
        ragperf.note(f"generation calls Ollama at {url} (model {opts.ollama_model})")
        return url, None
    config = SimulatorConfig(
        model=opts.ollama_model,
        prefill_ms=opts.simulator_prefill_ms,
        prefill_ms_per_token=opts.simulator_prefill_ms_per_token,
        token_ms=opts.simulator_token_ms,
        max_tokens=opts.num_predict,
    )
    sim: SimulatorProcess | SimulatorThread
    sim = SimulatorProcess(config) if opts.simulator == "process" else SimulatorThread(config)
    log.info("ragperf-demo: OLLAMA_HOST not set; started the Ollama-API latency simulator at %s", sim.url)
    ragperf.note(
        f"generation calls the demo's Ollama-API latency simulator at {sim.url}: its waits are simulated LLM "
        "latency, not work (set OLLAMA_HOST to use a real Ollama)"
    )
    return sim.url, sim


def setup(options: Mapping[str, Any]) -> DemoContext:
    """Load or build every index (cached on disk), train the intent model, start the LLM endpoint."""
    opts = DemoOptions.from_mapping(options)
    folder = _cache_folder(opts)
    clock = _Clock()
    corpus = load_corpus(opts.corpus_limit, folder)
    clock.lap("corpus")
    code = cache.source_digest("text", "embed", "index", "graph", "fusion", "pipeline")
    parts = [code, corpus.digest, str(opts.embed_dim), opts.embedder, *cache.library_versions()]
    minilm: Encoder | None = None
    if opts.embedder == "minilm":
        from ragperf_demo import minilm as minilm_module  # torch is heavy: only when asked for

        minilm = minilm_module.MiniLmEmbedder()
        parts += minilm_module.versions()
        clock.lap("model")
    key = cache.fingerprint("indexes", *parts)
    indexes = cache.load_or_build(folder / f"indexes-{key}.pkl", lambda: build_indexes(corpus, opts.embed_dim, minilm))
    clock.lap("indexes")
    examples = hashlib.sha256(examples_text().encode()).hexdigest()
    intent_key = cache.fingerprint("intent", cache.source_digest("intent"), examples, *cache.library_versions())
    model = cache.load_or_build(folder / f"intent-{intent_key}.pkl", lambda: train(*load_examples()))
    clock.lap("intent")
    vector_index = VectorIndex([p.id for p in corpus.passages], indexes.vectors)
    clock.lap("qdrant")
    passages = {p.id: p for p in corpus.passages}
    try:
        llm_url, simulator = _start_llm(opts)
    except BaseException:
        vector_index.close()
        raise
    clock.lap("llm")
    ctx = DemoContext(
        options=opts,
        corpus=corpus,
        passages=passages,
        indexes=indexes,
        vector_index=vector_index,
        dense=minilm or indexes.embedder,
        intent=IntentClassifier(model, opts.intent_cache_size),
        rewriter=QueryRewriter(load_synonyms()),
        reranker=Reranker(passages, indexes.idf, opts.leak_kb_per_query),
        llm_url=llm_url,
        simulator=simulator,
        timings_s=clock.timings,
    )
    log.info(
        "ragperf-demo: %d passages, setup %.1fs %s (cache %s)",
        len(corpus.passages), sum(clock.timings.values()), clock.timings, folder,
    )  # fmt: skip
    return ctx


def teardown(ctx: DemoContext) -> None:
    """Stop the simulator (if started), close Qdrant, drop the leak's debug history."""
    try:
        if ctx.simulator is not None:
            ctx.simulator.stop()
            ctx.simulator = None
    finally:
        ctx.vector_index.close()
        DEBUG_HISTORY.clear()
