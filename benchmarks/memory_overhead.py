"""Cost of `--memory` per stage, before and after peak working memory, against tracemalloc, in one run.

Two pipelines of five stages run through ragperf's executor: "objects" (~1 ms of small Python
objects a stage) and "transient" (a stage builds and frees a 30 MB buffer). Modes, interleaved:
(a) plain; (b) the probe as before (RSS/heap/high-water readings, glibc's dynamic thresholds);
(c) tracemalloc with 1 frame, the other way to a peak (reset_peak at each stage); then, once
glibc is made to return freed large blocks (irreversible in a process, so last), (d) plain and
(e) the probe: `--memory` now. Prints one before/after table: per pipeline, each mode's time per
query relative to (a) with the µs it adds per stage, and the readings' own µs per stage. Goal:
(e) far below (c), and near (b) where stages do not churn large buffers.
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


Modes = dict[str, tuple[float, float | None]]  # mode -> (median ms per query, probe µs per stage or None)


def measure(calls: list[str], queries: int, repeats: int) -> dict[str, Modes]:
    """Median ms per query, and the probe's µs per stage, for each pipeline and mode."""
    recorder = spans.Recorder()
    spans.install(recorder)
    probe = StageProbe(MemoryReader())
    state = State("what is the capital of france", None, {})
    executors = {}
    for call in calls:
        plan = build_plan(Config.model_validate({"stages": [{"name": f"s{i}", "call": call} for i in range(N_STAGES)]}))
        executors[call] = (Executor(plan, recorder), Executor(plan, recorder, probe=probe))
    times: dict[tuple[str, str], list[float]] = {}
    costs: dict[tuple[str, str], list[float]] = {}

    def run(call: str, label: str, *, probed: bool) -> None:
        executor = executors[call][probed]
        times.setdefault((call, label), []).append(per_query_ns(executor, state, queries))
        if probed:
            costs.setdefault((call, label), []).append(probe.take()[1] / (queries * N_STAGES))

    for _ in range(repeats):  # interleaved, so drift on a noisy machine hits all alike
        for call in calls:
            run(call, PLAIN, probed=False)
            run(call, BEFORE, probed=True)
            tracemalloc.start(1)
            run(call, TRACEMALLOC, probed=False)
            tracemalloc.stop()
    return_freed_memory()  # irreversible in a process: every "after" mode comes last
    for _ in range(repeats):
        for call in calls:
            run(call, PLAIN_AFTER, probed=False)
            run(call, AFTER, probed=True)
    spans.install(None)
    out: dict[str, Modes] = {}
    for (call, label), values in times.items():
        cost = costs.get((call, label))
        out.setdefault(call, {})[label] = (
            statistics.median(values) / 1e6,
            statistics.median(cost) / 1e3 if cost else None,
        )
    return out


PLAIN = "plain"
BEFORE = "--memory before"  # the readings with glibc's dynamic thresholds, as before peak working memory
TRACEMALLOC = "tracemalloc 1 frame"
PLAIN_AFTER = "plain, glibc returning freed blocks"
AFTER = "--memory now"  # the readings with glibc returning freed blocks of 256 KiB+


def _cost(modes: Modes, label: str) -> str:
    """x of plain, and the added µs per stage (against plain without --memory, as a user runs it)."""
    base, ms = modes[PLAIN][0], modes[label][0]
    return f"x{ms / base:.2f} ({(ms - base) * 1e3 / N_STAGES:+.0f} µs/stage)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pipeline", choices=("objects", "transient", "both"), default="both")
    args = parser.parse_args()
    names = ["objects", "transient"] if args.pipeline == "both" else [args.pipeline]
    results = measure([f"__main__:{name}" for name in names], args.queries, args.repeats)
    print(f"cost of --memory per stage ({N_STAGES} stages a query, {args.queries} queries x {args.repeats})")
    print("each mode against plain without --memory, as a user runs it; readings are left out of the spans")
    print(
        "| pipeline | plain ms/query | --memory before | --memory now | of which glibc returning freed blocks "
        "| tracemalloc 1 frame | readings µs/stage |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, modes in zip(names, results.values(), strict=True):
        readings = f"{modes[BEFORE][1]:.0f} -> {modes[AFTER][1]:.0f}"
        cells = (
            f"{modes[PLAIN][0]:.2f}",
            _cost(modes, BEFORE),
            _cost(modes, AFTER),
            _cost(modes, PLAIN_AFTER),
            _cost(modes, TRACEMALLOC),
            readings,
        )
        print(f"| {name} | " + " | ".join(cells) + " |")
    if "objects" in names:
        objects = results["__main__:objects"]
        now, tm1 = objects[AFTER][0] / objects[PLAIN][0], objects[TRACEMALLOC][0] / objects[PLAIN][0]
        print(
            f"goal on small-object stages, --memory well under tracemalloc (x{now:.2f} vs x{tm1:.2f}): "
            f"{'PASS' if now < tm1 else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
