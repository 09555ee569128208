"""Cost of `ragperf leak` against the pipeline's own time for the same iterations, setup aside.

Runs the leak check as `ragperf leak -n N` does (default: the built-in demo, 20 iterations) and
times the worker's phases from its stream as the parent receives it: from the memory baseline
(setup and warm-up done) to teardown is the leak check's time for the iterations (their gc, the
readings, the tracemalloc snapshots when the series grew); the pipeline's own time is the sum of
the iterations' query totals. Goal: the leak check under 3x the pipeline's own time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from time import perf_counter

from ragperf.cli.common import demo_config
from ragperf.cli.leak import MIN_LEAK_WARMUP
from ragperf.config import load_config
from ragperf.engine.events import Event, MemoryBaseline, Ready, Teardown
from ragperf.engine.runner import RunRequest, execute
from ragperf.memory.settings import LeakSettings

GOAL = 3.0


class Clock:
    """A progress display that notes when each phase's first event reached the parent."""

    def __init__(self) -> None:
        self.start = perf_counter()
        self.at: dict[type, float] = {}

    def begin(self, warmup: int, measured: int) -> None:  # noqa: ARG002 - the Progress protocol
        self.start = perf_counter()

    def event(self, event: Event) -> None:
        self.at.setdefault(type(event), perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", nargs="?", type=Path, help="pipeline config (default: the built-in demo)")
    parser.add_argument("-n", "--iterations", type=int, default=20)
    args = parser.parse_args()
    config_path = args.config or demo_config()
    if config_path is None:
        parser.error("the built-in demo is not installed: pass a config")
    config = load_config(config_path)
    settings = LeakSettings(
        snapshot_every=config.memory.snapshot_every,
        frames=config.memory.frames,
        min_slope=config.memory.min_leak_mb_per_iter,
    )
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        request = RunRequest(
            config=config,
            config_path=config_path,
            output=Path(tmp) / "leak.json",
            measured=args.iterations,
            warmup=max(config.run.warmup, MIN_LEAK_WARMUP),
            memory=True,
            leak=settings,
        )
        run = execute(request, clock).run
    wall = perf_counter() - clock.start
    ready, baseline, teardown = (clock.at[kind] - clock.start for kind in (Ready, MemoryBaseline, Teardown))
    leak_s = teardown - baseline
    own_s = float(run.queries.total_ms.values.sum()) / 1e3
    leak = run.leak
    snapshots = "none" if leak is None or leak.snapshot_every == 0 else f"every {leak.snapshot_every}"
    print(f"{run.pipeline}: ragperf leak -n {args.iterations} (snapshots: {snapshots})")
    print("| phase | s |")
    print("| --- | --- |")
    print(f"| wall, the whole command | {wall:.1f} |")
    print(f"| start, imports and setup | {ready:.1f} |")
    print(f"| warm-up ({request.warmup} queries) | {baseline - ready:.1f} |")
    print(f"| the {args.iterations} leak iterations (baseline to teardown) | {leak_s:.1f} |")
    print(f"| the pipeline's own time for them (query totals) | {own_s:.1f} |")
    print(f"| teardown, fit and write | {wall - teardown:.1f} |")
    ratio = leak_s / own_s
    verdict = "PASS" if ratio < GOAL else "FAIL"
    print(f"goal: the leak iterations under {GOAL:g}x the pipeline's own time: x{ratio:.2f} {verdict}")
    if leak is not None:
        print(leak.message)


if __name__ == "__main__":
    main()
