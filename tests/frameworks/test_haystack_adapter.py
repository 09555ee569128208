"""Haystack: a pipeline's components as nested spans named as the pipeline names them, in a real worker."""

from __future__ import annotations

import pytest
from fw_helpers import assert_adds_up, assert_hot_in, assert_little_outside, children, hotspots, run_config

pytest.importorskip("haystack", reason="haystack-ai is not installed (pip install 'ragperf[haystack]')")


@pytest.mark.slow
@pytest.mark.parametrize(("config", "stage"), [("hs_stage", "rag"), ("hs_app", "hs-app")])
def test_pipeline_components_are_nested_spans_in_order(tmp_path, config, stage):
    # GIVEN the pipeline run from a stage of the user's own, or configured as [pipeline] app with [pipeline.input]
    # WHEN it runs in a worker
    run = run_config(tmp_path, config)
    # THEN its components are spans directly under the stage, in execution order, with their kinds
    assert children(run, stage) == [
        (f"{stage}.retriever", "retrieval"),
        (f"{stage}.prompt_builder", "other"),
        (f"{stage}.llm", "generation"),
    ]
    # AND the stage's time is its components' time, within a few percent
    assert_adds_up(run, stage)


@pytest.mark.slow
def test_pyspy_puts_the_scoring_in_the_retriever(tmp_path):
    # GIVEN py-spy WHEN the pipeline runs from the user's stage
    run = run_config(tmp_path, "hs_stage", "py-spy")
    # THEN the BM25 scoring function ranks first in the retriever component, with >= 90% of its samples
    assert_hot_in(run, "rag.retriever")
    assert_little_outside(run)


@pytest.mark.slow
def test_memray_puts_the_scoring_allocations_in_the_retriever(tmp_path):
    # GIVEN memray WHEN the pipeline runs as [pipeline] app
    run = run_config(tmp_path, "hs_app", "memray")
    # THEN the scoring function is the retriever component's top allocator
    assert_hot_in(run, "hs-app.retriever")
    assert hotspots(run, "hs-app.retriever")[0].unit == "bytes"
