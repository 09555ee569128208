"""Each backend's overhead through ragperf, against the same profiler run directly on the same pipeline.

For every backend, three figures on the hot pipeline's CPU and allocation stages (tests/data/pipelines/hot):

- direct: the measured loop under the profiler run by hand (pyinstrument's Profiler, a memray
  Tracker, `py-spy record -- python loop.py`, `scalene run --off` + start/stop), divided by the
  same loop with no profiler: the tool's own overhead.
- ragperf: `ragperf run -b NAME` divided by `ragperf run -b timer`: the overhead through ragperf.
- ragperf / direct: what ragperf adds on top of the tool (goal: within 5%, i.e. <= 1.05).

Times are the sum of per-query durations measured inside the process; each profiled run is paired
with its reference run taken right beside it, and the median ratio over REPEATS pairs is reported.
Run: `python benchmarks/backend_overhead.py [N]`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
HOT = ROOT / "tests" / "data" / "pipelines" / "hot" / "hot_pipeline.py"
REPEATS = 5
WARMUP = 2
BACKENDS = ("pyinstrument", "memray", "py-spy", "scalene")

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

# The same two stages, called through the same kind of trampoline, in a plain loop.
LOOP = """
import json, sys, time
import hot_pipeline as h
from ragperf.trampoline import make_trampoline

mode, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ta, tb = make_trampoline("a", is_async=False), make_trampoline("b", is_async=False)

def query():
    ta(h.stage_a, None)
    tb(h.stage_b, None)

for _ in range({warmup}):
    query()
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
total = 0
for _ in range(n):
    start = time.perf_counter_ns()
    query()
    total += time.perf_counter_ns() - start
if mode == "pyinstrument":
    profiler.stop()
elif mode == "memray":
    profiler.__exit__(None, None, None)
elif mode == "scalene":
    scalene_profiler.stop()
with open(out, "w") as handle:
    json.dump({{"total_ms": total / 1e6}}, handle)
"""


def _direct(work: Path, mode: str, n: int) -> float:
    """The loop's measured time under the profiler run by hand (mode "plain": no profiler)."""
    out = work / f"direct-{mode}.json"
    for stale in work.glob(f"direct-{mode}.json*"):
        stale.unlink()
    loop = [sys.executable, str(work / "loop.py"), mode, str(n), str(out)]
    if mode == "py-spy":
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        command = [
            pyspy,
            "record",
            "-r",
            "250",
            "--idle",
            "-f",
            "speedscope",
            "-o",
            str(work / "d.ss.json"),
            "--",
            *loop,
        ]
    elif mode == "scalene":
        scalene = [sys.executable, "-m", "scalene", "run", "--off", "--profile-all", "--no-async", "--memory"]
        command = [*scalene, "-o", str(work / "d.scalene.json"), str(work / "loop.py"), "---", *loop[2:]]
    else:
        command = loop
    subprocess.run(command, cwd=work, check=True, capture_output=True)
    return float(json.loads(out.read_text())["total_ms"])


def _through_ragperf(work: Path, backend: str, n: int) -> float:
    """The sum of per-query totals of `ragperf run -b BACKEND`."""
    output = work / f"rp-{backend}.json"
    command = [sys.executable, "-m", "ragperf", "run", str(work / "ragperf.toml"), "-b", backend]
    command += ["-n", str(n), "--warmup", str(WARMUP), "-o", str(output), "--no-progress"]
    subprocess.run(command, cwd=work, check=True, capture_output=True)
    run = json.loads(output.read_text())
    return float(sum(q["total_ms"] for q in run["queries"]))


def main() -> None:
    """Measure and print the overhead table."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    ratios: dict[str, dict[str, list[float]]] = {b: {"direct": [], "ragperf": [], "extra_ms": []} for b in BACKENDS}
    timer_ratio: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(HOT, work / "hot_pipeline.py")
        (work / "queries.txt").write_text("one\ntwo\n", encoding="utf-8")
        (work / "ragperf.toml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
        (work / "loop.py").write_text(LOOP.format(warmup=WARMUP), encoding="utf-8")
        # Round-robin, each profiled run right beside its own reference: the machine's load drifts,
        # so a ratio of two runs taken seconds apart is steadier than a ratio of two best-ofs.
        for _ in range(REPEATS):
            for backend in BACKENDS:
                plain, direct = _direct(work, "plain", n), _direct(work, backend, n)
                timer, through = _through_ragperf(work, "timer", n), _through_ragperf(work, backend, n)
                ratios[backend]["direct"].append(direct / plain)
                ratios[backend]["ragperf"].append(through / timer)
                ratios[backend]["extra_ms"].append((through - timer) / n)
                timer_ratio.append(timer / plain)
    print(f"backend overhead, {n} queries per run (stage a: CPU loop, stage b: allocations), median of {REPEATS}")
    print(f"ragperf timer / plain loop: x{median(timer_ratio):.3f}")
    print(f"{'backend':<14}{'direct x':>10}{'ragperf x':>11}{'ragperf/direct':>16}{'+ms/query vs timer':>20}")
    for backend, r in ratios.items():
        direct, through = median(r["direct"]), median(r["ragperf"])
        print(f"{backend:<14}{direct:>10.3f}{through:>11.3f}{through / direct:>16.3f}{median(r['extra_ms']):>20.2f}")


if __name__ == "__main__":
    main()
