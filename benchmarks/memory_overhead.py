"""Cost of `--memory` per stage, before and after peak working memory, against tracemalloc, in one run.

Two pipelines of five stages run through ragperf's executor: "objects" (~1 ms of small Python
objects a stage) and "transient" (a stage builds and frees a 30 MB buffer). Modes, interleaved:
(a) plain; (b) the probe as before (RSS/heap/high-water readings, glibc's dynamic thresholds);
(c) tracemalloc with 1 frame, the other way to a peak (reset_peak at each stage); then, once
glibc is made to return freed large blocks (irreversible in a process, so last), (d) plain and
(e) the probe: `--memory` now. Prints the time per query relative to (a) and the probe's own
cost per stage. Goal: (e) far below (c), and near (b) where stages do not churn large buffers.
"""

from __future__ import annotations

import argparse
import statistics
import tracemalloc
from time import perf_counter_ns

from ragperf import spans
from ragperf.config import Config
from ragperf.memory.probe import StageProbe
from ragperf.memory.readings import MemoryReader, return_freed_memory
from ragperf.pipeline import Executor, build_plan
from ragperf.state import State

N_STAGES = 5


def objects(state: State) -> int:
    """About 1 ms of allocation-heavy Python: small objects, a dict, a list of strings."""
    words = [f"{state.query}-{i}" for i in range(2000)]
    index = {w: len(w) for w in words}
    return sum(index.values())


def transient(state: State) -> int:
    """A 30 MB buffer built and freed: glibc reuses it unless told to give it back."""
    block = state.query.encode()[:1] * (30 << 20)
    return len(block)


def per_query_ns(executor: Executor, state: State, queries: int) -> float:
    start = perf_counter_ns()
    for _ in range(queries):
        executor.run_query(state)
        executor.recorder.drain()
    return (perf_counter_ns() - start) / queries


def measure(call: str, queries: int, repeats: int) -> dict[str, tuple[float, float | None]]:
    """Median ms per query, and the probe's µs per stage, for each mode."""
    config = Config.model_validate({"stages": [{"name": f"s{i}", "call": call} for i in range(N_STAGES)]})
    plan = build_plan(config)
    recorder = spans.Recorder()
    spans.install(recorder)
    probe = StageProbe(MemoryReader())
    plain, probed = Executor(plan, recorder), Executor(plan, recorder, probe=probe)
    state = State("what is the capital of france", None, {})
    times: dict[str, list[float]] = {}
    costs: dict[str, list[float]] = {}

    def run(label: str, executor: Executor) -> None:
        times.setdefault(label, []).append(per_query_ns(executor, state, queries))
        if executor is probed:
            costs.setdefault(label, []).append(probe.take()[1] / (queries * N_STAGES))

    for _ in range(repeats):  # interleaved, so drift on a noisy machine hits all alike
        run("(a) plain", plain)
        run("(b) --memory before", probed)
        tracemalloc.start(1)
        run("(c) tracemalloc 1 frame", plain)
        tracemalloc.stop()
    return_freed_memory()
    for _ in range(repeats):
        run("(d) plain, glibc returning freed blocks", plain)
        run("(e) --memory now", probed)
    spans.install(None)
    return {
        label: (statistics.median(v) / 1e6, statistics.median(costs[label]) / 1e3 if label in costs else None)
        for label, v in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipeline", choices=("objects", "transient"), default="objects")
    args = parser.parse_args()
    results = measure(f"__main__:{args.pipeline}", args.queries, args.repeats)
    base = results["(a) plain"][0]
    print(f"pipeline: {args.pipeline} ({N_STAGES} stages)")
    print("| mode | ms per query | vs plain | probe µs per stage |")
    print("| --- | --- | --- | --- |")
    for label, (ms, cost) in results.items():
        print(f"| {label} | {ms:.2f} | x{ms / base:.2f} | {'-' if cost is None else f'{cost:.0f}'} |")
    now, tm1 = results["(e) --memory now"][0] / base, results["(c) tracemalloc 1 frame"][0] / base
    print(f"goal --memory well under tracemalloc (x{now:.2f} vs x{tm1:.2f}): {'PASS' if now < tm1 else 'FAIL'}")


if __name__ == "__main__":
    main()
