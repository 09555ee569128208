"""Each stage of the demo pipeline on the tiny corpus."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ragperf import State
from ragperf_demo import stages
from ragperf_demo.fusion import Hit
from ragperf_demo.intent import Intent, load_examples
from ragperf_demo.stages import FUSION_WEIGHTS

if TYPE_CHECKING:
    from ragperf_demo.pipeline import DemoContext

QUERY = "How do I parse a JSON string into a Python object?"
RETRIEVERS = {
    "vector": stages.vector_search,
    "bm25": stages.bm25_search,
    "graph_local": stages.graph_local_search,
    "graph_global": stages.graph_global_search,
}


def _retrieved(ctx: DemoContext, query: str = QUERY) -> State:
    state = State(query=query, ctx=ctx)
    state.outputs["retrieval"] = {name: fn(state) for name, fn in RETRIEVERS.items()}
    state.outputs["retrieval"] = stages.fuse(state)
    return state


def test_intent_labels_queries_and_caches_them(demo_ctx: DemoContext) -> None:
    # GIVEN the classifier trained at setup on the shipped examples
    labels = set(load_examples()[1])
    before = demo_ctx.intent.predict.cache_info()
    # WHEN a how-to question and an off-topic one are classified, the first one twice
    first = stages.classify_intent(State(query=QUERY, ctx=demo_ctx))
    again = stages.classify_intent(State(query="  how do I parse a JSON string into a python object? ", ctx=demo_ctx))
    off_topic = stages.classify_intent(State(query="What's the weather like in Paris tomorrow?", ctx=demo_ctx))
    # THEN labels come from the training set, the obvious ones are right, and the repeat was a cache hit
    assert isinstance(first, Intent)
    assert first.label in labels
    assert first.label == "how_to"
    assert off_topic.label == "out_of_scope"
    assert 0.0 < first.confidence <= 1.0
    assert again == first
    assert demo_ctx.intent.predict.cache_info().hits == before.hits + 1


def test_rewrite_expands_abbreviations(demo_ctx: DemoContext) -> None:
    # GIVEN a query full of shorthand
    state = State(query="compile a  regex from an env var", ctx=demo_ctx)
    # WHEN rewritten
    rewritten = stages.rewrite_query(state)
    # THEN the original words lead and the expansions follow
    assert rewritten.startswith("compile a regex from an env var")
    assert "regular expression" in rewritten
    assert "environment" in rewritten


@pytest.mark.parametrize("name", sorted(RETRIEVERS))
def test_each_retriever_returns_ranked_known_passages(demo_ctx: DemoContext, name: str) -> None:
    # GIVEN a JSON question over a corpus that holds json's docs
    state = State(query=QUERY, ctx=demo_ctx)
    # WHEN one retriever runs
    hits = RETRIEVERS[name](state)
    # THEN it returns at most k hits, all real passages, best first, and json is among them
    assert 0 < len(hits) <= demo_ctx.options.retrieval_k
    assert all(h.pid in demo_ctx.passages for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert any(demo_ctx.passages[h.pid].module.startswith("json") for h in hits)


def test_retrievers_use_the_rewrite_when_it_ran(demo_ctx: DemoContext) -> None:
    # GIVEN a state whose rewrite output differs from the query
    state = State(query="zzzz qqqq", ctx=demo_ctx)
    assert stages.bm25_search(state) == []
    state.outputs["rewrite"] = "zzzz qqqq (json decode)"
    # WHEN BM25 runs
    hits = stages.bm25_search(state)
    # THEN it searched the rewritten text
    assert hits


def test_fuse_applies_weighted_rrf_to_the_sub_stage_dict(demo_ctx: DemoContext) -> None:
    # GIVEN retrieval outputs as ragperf hands them to merge: {sub_name: hits}
    state = State(query=QUERY, ctx=demo_ctx)
    state.outputs["retrieval"] = {
        "vector": [Hit("a", 0.9), Hit("b", 0.8)],
        "bm25": [Hit("b", 12.0)],
        "graph_local": None,  # a failed sub-stage
    }
    # WHEN fused
    fused = stages.fuse(state)
    # THEN "b" leads with its weighted reciprocal ranks summed, the failed retriever is ignored
    assert [h.pid for h in fused] == ["b", "a"]
    assert fused[0].score == pytest.approx(FUSION_WEIGHTS["vector"] / 62 + FUSION_WEIGHTS["bm25"] / 61)


def test_rerank_keeps_top_k_of_the_fused_candidates(demo_ctx: DemoContext) -> None:
    # GIVEN fused candidates for the JSON question
    state = _retrieved(demo_ctx)
    candidates = {h.pid for h in state.outputs["retrieval"]}
    # WHEN reranked
    top = stages.rerank(state)
    # THEN top_k of the candidates come back, a json passage first
    assert len(top) == demo_ctx.options.rerank_top_k
    assert {h.pid for h in top} <= candidates
    assert demo_ctx.passages[top[0].pid].module == "json"


def test_rerank_fuses_itself_when_merge_did_not_run(demo_ctx: DemoContext) -> None:
    # GIVEN retrieval output still in its per-retriever dict form
    state = State(query=QUERY, ctx=demo_ctx)
    state.outputs["retrieval"] = {name: fn(state) for name, fn in RETRIEVERS.items()}
    # WHEN reranked
    top = stages.rerank(state)
    # THEN it still returns ranked passages
    assert len(top) == demo_ctx.options.rerank_top_k


def test_generate_streams_an_answer_and_records_metrics(demo_ctx: DemoContext, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN reranked passages, and ragperf.metric observed
    state = _retrieved(demo_ctx)
    state.outputs["rerank"] = stages.rerank(state)
    state.outputs["intent"] = stages.classify_intent(state)
    recorded: dict[str, float] = {}
    monkeypatch.setattr(stages, "metric", recorded.__setitem__)
    # WHEN generation runs
    out = stages.generate(state)
    # THEN an extractive, cited answer came back over the stream
    assert out["answer"]
    assert "[1]" in out["answer"] or "[2]" in out["answer"]
    assert out["citations"] == [h.pid for h in state.outputs["rerank"]]
    assert out["tokens"] > 1
    # AND time to first token (at least the simulated prefill) and token rate were recorded
    assert set(recorded) == {"ttft_ms", "tokens_per_s"}
    assert recorded["ttft_ms"] >= demo_ctx.options.simulator_prefill_ms * 0.9
    assert recorded["tokens_per_s"] > 0
    assert recorded["ttft_ms"] == pytest.approx(out["ttft_ms"], abs=0.01)
