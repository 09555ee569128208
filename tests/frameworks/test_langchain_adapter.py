"""LangChain: a chain's runnables, retriever and chat model as nested spans, in a real worker.

The chain is LangChain's canonical RAG shape: `{"context": retriever | format_docs, "question":
RunnablePassthrough()} | prompt | llm | parser`, so the retriever runs on RunnableParallel's
thread pool.
"""

from __future__ import annotations

import pytest
from fw_helpers import assert_adds_up, assert_hot_in, assert_little_outside, children, hotspots, run_config

pytest.importorskip("langchain_core", reason="langchain-core is not installed (pip install 'ragperf[langchain]')")

PARALLEL = "RunnableParallel_context_question"


@pytest.mark.slow
@pytest.mark.parametrize(("config", "stage"), [("lc_stage", "rag"), ("lc_app", "lc-app")])
def test_chain_components_are_nested_spans_in_order(tmp_path, config, stage):
    # GIVEN the chain called from a stage of the user's own, or configured as [pipeline] app
    # WHEN it runs in a worker
    run = run_config(tmp_path, config)
    # THEN its components are spans under the stage, in execution order, with their kinds;
    # the default-named RunnableSequence is no span, a parallel branch is named by its key
    assert children(run, stage) == [
        (f"{stage}.{PARALLEL}", "other"),
        (f"{stage}.ChatPromptTemplate", "other"),
        (f"{stage}.FakeListChatModel", "generation"),
        (f"{stage}.StrOutputParser", "other"),
    ]
    parallel = f"{stage}.{PARALLEL}"
    assert sorted(children(run, parallel)) == [(f"{parallel}.context", "other"), (f"{parallel}.question", "other")]
    assert children(run, f"{parallel}.context") == [
        (f"{parallel}.context.BM25Retriever", "retrieval"),
        (f"{parallel}.context.format_docs", "other"),
    ]
    # AND the stage's time is its sequential components' time, within a few percent
    assert_adds_up(run, stage)
    assert_adds_up(run, f"{parallel}.context")


@pytest.mark.slow
def test_pyspy_puts_the_scoring_in_the_retriever_on_the_thread_pool(tmp_path):
    # GIVEN py-spy, and the retriever running on RunnableParallel's thread pool WHEN the chain runs
    run = run_config(tmp_path, "lc_stage", "py-spy")
    # THEN the BM25 scoring function ranks first in the retriever component, with >= 90% of its samples
    assert_hot_in(run, f"rag.{PARALLEL}.context.BM25Retriever")
    # AND hardly any CPU sample is outside the stages
    assert_little_outside(run)


@pytest.mark.slow
def test_memray_puts_the_scoring_allocations_in_the_retriever(tmp_path):
    # GIVEN memray WHEN the chain runs as [pipeline] app
    run = run_config(tmp_path, "lc_app", "memray")
    # THEN the scoring function is the retriever component's top allocator
    retriever = f"lc-app.{PARALLEL}.context.BM25Retriever"
    assert_hot_in(run, retriever)
    assert hotspots(run, retriever)[0].unit == "bytes"
