"""Hostile inputs, tried as a careful user and a CI runner would: prints cases tried, tracebacks, wrong
exits, data lost and hangs, per family and in total. The goal is 0 / 0 / 0 / 0.

Every case is a real `ragperf` process (real signals, real files, a real worker): malformed configs
and query files, odd text in every place ragperf prints, unwritable outputs, damaged run files,
stop signals at each phase, pipelines that hang or raise outside their stages, diff and load
options no run can use.

    python benchmarks/hostile_inputs.py [--family NAME ...] [--jobs N] [--list]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hostile import configs, diffs, faults, load, outputs, runfiles, signals, texts
from hostile.cases import Case, Outcome, run_case
from hostile.workspace import Workspace

FAMILIES = {
    "config": configs,
    "text": texts,
    "outputs": outputs,
    "runfile": runfiles,
    "signal": signals,
    "fault": faults,
    "diff": diffs,
    "load": load,
}
COUNTERS = ("traceback", "wrong_exit", "lost", "hang")


def _groups(cases: list[Case]) -> list[list[Case]]:
    """Cases of one group in order; a case without a group is a group of its own."""
    groups: dict[str, list[Case]] = {}
    for i, case in enumerate(cases):
        groups.setdefault(case.group or f"#{i}", []).append(case)
    return list(groups.values())


def _run_group(group: list[Case]) -> list[Outcome]:
    return [run_case(case) for case in group]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES), help="only these families")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2, one per core here)")
    parser.add_argument("--list", action="store_true", help="list the cases, run none")
    args = parser.parse_args()
    chosen = args.family or list(FAMILIES)
    with tempfile.TemporaryDirectory(prefix="ragperf-hostile-") as folder:
        ws = Workspace(Path(folder))
        cases = [case for name in chosen for case in FAMILIES[name].cases(ws)]
        if args.list:
            for case in cases:
                print(f"{case.family:8} {case.name}")
            print(f"{len(cases)} cases")
            return 0
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            outcomes = [o for batch in pool.map(_run_group, _groups(cases)) for o in batch]
        _report(outcomes, time.monotonic() - start)
    return 0 if all(o.ok for o in outcomes) else 1


def _report(outcomes: list[Outcome], seconds: float) -> None:
    print(f"{'family':10} {'cases':>6} {'tracebacks':>10} {'wrong exits':>11} {'data lost':>9} {'hangs':>6}")
    for family in dict.fromkeys(o.case.family for o in outcomes):
        _row(family, [o for o in outcomes if o.case.family == family])
    _row("total", outcomes)
    print(f"({seconds:.0f} s)")
    for outcome in outcomes:
        if not outcome.ok:
            print(f"FAIL {outcome.case.family}: {outcome.case.name}: {'; '.join(outcome.detail)}", file=sys.stderr)


def _row(name: str, outcomes: list[Outcome]) -> None:
    counts = [sum(getattr(o, flag) for o in outcomes) for flag in COUNTERS]
    print(f"{name:10} {len(outcomes):>6} {counts[0]:>10} {counts[1]:>11} {counts[2]:>9} {counts[3]:>6}")


if __name__ == "__main__":
    sys.exit(main())
