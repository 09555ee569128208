"""LangChain's canonical RAG chain, offline: a BM25 retriever in a RunnableParallel, a prompt, a fake chat model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fw_bm25 import Index, make_corpus, query_terms
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnablePassthrough

if TYPE_CHECKING:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun

ROUNDS = 5


class BM25Retriever(BaseRetriever):
    """Pure-Python BM25 over the synthetic corpus."""

    index: Any
    k: int = 3
    rounds: int = ROUNDS

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=text) for text in self.index.top(query_terms(query), self.k, self.rounds)]


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(doc.page_content for doc in docs)


def make_chain(options: dict[str, Any] | None = None) -> Runnable[str, str]:
    """The chain: {context: retriever | format_docs, question: passthrough} | prompt | llm | parser."""
    rounds = int((options or {}).get("rounds", ROUNDS))
    retriever = BM25Retriever(index=Index(make_corpus()), rounds=rounds)
    prompt = ChatPromptTemplate.from_messages(
        [("human", "Answer from the context.\n{context}\n\nQuestion: {question}")]
    )
    llm = FakeListChatModel(responses=["The documents say it is w1.", "It is w2."])
    return {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


def setup() -> Runnable[str, str]:
    return make_chain()


def rag(state: Any) -> str:
    """A stage of the user's own, calling the chain."""
    return state.ctx.invoke(state.query)
