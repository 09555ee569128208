"""LlamaIndex: a query engine's retriever, synthesizer and LLM as nested spans, in a real worker."""

from __future__ import annotations

import pytest
from fw_helpers import assert_adds_up, assert_hot_in, assert_little_outside, children, hotspots, run_config

pytest.importorskip("llama_index.core", reason="llama-index-core is not installed (pip install 'ragperf[llamaindex]')")


@pytest.mark.slow
@pytest.mark.parametrize(("config", "stage"), [("li_stage", "rag"), ("li_app", "li-app")])
def test_query_engine_components_are_nested_spans_in_order(tmp_path, config, stage):
    # GIVEN the query engine called from a stage of the user's own, or configured as [pipeline] app
    # WHEN it runs in a worker
    run = run_config(tmp_path, config)
    # THEN the engine itself is the stage; its retriever and synthesizer are spans under it, in order
    assert children(run, stage) == [(f"{stage}.BM25Retriever", "retrieval"), (f"{stage}.CompactAndRefine", "other")]
    # AND the synthesizer's own components nest under it, the LLM with kind generation; the two
    # text splitters it makes per query are told apart by a stable suffix
    synth = f"{stage}.CompactAndRefine"
    assert children(run, synth) == [
        (f"{synth}.TokenTextSplitter", "other"),
        (f"{synth}.TokenTextSplitter_2", "other"),
        (f"{synth}.DefaultRefineProgram", "other"),
    ]
    assert children(run, f"{synth}.DefaultRefineProgram") == [(f"{synth}.DefaultRefineProgram.MockLLM", "generation")]
    # AND the stage's time is its components' time, within a few percent
    assert_adds_up(run, stage)


@pytest.mark.slow
def test_pyspy_puts_the_scoring_in_the_retriever(tmp_path):
    # GIVEN py-spy WHEN the query engine runs as [pipeline] app
    run = run_config(tmp_path, "li_app", "py-spy")
    # THEN the BM25 scoring function ranks first in the retriever component, with >= 90% of its samples
    assert_hot_in(run, "li-app.BM25Retriever")
    assert_little_outside(run)


@pytest.mark.slow
def test_memray_puts_the_scoring_allocations_in_the_retriever(tmp_path):
    # GIVEN memray WHEN the query engine runs from the user's stage
    run = run_config(tmp_path, "li_stage", "memray")
    # THEN the scoring function is the retriever component's top allocator
    assert_hot_in(run, "rag.BM25Retriever")
    assert hotspots(run, "rag.BM25Retriever")[0].unit == "bytes"
