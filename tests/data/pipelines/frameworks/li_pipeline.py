"""A LlamaIndex query engine, offline: a BM25 retriever, the default compact-and-refine synthesizer, MockLLM."""

from __future__ import annotations

from typing import Any

from fw_bm25 import Index, make_corpus, query_terms
from llama_index.core import Settings
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

ROUNDS = 5


class BM25Retriever(BaseRetriever):
    """Pure-Python BM25 over the synthetic corpus."""

    def __init__(self, index: Index, k: int = 3, rounds: int = ROUNDS) -> None:
        super().__init__()
        self._index, self._k, self._rounds = index, k, rounds

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        texts = self._index.top(query_terms(query_bundle.query_str), self._k, self._rounds)
        return [NodeWithScore(node=TextNode(text=text), score=1.0) for text in texts]


def make_engine(options: dict[str, Any] | None = None) -> RetrieverQueryEngine:
    """Retriever, synthesizer and a mock LLM; no model, no network (whitespace tokenizer, no tiktoken)."""
    Settings.tokenizer = str.split
    rounds = int((options or {}).get("rounds", ROUNDS))
    retriever = BM25Retriever(Index(make_corpus()), rounds=rounds)
    return RetrieverQueryEngine.from_args(retriever, llm=MockLLM(max_tokens=16))


def setup() -> RetrieverQueryEngine:
    return make_engine()


def rag(state: Any) -> str:
    """A stage of the user's own, calling the query engine."""
    return str(state.ctx.query(state.query))
