"""`ragperf diff` of two files against `ragperf compare`, on real runs while a CPU hog comes and goes.

Run: ``python benchmarks/diff_noise.py [--pairs 20] [--queries 200] [--block 1] [--processes 4] [--seed 1]``.

The pipeline has a CPU-bound stage (a loop, ~4 ms: +10% of it is past the 0.25 ms floor) and a waiting
one (a 3 ms sleep). While the benchmark runs, one CPU hog (a busy process, half of a 2-core machine)
starts and stops at random moments (on and off for exponentially distributed times, mean 1.5 s): the
drift a shared CI machine sees.
For each of K pairs: an A/A pair (same code) and an A/B pair (+10% CPU work in the CPU stage), each
judged four ways:
- `ragperf run` twice, one after the other, then `ragperf diff` of the two files, with the rule this
  tool had before (no absolute floor: `--min-ms 0`) and with today's (the 0.25 ms floor);
- the same with each run's queries spread over several processes (`ragperf run --processes P`), so the
  diff judges the variation between processes (Welch's t on their medians);
- one `ragperf compare` of the two configs (interleaved query by query by default, paired).
A false regression is any regression in an A/A pair; a detection is the CPU stage named a regression in
an A/B pair.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULE = """
import time

def setup(options):
    return dict(options)

def crunch(state):
    x = 0
    for i in range(int(state.ctx["work"] * state.ctx["factor"])):
        x += i * i
    return x

def wait(state):
    time.sleep(0.003)
"""
CONFIG = """
[pipeline]
name = "noise"
setup = "noisepipe:setup"
queries = "queries.txt"

[pipeline.options]
work = {work}
factor = {factor}

[run]
warmup = 5

[[stages]]
name = "crunch"
call = "noisepipe:crunch"

[[stages]]
name = "wait"
call = "noisepipe:wait"
"""
_HOG_MEAN_S = 1.5


class Hog:
    """One busy process, switched on and off at random moments until stopped."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._process: subprocess.Popen[bytes] | None = None
        self.on_s = 0.0

    def __enter__(self) -> Hog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._stop.wait(self._rng.expovariate(1 / _HOG_MEAN_S)):
                break
            self._process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            started = time.monotonic()
            self._stop.wait(self._rng.expovariate(1 / _HOG_MEAN_S))
            self._process.kill()
            self._process.wait()
            self.on_s += time.monotonic() - started


def _ragperf(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "ragperf", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)


def _verdict(done: subprocess.CompletedProcess[str]) -> tuple[bool, bool]:
    """(any regression, the CPU stage a regression) from a JSON diff on stdout."""
    if done.returncode not in (0, 1):
        raise SystemExit(f"ragperf failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    regressions = json.loads(done.stdout)["regressions"]
    return bool(regressions), "crunch" in regressions


METHODS = (
    "diff of two files, no floor (the rule before)",
    "diff of two files",
    "diff of two --processes runs",
    "compare",
)


def _run_pair(old: Path, new: Path, work: Path, n: int, *extra: str | int) -> list[Path]:
    files = []
    for name, config in (("old", old), ("new", new)):
        output = work / f"{name}.json"
        done = _ragperf("run", config, "-n", n, "-o", output, "--no-progress", *extra)
        if done.returncode != 0:
            raise SystemExit(f"ragperf run failed: {done.stderr.strip()[-500:]}")
        files.append(output)
    return files


def _judge(old: Path, new: Path, work: Path, args: argparse.Namespace) -> dict[str, tuple[bool, bool]]:
    """Each method's (any regression, the CPU stage a regression) for one pair of configs."""
    single = _run_pair(old, new, work, args.queries)
    replicated = _run_pair(old, new, work / "p", args.queries, "--processes", args.processes)
    compare = ("compare", old, new, "-n", args.queries, "--block", args.block, "-o", work / "cmp")
    return dict(
        zip(
            METHODS,
            (
                _verdict(_ragperf("diff", *single, "-f", "json", "--min-ms", "0")),
                _verdict(_ragperf("diff", *single, "-f", "json")),
                _verdict(_ragperf("diff", *replicated, "-f", "json")),
                _verdict(_ragperf(*compare, "--no-progress", "-f", "json")),
            ),
            strict=True,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Print the table: false regressions and detections of each method."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", "-k", type=int, default=20, help="K: A/A pairs and A/B pairs, each (default 20)")
    parser.add_argument("--queries", type=int, default=200, help="measured queries per run / per side")
    parser.add_argument("--block", type=int, default=1, help="compare's block size")
    parser.add_argument("--processes", type=int, default=4, help="worker processes per run of the replicated diff")
    parser.add_argument("--work", type=int, default=60_000, help="loop iterations of the CPU stage (~4 ms)")
    parser.add_argument("--seed", type=int, default=1)
    args, _ = parser.parse_known_args(argv)  # nox passes its session's posargs to every benchmark
    started = time.monotonic()
    counts = {method: {"false": 0, "found": 0} for method in METHODS}
    with tempfile.TemporaryDirectory(prefix="ragperf-noise-") as tmp:
        folder = Path(tmp)
        (folder / "noisepipe.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
        (folder / "queries.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
        (folder / "p").mkdir()
        configs = {}
        for name, factor in (("a", 1.0), ("b", 1.1)):
            configs[name] = folder / f"{name}.toml"
            configs[name].write_text(textwrap.dedent(CONFIG.format(work=args.work, factor=factor)), encoding="utf-8")
        with Hog(args.seed) as hog:
            for k in range(args.pairs):
                for kind, new in (("A/A", configs["a"]), ("A/B", configs["b"])):
                    results = _judge(configs["a"], new, folder, args)
                    for method, (any_regression, cpu_found) in results.items():
                        key = "false" if kind == "A/A" else "found"
                        counts[method][key] += any_regression if kind == "A/A" else cpu_found
                print(f"pair {k + 1}/{args.pairs}: {counts}", file=sys.stderr, flush=True)
            hog_on = hog.on_s
    elapsed = time.monotonic() - started
    k = args.pairs
    print(
        f"\nK = {k} pairs of each kind, {args.queries} queries per run/side, compare blocks of {args.block}, "
        f"replicated runs in {args.processes} processes"
    )
    print(f"CPU hog on for {hog_on:.0f} s of {elapsed:.0f} s\n")
    print(f"| method | false regressions in {k} A/A | +10% CPU slowdowns found of {k} |")
    print("| --- | --- | --- |")
    for method, c in counts.items():
        print(f"| {method} | {c['false']} | {c['found']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
