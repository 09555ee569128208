"""Cost per stage span of the timer backend, against calling the same stages directly.

Runs in one process: the same five tiny stages, called (a) directly in a loop and (b) through
ragperf's executor with the recorder on (trampoline, contextvar, two perf_counter_ns reads, one
span record). Prints ns per span and the ratio. Goal: under 500 ns per span; a perf_counter_ns
pair alone costs ~90-180 ns on this kind of machine. Also prints the cost of `ragperf.stage`
when ragperf is not recording (goal: under 1 µs), and what `[run] cpu_time` adds per span.
"""

from __future__ import annotations

import argparse
import statistics
from time import perf_counter_ns

import ragperf
from ragperf import spans
from ragperf.config import Config
from ragperf.pipeline import Executor, build_plan
from ragperf.state import State

N_STAGES = 5


def work(state: State) -> int:
    """A stage that does almost nothing, so the harness cost is what is measured."""
    return len(state.query)


def direct(state: State, queries: int) -> int:
    start = perf_counter_ns()
    for _ in range(queries):
        for name in ("s0", "s1", "s2", "s3", "s4"):
            state.outputs[name] = work(state)
    return perf_counter_ns() - start


def harnessed(executor: Executor, state: State, queries: int) -> int:
    start = perf_counter_ns()
    for _ in range(queries):
        executor.run_query(state)
        executor.recorder.drain()
    return perf_counter_ns() - start


def timer_pair(n: int) -> float:
    start = perf_counter_ns()
    for _ in range(n):
        a = perf_counter_ns()
        b = perf_counter_ns()
    del a, b
    return (perf_counter_ns() - start) / n


def noop_stage(n: int) -> float:
    start = perf_counter_ns()
    for _ in range(n):
        with ragperf.stage("x"):
            pass
    return (perf_counter_ns() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    config = Config.model_validate({"stages": [{"name": f"s{i}", "call": "__main__:work"} for i in range(N_STAGES)]})
    recorder = spans.Recorder()
    executor = Executor(build_plan(config), recorder)
    state = State("what is the capital of france", None, {})

    spans.install(None)
    noop_ns = statistics.median(noop_stage(200_000) for _ in range(args.repeats))
    spans.install(recorder)
    cpu_recorder = spans.Recorder()
    cpu_recorder.cpu = []  # [run] cpu_time: each stage's thread CPU time too
    cpu_executor = Executor(build_plan(config), cpu_recorder)
    per_span = []
    per_cpu_span = []
    ratios = []
    for _ in range(args.repeats):  # alternate, so drift on a noisy machine hits all sides alike
        base = direct(state, args.queries)
        timed = harnessed(executor, state, args.queries)
        spans.install(cpu_recorder)
        with_cpu = harnessed(cpu_executor, state, args.queries)
        cpu_recorder.drain_cpu()
        spans.install(recorder)
        per_span.append((timed - base) / (args.queries * N_STAGES))
        per_cpu_span.append((with_cpu - timed) / (args.queries * N_STAGES))
        ratios.append(timed / base)
    spans.install(None)
    pair = statistics.median(timer_pair(200_000) for _ in range(args.repeats))

    print("| measure | value |")
    print("| --- | --- |")
    print(f"| timer backend cost per span (median of {args.repeats}) | {statistics.median(per_span):.0f} ns |")
    print(f"| same, best run | {min(per_span):.0f} ns |")
    print(f"| harnessed / direct time, {N_STAGES} trivial stages | x{statistics.median(ratios):.1f} |")
    print(f"| perf_counter_ns pair alone | {pair:.0f} ns |")
    print(f"| ragperf.stage() when not recording | {noop_ns:.0f} ns |")
    print(f"| extra per span with cpu_time on (thread CPU clock, opt-in) | {statistics.median(per_cpu_span):.0f} ns |")
    verdict = "PASS" if statistics.median(per_span) < 500 else "FAIL"
    print(f"goal < 500 ns per span: {verdict}")


if __name__ == "__main__":
    main()
