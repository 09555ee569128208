"""A Haystack pipeline, offline: a BM25 retriever component, Haystack's PromptBuilder, a generator of our own."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # before haystack is imported: no posthog events

from fw_bm25 import Index, make_corpus, query_terms
from haystack import Document, Pipeline, component
from haystack.components.builders import PromptBuilder

ROUNDS = 5
TEMPLATE = "Answer from the context.\n{% for d in documents %}{{ d.content }}\n{% endfor %}Question: {{ question }}"


@component
class BM25Retriever:
    """Pure-Python BM25 over the synthetic corpus."""

    def __init__(self, rounds: int = ROUNDS, k: int = 3) -> None:
        self.index = Index(make_corpus())
        self.rounds, self.k = rounds, k

    @component.output_types(documents=list[Document])
    def run(self, query: str) -> dict[str, Any]:
        texts = self.index.top(query_terms(query), self.k, self.rounds)
        return {"documents": [Document(content=text) for text in texts]}


@component
class EchoGenerator:
    """A generator that answers with the prompt's first words: no model, no network."""

    @component.output_types(replies=list[str])
    def run(self, prompt: str) -> dict[str, Any]:
        return {"replies": [" ".join(prompt.split()[:8])]}


def make_pipeline(options: dict[str, Any] | None = None) -> Pipeline:
    """retriever -> prompt_builder -> llm."""
    rounds = int((options or {}).get("rounds", ROUNDS))
    pipeline = Pipeline()
    pipeline.add_component("retriever", BM25Retriever(rounds=rounds))
    pipeline.add_component("prompt_builder", PromptBuilder(TEMPLATE, required_variables=["question"]))
    pipeline.add_component("llm", EchoGenerator())
    pipeline.connect("retriever.documents", "prompt_builder.documents")
    pipeline.connect("prompt_builder.prompt", "llm.prompt")
    return pipeline


def setup() -> Pipeline:
    return make_pipeline()


def rag(state: Any) -> Any:
    """A stage of the user's own, running the pipeline."""
    return state.ctx.run({"retriever": {"query": state.query}, "prompt_builder": {"question": state.query}})
