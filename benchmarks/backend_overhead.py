"""Each backend's overhead through ragperf, against the same profiler run directly on the same pipeline.

Two measurements on the hot pipeline's CPU stage `a` and allocation stage `b`
(tests/data/pipelines/hot), each profiler driven as ragperf drives it and as a user would by hand
(pyinstrument's Profiler, a memray Tracker, `py-spy record -- python ...`, `scalene run --off`
plus start/stop):

1. End to end, in separate processes, as a user sees it:
   - direct: a plain loop over the two stages under the profiler, divided by the same loop with
     no profiler: the tool's own overhead;
   - ragperf: `ragperf run -b NAME` divided by `ragperf run -b timer` (against the timer);
   - ragperf / direct: `ragperf run -b NAME` divided by the plain loop under the same profiler,
     the same code profiled both ways (goal: <= 1.05), with a bootstrap 95% interval.
   Each run's figure is its median query time, and every repeat runs the programs in a shuffled
   order. The last column is not the quotient of the first two: their references, the plain
   loop and `-b timer` with no profiler, are two different programs, and the same bytecode runs
   several percent faster or slower in each from where their frames and objects land in memory
   (Mytkowicz et al., "Producing wrong data without doing anything obviously wrong!", 2009).
   That bias, shown as "timer / plain", is not overhead, and it fades under a profiler that sets
   a profile function (Python 3.11 then runs unspecialised code everywhere), so dividing by it
   would count it as overhead.

2. Paired, in one process under the profiler: queries through ragperf's executor (trampolines,
   span records, the per-query drain the worker does) alternate in small blocks with the same
   stages called by a plain loop, so both see the same memory layout, the same profiler state
   and the same moment's machine load. The ratio of their median query times, divided by the
   same ratio with no profiler, is what ragperf's in-worker path adds on top of the tool; also
   shown in microseconds per query.

Run: `python benchmarks/backend_overhead.py [QUERIES] [REPEATS]` (default 30 and 8; about 6 min).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
HOT = ROOT / "tests" / "data" / "pipelines" / "hot" / "hot_pipeline.py"
WARMUP = 2
BACKENDS = ("pyinstrument", "memray", "py-spy", "scalene")
GOAL = 1.05
BLOCK = 3  # queries per block in the paired part; each block alternates plain / ragperf

CONFIG = """
[pipeline]
name = "bench"
queries = "queries.txt"

[[stages]]
name = "a"
call = "hot_pipeline:stage_a"

[[stages]]
name = "b"
call = "hot_pipeline:stage_b"
"""

# The child program. `loop` runs the two stages through the same kind of trampoline in a plain
# loop; `paired` also builds ragperf's executor from the config and alternates the two.
CHILD = """
import json, sys, time
from pathlib import Path
import hot_pipeline as h
from ragperf.trampoline import make_trampoline

kind, mode, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ta, tb = make_trampoline("a", is_async=False), make_trampoline("b", is_async=False)
clock = time.perf_counter_ns

def plain():
    start = clock()
    ta(h.stage_a, None)
    tb(h.stage_b, None)
    return clock() - start

if kind == "paired":
    from ragperf import spans
    from ragperf.config import load_config
    from ragperf.pipeline import Executor, build_plan
    from ragperf.state import State

    recorder = spans.Recorder()
    spans.install(recorder)
    executor = Executor(build_plan(load_config(Path("hot.toml"))), recorder)

    def through():
        start = clock()
        executor.run_query(State("q", None, {{}}, "q0", {{}}))
        elapsed = clock() - start
        recorder.drain()
        return elapsed

for _ in range({warmup}):
    plain()
    if kind == "paired":
        through()
profiler = None
if mode == "pyinstrument":
    from pyinstrument import Profiler
    profiler = Profiler(interval=0.001)
    profiler.start()
elif mode == "memray":
    import memray
    profiler = memray.Tracker(out + ".bin", file_format=memray.FileFormat.ALL_ALLOCATIONS)
    profiler.__enter__()
elif mode == "scalene":
    from scalene import scalene_profiler
    scalene_profiler.start()
times = {{"plain": [], "ragperf": []}}
if kind == "loop":
    times["plain"] = [plain() for _ in range(n)]
