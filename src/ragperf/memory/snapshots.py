"""Growing allocation sites: tracemalloc snapshots a few iterations apart, attributed to stages.

tracemalloc costs x8.7-x60, so it runs only here, on a few extra iterations after the leak
series (never during it: its own bookkeeping would show up in the heap trend). A site is a
line whose live bytes grew in *both* snapshot intervals, which drops one-off growth such as
a cache filling up. Its stage is the innermost `<exec@ragperf-stage:PATH>` trampoline frame on the
allocation's traceback, hence the deep traceback (`frames`).
"""

from __future__ import annotations

import gc
import linecache
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragperf.schema.run import OUTSIDE_STAGES as OUTSIDE
from ragperf.trampoline import stage_of_filename

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["OUTSIDE", "TRUNCATED", "growing_sites"]

TRUNCATED = "<unknown: stack deeper than the frames kept>"
MIN_SITE_BYTES_PER_ITER = 1024
MAX_SITES = 20
_SNAPSHOTS = 3


@dataclass
class _Site:
    stage: str
    file: str
    line: int
    sizes: list[int]
    counts: list[int]
    stack: tuple[str, ...]
    stack_size: int


def growing_sites(run_iteration: Callable[[int], None], first: int, every: int, frames: int) -> dict[str, Any]:
    """Run 1 + 2*every iterations under tracemalloc; return the growing sites (bytes) and totals per stage."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(frames)
    try:
        # One iteration first, so allocations made once under tracing (its caches) are not growth.
        run_iteration(first)
        index = first + 1
        snapshots = [_snapshot()]
        for _ in range(_SNAPSHOTS - 1):
            for _ in range(every):
                run_iteration(index)
                index += 1
            snapshots.append(_snapshot())
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return _compare(snapshots, every)


def _snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])


def _compare(snapshots: list[tracemalloc.Snapshot], every: int) -> dict[str, Any]:
    sites: dict[tuple[str, str, int], _Site] = {}
    for i, snapshot in enumerate(snapshots):
        for stat in snapshot.statistics("traceback"):
            stage, stack = _stage_and_stack(stat.traceback, snapshot.traceback_limit)
            innermost = stat.traceback[-1]
            key = (stage, innermost.filename, innermost.lineno)
            site = sites.get(key)
            if site is None:
                zeros = [0] * len(snapshots)
                site = sites[key] = _Site(stage, innermost.filename, innermost.lineno, zeros, list(zeros), stack, 0)
            site.sizes[i] += stat.size
            site.counts[i] += stat.count
            if stat.size > site.stack_size:  # show the stack that holds the most
                site.stack, site.stack_size = stack, stat.size
    span = every * (len(snapshots) - 1)
    growing = [s for s in sites.values() if all(b > a for a, b in zip(s.sizes, s.sizes[1:], strict=False))]
    by_stage: dict[str, float] = {}
    for site in growing:
        by_stage[site.stage] = by_stage.get(site.stage, 0.0) + (site.sizes[-1] - site.sizes[0]) / span
    growing.sort(key=lambda s: s.sizes[-1] - s.sizes[0], reverse=True)
    return {
        "every": every,
        "stages": by_stage,
        "sites": [
            {
                "stage": s.stage,
                "file": s.file,
                "line": s.line,
                "code": linecache.getline(s.file, s.line).strip() or None,
                "growth": (s.sizes[-1] - s.sizes[0]) / span,
                "blocks": (s.counts[-1] - s.counts[0]) / span,
                "size": s.sizes[-1],
                "stack": list(s.stack),
            }
            for s in growing[:MAX_SITES]
            if (s.sizes[-1] - s.sizes[0]) / span >= MIN_SITE_BYTES_PER_ITER
        ],
    }


def _stage_and_stack(traceback: tracemalloc.Traceback, limit: int) -> tuple[str, tuple[str, ...]]:
    """The innermost stage on the traceback, and the frames inside it, innermost first."""
    frames = list(traceback)  # oldest first
    for depth in range(len(frames) - 1, -1, -1):
        stage = stage_of_filename(frames[depth].filename)
        if stage is not None:
            inner = frames[depth + 1 :]
            return stage, tuple(f"{f.filename}:{f.lineno}" for f in reversed(inner))
    # A traceback as long as the limit may have been cut before it reached a stage: say so
    # rather than blame "outside stages" (grouped statistics drop `total_nframe`).
    stage = TRUNCATED if len(frames) >= limit else OUTSIDE
    return stage, tuple(f"{f.filename}:{f.lineno}" for f in reversed(frames))
