"""ragperf's built-in demo RAG pipeline over the Python standard library's own docstrings.

Stages (`ragperf_demo.stages`, config `demo.toml` in this package):

1. intent: TF-IDF + logistic regression trained at setup on data/intents.jsonl, LRU-cached.
2. rewrite: abbreviation/synonym expansion from data/synonyms.json (off in the config).
3. retrieval, four parallel sub-stages fused by reciprocal rank (`fuse`): dense vectors in
   Qdrant local mode (LSA embeddings, or MiniLM with ``embedder = "minilm"``), BM25 (bm25s),
   and local/global search over an entity graph of modules, classes and functions (networkx).
4. rerank: pure-Python feature scoring (coverage, edit distance, proximity) plus MMR.
5. generation: Ollama's streaming /api/chat at $OLLAMA_HOST, else the bundled Ollama-API
   latency simulator (`python -m ragperf_demo.simulator`) started as a child process.

Indexes are cached under $RAGPERF_DEMO_CACHE, else $XDG_CACHE_HOME/ragperf-demo, else
~/.cache/ragperf-demo. `python -m ragperf_demo.evaluate` prints recall and stage timings.
"""

from __future__ import annotations

__all__: list[str] = []
