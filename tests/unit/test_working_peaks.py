"""Replaying an allocation record stream into working peaks: stages, sub-spans, queries."""

from __future__ import annotations

from ragperf.memory.marks import AllocationMarks, mark_of_frame
from ragperf.memory.peaks import PeakReplay

MB = 1 << 20


def test_a_stage_that_makes_and_frees_memory_peaks_at_what_it_held() -> None:
    # GIVEN memory from before the stage, and a stage that allocates 3 MB, frees 2, allocates 1
    replay = PeakReplay("test")
    replay.allocate(0x10, 5 * MB, ())
    replay.mark("query", "")
    replay.mark("enter", "a")
    replay.allocate(0x20, 2 * MB, ())
    replay.allocate(0x30, 1 * MB, ())
    replay.free(0x20)
    replay.allocate(0x40, 1 * MB, ())
    replay.free(0x999)  # a block from before recording: ignored
    replay.mark("exit", "a")
    # WHEN a second stage frees what the first kept and the older block
    replay.mark("enter", "b")
    replay.free(0x30)
    replay.free(0x40)
    replay.free(0x10)
    replay.mark("exit", "b")
    peaks = replay.result()
    # THEN the first stage peaked 3 MB above its start, the second not at all, the query 3 MB
    assert peaks.stages == {"a": [3 * MB], "b": [0]}
    assert peaks.requests == [3 * MB]


def test_each_execution_and_each_query_has_its_own_peak() -> None:
    # GIVEN two queries in which stage a holds 1 MB then 4 MB, each freed by the next stage
    replay = PeakReplay("test")
    for address, size in ((0x1, MB), (0x2, 4 * MB)):
        replay.mark("query", "")
        replay.mark("enter", "a")
        replay.allocate(address, size, ())
        replay.mark("exit", "a")
        replay.mark("enter", "b")
        replay.free(address)
        replay.mark("exit", "b")
    peaks = replay.result()
    # THEN one figure per execution and per query, not the run's high-water mark twice
    assert peaks.stages["a"] == [MB, 4 * MB]
    assert peaks.requests == [MB, 4 * MB]


def test_concurrent_branches_count_only_their_own_allocations() -> None:
    # GIVEN a fan-out whose two branches' records interleave (two threads), one branch freeing as it goes
    replay = PeakReplay("test")
    replay.mark("query", "")
    replay.mark("enter", "fan")
    replay.allocate(0x1, 3 * MB, ("fan.left",))
    replay.allocate(0x2, 2 * MB, ("fan.right",))
    replay.free(0x1)
    replay.allocate(0x3, 2 * MB, ("fan.right", "fan.right.inner"))
    replay.allocate(0x4, 1 * MB, ("fan.left",))
    replay.mark("exit", "fan")
    peaks = replay.result()
    # THEN each branch's peak is what its own allocations held at once; the stage's is the process's
    assert peaks.spans == {"fan.left": [3 * MB], "fan.right": [4 * MB], "fan.right.inner": [2 * MB]}
    assert peaks.stages["fan"] == [5 * MB]


def test_a_partial_unmap_keeps_the_mapping_tail() -> None:
    # GIVEN a 4 MB mapping made in a stage, of which the next stage unmaps the first 1 MB
    replay = PeakReplay("test")
    replay.mark("query", "")
    replay.mark("enter", "a")
    replay.allocate(0x100000, 4 * MB, ())
    replay.mark("exit", "a")
    replay.mark("enter", "b")
    replay.unmap(0x100000, MB)
    replay.allocate(0x900000, 2 * MB, ())
    replay.mark("exit", "b")
    peaks = replay.result()
    # THEN 3 MB stay live: b's 2 MB block lifts the total 1 MB above what it was at b's start
    assert peaks.stages["b"] == [MB]


def test_marks_are_recognised_by_their_frame_only() -> None:
    # GIVEN the probe's marker functions
    marks = AllocationMarks()
    marks.before("retrieval")
    found = marks._marks["enter", "retrieval"]
    code = found.__code__
    # THEN the marker's own frame names the mark; its module's code and other frames do not
    assert mark_of_frame(code.co_name, code.co_filename) == ("enter", "retrieval")
    assert mark_of_frame("<module>", code.co_filename) is None
    assert mark_of_frame(code.co_name, "<exec@ragperf-stage:retrieval>") is None
