"""Stack → stage attribution, and each backend's normalisation of real captured native output.

The files under tests/data/backends were captured from real runs of the hot pipeline
(tests/data/pipelines/hot): stage `a` loops in `hot_a`, `b` allocates in `alloc_b`, `c` sleeps in
`wait_c`, and the fan-out's `left` branch loops in `spin_left` on the thread pool.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragperf.backends.attribution import Frame, HotspotBuilder, is_blocking_call, leaf_waits, stage_of_stack
from ragperf.backends.pyinstrument import normalise_session
from ragperf.backends.pyspy import normalise_speedscope
from ragperf.backends.scalene import normalise_profile
from ragperf.schema.run import OUTSIDE_STAGES
from ragperf.testing import check_backend_output
from ragperf.trampoline import stage_filename, stage_of_filename

DATA = Path(__file__).parent.parent / "data"
CAPTURED = DATA / "backends"
HOT_DIR = DATA / "pipelines" / "hot"
# The captures name the pipeline's file by the absolute path it had when they were taken.
CAPTURED_HOT_DIR = "/work/main/tests/data/pipelines/hot"
STAGES = {"a", "b", "c", "fan", "fan.left", "fan.right"}


def _frame(name: str, file: str = "app.py", line: int = 1) -> Frame:
    return Frame(name, file, line)


def _stage(path: str) -> Frame:
    return Frame(f"ragperf_stage__{path}", stage_filename(path), 2)


def _top(builder: HotspotBuilder, stage: str) -> str:
    return next(h.function for h in builder.hotspots() if h.stage == stage)


def _load(name: str) -> str:
    return (CAPTURED / name).read_text(encoding="utf-8").replace(CAPTURED_HOT_DIR, str(HOT_DIR))


def test_innermost_stage_frame_decides_and_no_frame_means_outside():
    # GIVEN a stack with two nested stage frames, and one with none
    nested = [_frame("main"), _stage("retrieval"), _frame("fan"), _stage("retrieval.vector"), _frame("search")]
    bare = [_frame("main"), _frame("setup")]
    # THEN the innermost stage wins, and frames above it are the stage's own
    assert stage_of_stack(nested) == ("retrieval.vector", 4)
    assert stage_of_stack(bare) == (OUTSIDE_STAGES, 0)


def test_builder_self_total_share_and_recursion():
    # GIVEN 3 samples in stage a (2 in hot, 1 in helper called by hot, hot recursing) and 1 outside
    builder = HotspotBuilder("test", "ms")
    builder.add([_frame("main"), _stage("a"), _frame("hot", line=10)], 2.0)
    builder.add([_frame("main"), _stage("a"), _frame("hot", line=11)], 2.0)
    builder.add([_frame("main"), _stage("a"), _frame("hot"), _frame("hot"), _frame("helper")], 1.0)
    builder.add([_frame("main"), _frame("setup")], 4.0)
    spots = {(h.stage, h.function): h for h in builder.hotspots()}
    hot = spots[("a", "hot")]
    # THEN self counts the leaf only, total counts each function once per stack
    assert hot.self_value == 4.0
    assert hot.total_value == 5.0
    assert hot.share == pytest.approx(0.8)
    assert spots[("a", "helper")].share == pytest.approx(0.2)
    # AND the outside sample is kept, under its own name
    assert spots[(OUTSIDE_STAGES, "setup")].self_value == 4.0
    # AND the stage's own frames exclude the harness frames below the trampoline
    assert ("a", "main") not in spots
    assert builder.stage_totals == {"a": 5.0, OUTSIDE_STAGES: 4.0}


def test_waiting_samples_are_split_out_and_labelled():
    # GIVEN one CPU sample and one sample blocked in sleep, in the same function
    builder = HotspotBuilder("test", "ms")
    builder.add([_stage("c"), _frame("fetch"), _frame("sleep", "<built-in>", 0)], 3.0)
    builder.add([_stage("c"), _frame("fetch")], 1.0)
    spots = builder.hotspots()
    # THEN the blocking leaf is labelled waiting, the CPU one is not
    waiting = [h for h in spots if h.waiting and h.self_value > 0]
    assert [h.function for h in waiting] == ["sleep"]
    assert next(h for h in spots if h.function == "fetch" and not h.waiting).self_value == 1.0


def test_blocking_call_detection():
    assert is_blocking_call("sleep")
    assert is_blocking_call("epoll.poll")
    assert is_blocking_call("lock.acquire")
    assert not is_blocking_call("hot_a")
    # A Python leaf whose executing line calls time.sleep is waiting (py-spy without --native)
    assert leaf_waits(Frame("wait_c", str(HOT_DIR / "hot_pipeline.py"), 32))
    assert not leaf_waits(Frame("hot_a", str(HOT_DIR / "hot_pipeline.py"), 15))


def test_pyspy_speedscope_normalisation():
    # GIVEN py-spy's speedscope output of the hot pipeline (every thread, --idle)
    builder = normalise_speedscope(json.loads(_load("hot.speedscope.json")), "py-spy")
    spots = builder.hotspots()
    # THEN every stage's known function is first, the pool branch included, waits labelled
    assert _top(builder, "a") == "hot_a"
    assert _top(builder, "fan.left") == "spin_left"
    assert _top(builder, "c") == "wait_c"
    assert next(h for h in spots if h.stage == "c").waiting
    check_backend_output(spots, [], backend="py-spy", stages=STAGES)


def test_pyinstrument_session_normalisation():
    # GIVEN a saved pyinstrument session of the hot pipeline
    session = json.loads(_load("hot.pyisession"))
    builder = normalise_session(session["frame_records"], session["min_interval"], "pyinstrument")
    spots = builder.hotspots()
    # THEN hot_a leads stage a, and c's sleep shows as the builtin, waiting
    assert _top(builder, "a") == "hot_a"
    c_top = next(h for h in spots if h.stage == "c")
    assert (c_top.function, c_top.waiting) == ("sleep", True)
    # AND pyinstrument's merged records are given back as sample counts (1 ms interval)
    a_top = next(h for h in spots if h.stage == "a")
    assert a_top.samples == pytest.approx(a_top.self_value, rel=0.1)
    check_backend_output(spots, [], backend="pyinstrument", stages=STAGES)


def test_trampoline_file_names_are_read_in_both_spellings():
    # GIVEN a trampoline's file name, as compiled now and as in profiles captured before the rename
    # THEN both name the stage, and a real file or another synthetic name names none
    assert stage_of_filename(stage_filename("fan.left")) == "fan.left"
    assert stage_of_filename("<ragperf-stage:fan.left>") == "fan.left"
    assert stage_of_filename("<exec@app.py:3>") is None
    assert stage_of_filename("/app/ragperf-stage.py") is None


def test_scalene_stacks_attributed_by_their_trampolines():
    # GIVEN scalene's stacks of the hot pipeline: the trampolines on them, on every thread
    profile = normalise_profile(json.loads(_load("hot.scalene.json")), "scalene")
    builder = profile.builder
    # THEN each stage's known function is first, the pool branch included
    assert _top(builder, "a") == "hot_a"
    assert _top(builder, "b") == "alloc_b"
    assert _top(builder, "fan.left") == "spin_left"
    # AND scalene's own threads and the pool's parked workers are left out: nothing outside stages
    assert builder.stage_totals.get(OUTSIDE_STAGES, 0.0) < 0.05 * sum(builder.stage_totals.values())
    # AND a sample is an interval of the profile's elapsed time, counted by the clock thread
    assert profile.passes > 0
    assert sum(builder.stage_samples.values()) >= profile.passes
    assert profile.warnings(100) == []
    check_backend_output(builder.hotspots(), [], backend="scalene", stages=STAGES)


def test_memray_capture_normalisation():
    # GIVEN memray's capture of the hot pipeline's measured queries (20 queries)
    memray = pytest.importorskip("memray")
    from ragperf.backends.memray import normalise_allocations

    reader = memray.FileReader(CAPTURED / "hot.memray.bin")
    try:
        builder, working = normalise_allocations(reader.get_allocation_records(), "memray")
    finally:
        reader.close()
    top = next(h for h in builder.hotspots() if h.stage == "b")
    # THEN alloc_b made stage b's allocations: 400 x 8 buffers of 16 KiB per query
    assert top.function == "alloc_b"
    assert top.count == 20 * 400 * 8
    assert top.self_value >= 20 * 400 * 8 * 16384
    # AND a capture without stage marks has no working peaks to replay
    assert working.stages == {}


def test_waiting_on_own_threads_is_not_io():
    # GIVEN a stage blocked in a future's result (its work on a pool), and one blocked in a socket read
    builder = HotspotBuilder("test", "ms")
    futures = "/usr/lib/python3.11/concurrent/futures/_base.py"
    threading_py = "/usr/lib/python3.11/threading.py"
    builder.add(
        [_stage("fan"), _frame("fan_out"), _frame("result", futures), _frame("wait", threading_py), _frame("acquire")],
        5.0,
    )
    builder.add([_stage("fetch"), _frame("get"), _frame("recv", "<built-in>", 0)], 5.0)
    spots = {h.stage: h for h in builder.hotspots() if h.self_value > 0}
    # THEN both are waiting, only the first on its threads, and the labels say which
    assert spots["fan"].waiting
    assert spots["fan"].on_threads
    assert spots["fan"].wait_label == "waiting on its threads"
    assert spots["fetch"].waiting
    assert not spots["fetch"].on_threads
    assert spots["fetch"].wait_label == "waiting"
    # AND a one-thread backend's warning names the stage that mostly waited on threads it cannot see
    warnings = builder.unseen_thread_warnings()
    assert len(warnings) == 1
    assert "'fan'" in warnings[0]
    assert "py-spy" in warnings[0]


def test_idle_background_threads_are_left_out():
    # GIVEN py-spy --idle samples of a pool thread waiting for its next task, outside any stage
    builder = HotspotBuilder("test", "ms")
    pool = "/usr/lib/python3.11/concurrent/futures/thread.py"
    idle = [_frame("_bootstrap"), _frame("_worker", pool), _frame("get"), _frame("acquire")]
    builder.add(idle, 10.0, background=True)
    builder.add([_stage("a"), _frame("work")], 1.0, background=True)
    # AND the main thread waiting outside stages (an event loop between tasks)
    builder.add([_frame("run_forever"), _frame("select")], 2.0)
    # THEN the idle thread is counted as idle, not as time outside stages; the rest stays
    assert builder.idle_samples == 1
    assert builder.stage_totals == {"a": 1.0, OUTSIDE_STAGES: 2.0}
