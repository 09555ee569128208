"""The optimisation roadmap: priorities by queries affected, evidence, and advice chosen by rules in data."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragperf.analysis.roadmap import build_roadmap
from ragperf.errors import ConfigError
from ragperf.report_rules import ReportConfig, Rule, builtin_rules, priority_for
from ragperf.schema import load_run

RUNS = Path(__file__).parents[1] / "data" / "runs"


@pytest.fixture(scope="module")
def rich():
    return load_run(RUNS / "rich_pyinstrument.json")


def test_priority_thresholds_follow_the_seed_and_are_configurable():
    # GIVEN the default thresholds and stricter ones
    default, strict = ReportConfig(), ReportConfig(p0_fraction=0.5, p1_fraction=0.3)
    # THEN the seed's rule holds by default (P0 above 20%, P1 from 10%), and the config moves it
    assert [priority_for(f, default) for f in (0.21, 0.2, 0.1, 0.09)] == ["P0", "P1", "P1", "P2"]
    assert [priority_for(f, strict) for f in (0.45, 0.3, 0.29)] == ["P1", "P1", "P2"]


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="p1_fraction must not exceed p0_fraction"):
        ReportConfig(p0_fraction=0.1, p1_fraction=0.2)


def test_builtin_rules_cover_the_seed_advice_for_every_kind():
    # GIVEN the shipped rules file
    rules = builtin_rules()
    kinds = {kind for rule in rules for kind in rule.kinds}
    # THEN each stage kind of the seed has advice, ids are unique, and the seed's advice is there
    assert {"generation", "retrieval", "rerank", "classification"} <= kinds
    assert len({r.id for r in rules}) == len(rules)
    text = " ".join(r.advice.lower() for r in rules)
    for seed_advice in ("stream", "smaller", "cache", "connection pool", "batch", "candidate", "cache size"):
        assert seed_advice in text


def _largest(run, query):
    return max((query.spans[s.path], s.path) for s in run.stages if s.parent is None and s.path in query.spans)[1]


def test_affected_queries_count_bottlenecks_and_target_misses(rich):
    # GIVEN a run where generation is the largest stage and rerank and retrieval miss their targets
    roadmap = build_roadmap(rich)
    by_stage = {item.stage: item for item in roadmap.items}
    ok = [q for q in rich.queries.records() if q.error is None]
    for stage, item in by_stage.items():
        target = item.evidence.target_ms
        over = sum(1 for q in ok if target is not None and q.spans[stage] > target)
        largest = sum(
            1
            for q in ok
            if max((q.spans[s.path], s.path) for s in rich.stages if s.parent is None and s.path in q.spans)[1] == stage
        )
        # THEN each item's counts match a recount from the raw query records
        assert item.evidence.over_target_queries == over
        assert item.evidence.bottleneck_queries == largest
        assert max(over, largest) <= item.evidence.affected_queries <= over + largest
        assert item.priority == priority_for(item.evidence.affected_queries / len(ok), roadmap.config)
    # AND the items are ordered by priority, then by queries affected
    keys = [(i.priority, -i.evidence.affected_queries) for i in roadmap.items]
    assert keys == sorted(keys)


def test_advice_follows_stage_kind_and_hotspot_character(rich):
    # GIVEN a run profiled with pyinstrument: generation waits (sleep), rerank computes (spin)
    by_stage = {item.stage: item for item in build_roadmap(rich).items}
    generation, rerank = by_stage["generation"], by_stage["rerank"]
    # THEN generation is judged I/O-bound and gets the I/O advice, not the CPU one
    assert generation.evidence.characters == frozenset({"io"})
    ids = {rule.id for rule, _ in generation.advice}
    assert "io-overlap" in ids
    assert "cpu-hotspot" not in ids
    # AND its wait is a sleep in the pipeline's own code, no model client: no advice about a model it does not call
    assert "generation-streaming" not in ids
    # AND rerank is CPU-bound, with its hottest function named in the advice
    assert rerank.evidence.characters == frozenset({"cpu"})
    texts = {rule.id: text for rule, text in rerank.advice}
    assert rerank.evidence.hotspots[0].function in texts["cpu-hotspot"]
    # AND it computes in its own code, not in a model library: it is not told to batch a cross-encoder
    assert "rerank-batching" not in texts
    assert "rerank-candidates" in texts


def _moved(run, stage: str, file: str):
    """The run with a stage's hotspots moved into another file (another package)."""
    spots = tuple(h.model_copy(update={"file": file}) if h.stage == stage else h for h in run.hotspots)
    return run.model_copy(update={"hotspots": spots})