else:
    for block in range(n // {block}):
        for way in (("plain", "ragperf") if block % 2 else ("ragperf", "plain")):
            call = plain if way == "plain" else through
            times[way] += [call() for _ in range({block})]
if mode == "pyinstrument":
    profiler.stop()
elif mode == "memray":
    profiler.__exit__(None, None, None)
elif mode == "scalene":
    scalene_profiler.stop()
with open(out, "w") as handle:
    json.dump({{way: [t / 1e6 for t in ts] for way, ts in times.items()}}, handle)
"""


def _execute(command: list[str], work: Path) -> None:
    subprocess.run(command, cwd=work, check=True, capture_output=True)


def child(work: Path, kind: str, mode: str, n: int) -> dict[str, float]:
    """Median query times (ms) of the child program under the profiler run by hand ("plain": none)."""
    out = work / f"{kind}-{mode}.json"
    for stale in work.glob(f"{kind}-{mode}.json*"):
        stale.unlink()
    program = [sys.executable, str(work / "child.py"), kind, mode, str(n), str(out)]
    if mode == "py-spy":
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        speedscope = str(work / "direct.speedscope.json")
        command = [pyspy, "record", "-r", "250", "--idle", "-f", "speedscope", "-o", speedscope, "--", *program]
    elif mode == "scalene":
        scalene = [sys.executable, "-m", "scalene", "run", "--off", "--profile-all", "--no-async", "--memory"]
        command = [*scalene, "-o", str(work / "direct.scalene.json"), str(work / "child.py"), "---", *program[2:]]
    else:
        command = program
    _execute(command, work)
    return {way: median(ms) for way, ms in json.loads(out.read_text()).items() if ms}


def through_ragperf(work: Path, backend: str, n: int) -> float:
    """Median query time (ms) of `ragperf run -b BACKEND`."""
    output = work / f"rp-{backend}.json"
    command = [sys.executable, "-m", "ragperf", "run", str(work / "hot.toml"), "-b", backend]
    command += ["-n", str(n), "--warmup", str(WARMUP), "-o", str(output), "--no-progress"]
    _execute(command, work)
    return median(q["total_ms"] for q in json.loads(output.read_text())["queries"])


def interval(values: list[float], rounds: int = 2000) -> tuple[float, float]:
    """Bootstrap 95% interval of the median of `values`."""
    rng = random.Random(0)
    medians = sorted(median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds) - 1]


def verdict(values: list[float]) -> str:
    """The median with its interval, and whether the interval clears the goal."""
    low, high = interval(values)
    judged = "met" if high <= GOAL else "missed" if low > GOAL else "within noise"
    return f"{median(values):>8.3f}{f'[{low:.3f}, {high:.3f}]':>18}   {judged}"


def end_to_end(work: Path, n: int, repeats: int) -> None:
    """Part 1: separate processes, the direct and through-ragperf ratios of every backend."""
    ratios: dict[str, dict[str, list[float]]] = {b: {"direct": [], "ragperf": [], "both": []} for b in BACKENDS}
    references: list[float] = []
    for repeat in range(repeats):
        jobs = [("direct", "plain"), ("ragperf", "timer")]
        jobs += [(way, backend) for backend in BACKENDS for way in ("direct", "ragperf")]
        random.shuffle(jobs)
        ms = {
            (way, mode): child(work, "loop", mode, n)["plain"] if way == "direct" else through_ragperf(work, mode, n)
            for way, mode in jobs
        }
        plain, timer = ms["direct", "plain"], ms["ragperf", "timer"]
        references.append(timer / plain)
        for backend in BACKENDS:
            ratios[backend]["direct"].append(ms["direct", backend] / plain)
            ratios[backend]["ragperf"].append(ms["ragperf", backend] / timer)
            ratios[backend]["both"].append(ms["ragperf", backend] / ms["direct", backend])
        print(f"  end to end: repeat {repeat + 1}/{repeats}", file=sys.stderr)
    low, high = interval(references)
    print(f"1. end to end: {n} queries per run, median over {repeats} shuffled repeats [95% interval]")
    print(f"   references apart (timer / plain, no profiler): x{median(references):.3f} [{low:.3f}, {high:.3f}]")
    header = f"{'backend':<14}{'direct x':>10}{'ragperf/timer':>15}{'ragperf/direct':>16}{'interval':>18}"
    print(f"   {header}   goal <= {GOAL}")
    for backend, r in ratios.items():
        print(f"   {backend:<14}{median(r['direct']):>10.3f}{median(r['ragperf']):>15.3f}{verdict(r['both']):>8}")


def paired(work: Path, n: int, repeats: int) -> None:
    """Part 2: one process per run, ragperf's executor and a plain loop alternating under the profiler."""
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in ("plain", *BACKENDS)}
    for repeat in range(repeats):
        for mode in random.sample(list(runs), len(runs)):
            runs[mode].append(child(work, "paired", mode, n))
        print(f"  paired: repeat {repeat + 1}/{repeats}", file=sys.stderr)
    # With no profiler the two paths should already match; whatever differs is divided out.
    bare = median(r["ragperf"] / r["plain"] for r in runs["plain"])
    print(f"2. paired in one process: {n} queries per run ({BLOCK}-query blocks), median over {repeats} runs")
    print(f"   executor / plain loop, no profiler: x{bare:.3f}")
    print(f"   {'backend':<14}{'+us/query':>10}{'ragperf/direct':>16}{'interval':>18}   goal <= {GOAL}")
    for backend in BACKENDS:
        quotients = [r["ragperf"] / r["plain"] / bare for r in runs[backend]]
        extra_us = median((r["ragperf"] - r["plain"]) * 1000 for r in runs[backend])
        print(f"   {backend:<14}{extra_us:>10.1f}{verdict(quotients):>8}")


def main() -> None:
    """Measure and print both tables."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(HOT, work / "hot_pipeline.py")
        (work / "queries.txt").write_text("one\ntwo\n", encoding="utf-8")
        (work / "hot.toml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
        (work / "child.py").write_text(CHILD.format(warmup=WARMUP, block=BLOCK), encoding="utf-8")
        end_to_end(work, n, repeats)
        paired(work, 2 * n, repeats)


if __name__ == "__main__":
    main()
