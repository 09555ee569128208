"""Concurrent lanes inside one load worker: each lane a thread with its own executor and recorder.

An I/O-bound pipeline (a generation stage waiting on an LLM server) needs several queries in
flight per process. Each lane draws its own arrival stream, as each connection does in wrk2.
Configured stages record into the lane's executor's recorder; spans marked in user code with
`ragperf.stage` go to the one process-wide recorder, so that one, a `LaneRecorder`, hands each
span to the recorder of the lane whose context it runs in (thread pools and tasks copy it).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ragperf.load.measure import run_step
from ragperf.prctl import tight_timers
from ragperf.spans import Recorder

if TYPE_CHECKING:
    from collections.abc import Callable

    from ragperf.load.measure import StepTally
    from ragperf.load.spec import LoadWorkerSpec, StepCommand
    from ragperf.pipeline import Executor
    from ragperf.spans import SpanRecord

__all__ = ["LaneRecorder", "lane_recorder", "run_lanes"]

lane_recorder: ContextVar[Recorder | None] = ContextVar("ragperf_lane_recorder", default=None)


class LaneRecorder(Recorder):
    """The process-wide recorder when several lanes run: each span goes to its own lane's list."""

    __slots__ = ()

    @property
    def spans(self) -> list[SpanRecord]:
        """The span list of the lane running in this context (a throwaway list outside any lane)."""
        lane = lane_recorder.get()
        return [] if lane is None else lane.spans

    @spans.setter
    def spans(self, value: list[SpanRecord]) -> None:
        lane = lane_recorder.get()
        if lane is not None:
            lane.spans = value


def run_lanes(
    executors: list[Executor],
    spec: LoadWorkerSpec,
    ctx: Any,
    command: StepCommand,
    *,
    stop: Callable[[], bool],
    report: Callable[[int, int, float | None], None],
    good_ns: int | None,
) -> list[StepTally]:
    """Run one step on every lane (a thread each when there are several); one tally per lane."""
    lanes = len(executors)
    lock = threading.Lock()
    progress: dict[int, tuple[int, int]] = {}

    def lane(i: int) -> StepTally:
        def progressed(tally: StepTally, recent: list[int]) -> None:
            recent.sort()
            p95 = recent[int(0.95 * (len(recent) - 1))] / 1e6 if recent else None
            with lock:
                progress[i] = (tally.completed, tally.errors)
                report(sum(c for c, _ in progress.values()), sum(e for _, e in progress.values()), p95)

        return run_step(
            executors[i],
            spec.queries,
            ctx,
            command,
            spec.index * lanes + i,
            spec.workers * lanes,
            spec.seed,
            stop=stop,
            progress=progressed,
            good_ns=good_ns,
        )

    if lanes == 1:
        return [lane(0)]
    results: list[StepTally | None] = [None] * lanes
    failures: list[BaseException] = []

    def thread(i: int) -> None:
        tight_timers()  # timer slack is per thread
        lane_recorder.set(executors[i].recorder)
        try:
            results[i] = lane(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the worker's main thread, which reports it
            failures.append(exc)

    threads = [threading.Thread(target=thread, args=(i,), name=f"ragperf-lane-{i}") for i in range(lanes)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    if failures:
        raise failures[0]
    return [tally for tally in results if tally is not None]
