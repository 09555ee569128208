"""Folded stacks in the run file (bounded) and the flame graphs drawn from them."""

from __future__ import annotations

import pytest

from ragperf.backends.attribution import Frame, HotspotBuilder
from ragperf.backends.stacks import MAX_DEPTH, MAX_STACKS
from ragperf.renderers.flame import differential, hottest_path, overview, stage_flames, tree

STAGE = Frame("ragperf_stage__rank", "<ragperf-stage:rank>", 1)


def _builder() -> HotspotBuilder:
    builder = HotspotBuilder("test", "ms")
    caller = Frame("rank", "/p/rank.py", 3)
    builder.add([STAGE, caller, Frame("score", "/p/rank.py", 12)], 70.0)
    builder.add([STAGE, caller, Frame("score", "/p/rank.py", 13)], 5.0)
    builder.add([STAGE, caller, Frame("sleep", "<built-in>", 0)], 20.0, waiting=True)
    builder.add([STAGE], 5.0)  # the stage's own time, in no function
    return builder


def test_a_stage_profile_keeps_its_stacks_weights_and_waits():
    # GIVEN stacks of one stage WHEN folded for the run file
    (profile,) = _builder().profiles()
    # THEN the stage's total counts every stack, frames are folded by function, the waiting stack is marked
    assert profile.stage == "rank"
    assert profile.total == pytest.approx(100.0)
    names = [f.function for f in profile.frames]
    assert names.count("score") == 1
    score = profile.frames[names.index("score")]
    assert score.line == 12  # its costliest line
    assert sorted((s.weight, s.waiting) for s in profile.stacks) == [(20.0, True), (75.0, False)]


def test_the_run_file_keeps_a_bounded_number_of_stacks_and_frames():
    # GIVEN thousands of distinct, deep stacks
    builder = HotspotBuilder("test", "ms")
    for i in range(MAX_STACKS * 4):
        builder.add([STAGE, *(Frame(f"f{i}_{d}", "/p/x.py", d) for d in range(MAX_DEPTH + 10))], 1.0 + i % 3)
    (profile,) = builder.profiles()
    # THEN the heaviest are kept, each trimmed in depth, and the rest counted in the total only
    assert len(profile.stacks) == MAX_STACKS
    assert max(len(s.frames) for s in profile.stacks) == MAX_DEPTH
    assert profile.dropped == MAX_STACKS * 3
    assert profile.total > sum(s.weight for s in profile.stacks)
    assert min(s.weight for s in profile.stacks) == 3.0


def test_the_flame_tree_and_its_hottest_path():
    (profile,) = _builder().profiles()
    root = tree(profile)
    # THEN the root weighs the whole stage, the caller what its stacks weigh, the callee sorted heaviest first
    assert root.weight == pytest.approx(100.0)
    (rank,) = root.children
    assert rank.weight == pytest.approx(95.0)
    assert [c.function for c in rank.children] == ["score", "sleep"]
    assert rank.children[1].waiting
    (flame,) = stage_flames([profile])
    path = hottest_path(flame)
    assert [s.node.function for s in path] == ["rank", "score"]
    assert path[1].share == pytest.approx(0.75)
    assert path[1].others == 1


def test_a_differential_flame_compares_time_per_query():
    # GIVEN a baseline of 10 queries and a new run of 20 that spends 4x the time in score
    (old,) = _builder().profiles()
    builder = _builder()
    builder.add([STAGE, Frame("rank", "/p/rank.py", 3), Frame("score", "/p/rank.py", 12)], 525.0)
    (new,) = builder.profiles()
    flame = differential(old, new, 10, 20)
    score = flame.root.children[0].children[0]
    # THEN each frame holds both runs' time per query
    assert score.function == "score"
    assert score.weight == pytest.approx(600.0 / 20)
    assert score.before == pytest.approx(75.0 / 10)


def test_the_overview_puts_every_stage_side_by_side():
    # GIVEN two stages' stacks
    builder = _builder()
    other = Frame("ragperf_stage__fetch", "<ragperf-stage:fetch>", 1)
    builder.add([other, Frame("get", "/p/fetch.py", 5)], 300.0)
    whole = overview(builder.profiles())
    # THEN one root weighs both, each stage a child by its weight, its own tree below it
    assert whole is not None
    assert whole.root.weight == pytest.approx(400.0)
    assert [(c.function, c.weight) for c in whole.root.children] == [("fetch", 300.0), ("rank", 100.0)]
    assert whole.root.children[1].children[0].function == "rank"
    # AND one stage alone needs no overview
    assert overview(_builder().profiles()) is None