@pytest.mark.parametrize(
    ("stage", "file", "rule"),
    [
        ("generation", "/venv/lib/python3.11/site-packages/openai/_base_client.py", "generation-streaming"),
        ("rerank", "/venv/lib/python3.11/site-packages/torch/nn/modules/module.py", "rerank-batching"),
    ],
)
def test_model_advice_follows_the_library_the_stage_runs_in(rich, stage, file, rule):
    # GIVEN the same run, its stage's hottest functions in a model library
    item = next(i for i in build_roadmap(_moved(rich, stage, file)).items if i.stage == stage)
    # THEN the advice about that model applies
    assert rule in {r.id for r, _ in item.advice}


def test_lexical_search_is_not_told_to_use_an_ann_index():
    rule = next(r for r in builtin_rules() if r.id == "retrieval-cpu")
    assert rule.applies("retrieval", frozenset({"cpu"}), 0.5, frozenset({"numpy"}))
    assert not rule.applies("retrieval", frozenset({"cpu"}), 0.5, frozenset({"bm25s", "numpy"}))
    assert rule.applies("retrieval", frozenset({"cpu"}), 0.5, None)  # no profile: the generic advice stands


def test_a_stage_well_within_its_target_is_not_must_fix(rich):
    # GIVEN generation, the largest stage in nearly every query, under a target far above its p95
    summaries = tuple(
        s.model_copy(update={"target_ms": 4 * (s.p95 or 0.0), "verdict": "PASS"}) if s.path == "generation" else s
        for s in rich.summary.stages
    )
    run = rich.model_copy(update={"summary": rich.summary.model_copy(update={"stages": summaries})})
    item = next(i for i in build_roadmap(run).items if i.stage == "generation")
    # THEN being the largest alone makes it at most P2: it is not what breaks the pipeline's targets
    assert item.evidence.fraction > 0.9
    assert item.priority == "P2"


def test_a_stage_without_function_level_data_is_told_how_to_get_it():
    # GIVEN a run measured by the timer backend (no hotspots)
    run = load_run(RUNS / "example_timer.json")
    items = build_roadmap(run).items
    # THEN its items are of unknown character, advised to profile
    assert items
    assert all(item.evidence.characters == frozenset({"unknown"}) for item in items)
    assert all("unknown-profile" in {rule.id for rule, _ in item.advice} for item in items)


def test_a_config_adds_its_own_rules_and_may_drop_the_builtin_ones(rich):
    # GIVEN a rule of the user's own, with a placeholder and braces of its own
    own = Rule(id="ours", kinds=["generation"], title="Use our gateway", advice='Route {stage} via {"gw": 1}.')
    # WHEN the roadmap is built with it, with and without the built-in rules
    with_builtin = build_roadmap(rich, ReportConfig(rules=(own,)))
    only_own = build_roadmap(rich, ReportConfig(rules=(own,), builtin_rules=False))
    # THEN it is applied, its placeholder filled and its other braces kept as written
    generation = next(i for i in with_builtin.items if i.stage == "generation")
    assert ("ours", 'Route generation via {"gw": 1}.') in [(r.id, t) for r, t in generation.advice]
    assert len(generation.advice) > 1
    assert all(
        [r.id for r, _ in item.advice] == (["ours"] if item.kind == "generation" else []) for item in only_own.items
    )


def test_the_runs_report_table_is_read_and_checked(rich):
    # GIVEN a run file whose config carries a [report] table
    config = dict(rich.config, report={"p0_fraction": 0.99, "p1_fraction": 0.5})
    custom = rich.model_copy(update={"config": config})
    # THEN the roadmap uses its thresholds
    roadmap = build_roadmap(custom)
    assert roadmap.config.p0_fraction == 0.99
    assert all(item.priority != "P0" for item in roadmap.items)
    # AND a wrong table is a one-line config error naming the key
    broken = rich.model_copy(update={"config": dict(rich.config, report={"p0_fraction": "lots"})})
    with pytest.raises(ConfigError, match=r"report\.p0_fraction"):
        build_roadmap(broken)
