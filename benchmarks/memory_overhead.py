"""Cost of `--memory` (per-stage RSS/heap/peak readings) against tracemalloc, in one process.

The same five allocation-heavy stages run through ragperf's executor (a) plain, (b) with the
memory probe, (c) plain under tracemalloc with 1 frame and (d) with 25 frames. Prints the time
per query relative to (a), and the probe's own cost per stage. Goal: the probe far below
tracemalloc's x8.7-x60 (DESIGN.md), and a few tens of µs a stage on a small heap.
"""

from __future__ import annotations

import argparse
import statistics
import tracemalloc
from time import perf_counter_ns

from ragperf import spans
from ragperf.config import Config
from ragperf.memory.probe import StageProbe
from ragperf.memory.readings import MemoryReader
from ragperf.pipeline import Executor, build_plan
from ragperf.state import State

N_STAGES = 5


def work(state: State) -> int:
    """About 1 ms of allocation-heavy Python: small objects, a dict, a list of strings."""
    words = [f"{state.query}-{i}" for i in range(2000)]
    index = {w: len(w) for w in words}
    return sum(index.values())


def per_query_ns(executor: Executor, state: State, queries: int) -> float:
    start = perf_counter_ns()
    for _ in range(queries):
        executor.run_query(state)
        executor.recorder.drain()
    return (perf_counter_ns() - start) / queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    config = Config.model_validate({"stages": [{"name": f"s{i}", "call": "__main__:work"} for i in range(N_STAGES)]})
    plan = build_plan(config)
    recorder = spans.Recorder()
    spans.install(recorder)
    probe = StageProbe(MemoryReader())
    plain, probed = Executor(plan, recorder), Executor(plan, recorder, probe=probe)
    state = State("what is the capital of france", None, {})

    times: dict[str, list[float]] = {"plain": [], "--memory": [], "tracemalloc 1 frame": [], "tracemalloc 25": []}
    probe_ns: list[float] = []
    for _ in range(args.repeats):  # interleaved, so drift on a noisy machine hits all alike
        times["plain"].append(per_query_ns(plain, state, args.queries))
        probe.take()
        times["--memory"].append(per_query_ns(probed, state, args.queries))
        probe_ns.append(probe.take()[1] / (args.queries * N_STAGES))
        for label, frames in (("tracemalloc 1 frame", 1), ("tracemalloc 25", 25)):
            tracemalloc.start(frames)
            times[label].append(per_query_ns(plain, state, args.queries))
            tracemalloc.stop()
    spans.install(None)

    base = statistics.median(times["plain"])
    print("| mode | ms per query | vs plain |")
    print("| --- | --- | --- |")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"| {label} | {median / 1e6:.2f} | x{median / base:.2f} |")
    cost = statistics.median(probe_ns) / 1e3
    print(f"probe cost per stage (its own clock): {cost:.0f} µs")
    ratio = statistics.median(times["--memory"]) / base
    tm1 = statistics.median(times["tracemalloc 1 frame"]) / base
    print(f"goal --memory well under tracemalloc (x{ratio:.2f} vs x{tm1:.2f}): {'PASS' if ratio < tm1 else 'FAIL'}")


if __name__ == "__main__":
    main()
