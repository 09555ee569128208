"""How ragperf's own costs grow with the number of queries: run, summary, write, load, report, diff.

For each size (10k, 100k, 1M queries of a no-op pipeline with 11 stage spans) it runs the real
`ragperf run`, then `report -f md`, `report -f html` and `diff` of the file it wrote, each as a
process of its own, and prints wall time and peak memory; the in-process steps (summary, write,
load) are timed on the same table. Then the cost of one more stage span seen from outside
(11 spans against 1, at 100k queries), and `ragperf --help`, best of 5. The goals are printed
beside the figures; the growth from size to size should be linear or better.

    python benchmarks/scale.py [SIZES...]      e.g. python benchmarks/scale.py 10000 100000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (10_000, 100_000, 1_000_000)
STAGES = 11
GOALS = {  # (size, step): (seconds, MiB) on a 2-core machine, None where the issue sets no goal
    (100_000, "run"): (10.0, 400.0),
    (100_000, "report md"): (2.0, None),
    (100_000, "report html"): (2.0, None),
    (100_000, "diff"): (2.0, None),
    (1_000_000, "run"): (None, 1024.0),
}
NOOP = "def noop(state):\n    return None\n"


def _pipeline(folder: Path, stages: int) -> Path:
    (folder / "noop_stage.py").write_text(NOOP, encoding="utf-8")
    (folder / "queries.txt").write_text("".join(f"query {i}\n" for i in range(200)), encoding="utf-8")
    body = "".join(f'[[stages]]\nname = "s{i}"\ncall = "noop_stage:noop"\n' for i in range(stages))
    config = folder / f"noop{stages}.toml"
    config.write_text(f'[pipeline]\nname = "noop"\nqueries = "queries.txt"\n[run]\nwarmup = 0\n{body}', "utf-8")
    return config


def _timed(*args: str, cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB, the largest of the process and the children it waited for)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "ragperf", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"ragperf {' '.join(args)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _in_process(run_file: Path) -> list[tuple[str, float, float]]:
    """load, summary and write of the run file's table, timed in this process."""
    from ragperf.analysis.summary import summarise
    from ragperf.config import Targets
    from ragperf.schema import load_run, save_run

    out = []
    start = time.perf_counter()
    run = load_run(run_file)
    out.append(("load", time.perf_counter() - start))
    start = time.perf_counter()
    summarise(run.queries, run.stages, Targets())
    out.append(("summary", time.perf_counter() - start))
    start = time.perf_counter()
    save_run(run, run_file.with_name("rewritten.json"))
    out.append(("write", time.perf_counter() - start))
    return [(name, seconds, float("nan")) for name, seconds in out]


def _verdict(size: int, step: str, seconds: float, mib: float) -> str:
    goal = GOALS.get((size, step))
    if goal is None:
        return ""
    time_goal, mem_goal = goal
    checks = []
    if time_goal is not None:
        checks.append(f"< {time_goal:g} s {'PASS' if seconds < time_goal else 'FAIL'}")
    if mem_goal is not None:
        checks.append(f"< {mem_goal:g} MiB {'PASS' if mib < mem_goal else 'FAIL'}")
    return "goal " + ", ".join(checks)


def main() -> None:
    sizes = tuple(int(a) for a in sys.argv[1:]) or SIZES
    with tempfile.TemporaryDirectory(prefix="ragperf-scale-") as tmp:
        folder = Path(tmp)
        config = _pipeline(folder, STAGES)
        print(f"{'queries':>9} {'step':12} {'seconds':>8} {'peak MiB':>9} {'MB on disk':>10}  goal")
        for size in sizes:
            run_file = folder / f"run{size}.json"
            rows = [
                ("run", *_timed("run", str(config), "-n", str(size), "-o", str(run_file), "--no-progress", cwd=folder))
            ]
            rows += _in_process(run_file)
            rows.append(("report md", *_timed("report", str(run_file), "-f", "md", "-o", "r.md", cwd=folder)))
            rows.append(("report html", *_timed("report", str(run_file), "-f", "html", "-o", "r.html", cwd=folder)))
            rows.append(("diff", *_timed("diff", str(run_file), str(run_file), cwd=folder)))
            for step, seconds, mib in rows:
                disk = {"run": run_file, "report html": folder / "r.html"}.get(step)
                size_mb = f"{disk.stat().st_size / 1e6:10.1f}" if disk is not None else " " * 10
                print(f"{size:>9} {step:12} {seconds:8.2f} {mib:9.0f} {size_mb}  {_verdict(size, step, seconds, mib)}")
            run_file.unlink()
        _per_span(folder)
        _help(folder)


def _per_span(folder: Path, size: int = 100_000) -> None:
    """End-to-end cost of one more stage span: 11 spans against 1, same queries, best of 5 each, alternated."""
    one, many = _pipeline(folder, 1), _pipeline(folder, STAGES)
    times: dict[Path, list[float]] = {one: [], many: []}
    for _ in range(5):  # alternated, so a slow minute of the machine hits both alike
        for config in (one, many):
            run = ("run", str(config), "-n", str(size), "-o", str(folder / "span.json"), "--no-progress")
            times[config].append(_timed(*run, cwd=folder)[0])
    per_span_us = (min(times[many]) - min(times[one])) / ((STAGES - 1) * size) * 1e6
    verdict = "PASS" if per_span_us < 1.0 else "FAIL"
    print(f"one more stage span, end to end at {size} queries: {per_span_us:.2f} us (goal < 1 us {verdict})")


def _help(folder: Path) -> None:
    best = min(_timed("--help", cwd=folder)[0] for _ in range(5))
    print(f"ragperf --help: {best * 1000:.0f} ms best of 5 (goal < 200 ms {'PASS' if best < 0.2 else 'FAIL'})")


if __name__ == "__main__":
    main()
