"""The worker's side of `--memory` and `ragperf leak`: baseline, per-query readings, snapshots."""

from __future__ import annotations

import contextlib
import gc
from typing import TYPE_CHECKING, Any

from ragperf.engine.events import LeakSites, MemoryBaseline, MemoryReading, RunWarning, SiteRecord, StageReading
from ragperf.memory.probe import StageProbe
from ragperf.memory.readings import MemoryReader, return_freed_memory
from ragperf.pipeline import StageFailed
from ragperf.state import State
from ragperf.units import BYTES_PER_MB

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.engine.stream import Stream
    from ragperf.memory.settings import LeakSettings
    from ragperf.pipeline import Executor
    from ragperf.queries import Query

__all__ = ["MemorySession"]


_FREED_COST = (
    "with memory measured, freed blocks of 256 KiB and more go back to the system so each stage's working "
    "memory shows; a stage that builds and frees large buffers then pays their page faults on every query and "
    "runs slower than without it: take latencies from a run without --memory"
)


class MemorySession:
    """Owns the probe the executor calls, and writes memory events into the worker's stream.

    Events (bytes): `memory_baseline` once before the first measured query, `memory` after each
    measured query (leak mode collects garbage first, so the series shows what survives an
    iteration), and `leak_sites` from the tracemalloc snapshots after a series that grew.

    Leak mode's cost is kept near the pipeline's own (measured on the demo: 24 s -> see
    docs/memory.md): everything alive at the baseline is frozen out of the collector
    (`gc.freeze()`), so each iteration's full collection walks only what the series created, not
    the setup's whole heap (0.21 s a collection on the demo); and the tracemalloc iterations, the
    costliest part, run only when the series grew, since their sites explain growth.
    """

    def __init__(self, leak: LeakSettings | None) -> None:
        # Before the pipeline allocates anything, so each large block it frees leaves RSS again.
        self.returns_freed = return_freed_memory()
        self.reader = MemoryReader()
        self.rss_start = self.reader.rss()
        self.probe = StageProbe(self.reader)
        self.leak = leak
        self._series: list[tuple[int | None, int | None]] = []  # leak mode: (rss, heap) after each iteration

    def baseline(self, stream: Stream) -> None:
        """Record the setup's peak and the memory the measured queries start from."""
        if self.returns_freed and self.leak is None:
            stream.emit(RunWarning(_FREED_COST))
        gc.collect()
        if self.leak is not None:
            gc.freeze()  # what setup and warm-up left is the baseline; later collections skip it
        reader = self.reader
        # The warm-up ran through the probe, whose resets cut the high-water mark into pieces.
        warm_up, _ = self.probe.take()
        pieces = [self.probe.first_peak, reader.peak(), *(reading[5] for reading in warm_up)]
        stream.emit(
            MemoryBaseline(
                rss_start=self.rss_start,
                setup_peak=max(p for p in pieces if p is not None),
                rss=reader.rss(),
                heap=reader.heap(),
                rss_source="/proc/self/statm" if self.rss_start is not None else None,
                heap_source=reader.heap_source,
                peak_source="reset high-water mark" if reader.peak_resets else "larger of before/after",
                working_source=self._working_source(),
                working_method="rss-high-water" if reader.peak_resets else "rss-heap-ends",
            )
        )

    def _working_source(self) -> str:
        if not self.reader.peak_resets:
            return "the larger rise of RSS or heap from a stage's start to its end (no resettable high-water mark here)"
        freed = "glibc returning freed blocks of 256 KiB+" if self.returns_freed else "the allocator's own reuse"
        return f"rise of the resident high-water mark, reset at each stage ({freed}), at least the heap's rise"

    def after_query(self, index: int, item_id: str, stream: Stream) -> int:
        """Write this query's readings; return the probe's own time (ns) to leave out of the total."""
        readings, cost = self.probe.take()
        if self.leak is not None:
            gc.collect()
        reader = self.reader
        rss, heap = reader.rss(), reader.heap()
        if self.leak is not None:
            self._series.append((rss, heap))
        stages = tuple(StageReading(*reading) for reading in readings)
        stream.emit(MemoryReading(index=index, id=item_id, rss=rss, heap=heap, stages=stages, probe_ns=cost))
        return cost

    def snapshots(self, executor: Executor, queries: Sequence[Query], ctx: Any, first: int, stream: Stream) -> None:
        """Leak mode: find the growing allocation sites on a few extra iterations, after the series."""
        if self.leak is None or self.leak.snapshot_every == 0 or not self._grew(self.leak.min_slope):
            return
        from ragperf.memory.snapshots import growing_sites

        def iteration(index: int) -> None:
            item = queries[index % len(queries)]
            # A failing query was already reported by the series; here only its allocations matter.
            with contextlib.suppress(StageFailed):
                executor.run_query(State(item.text, ctx, {}, item.id, dict(item.meta)))
            executor.recorder.drain()
            gc.collect()

        probe, executor.probe = executor.probe, None
        try:
            found: dict[str, Any] = growing_sites(iteration, first, self.leak.snapshot_every, self.leak.frames)
        finally:
            executor.probe = probe
        sites = tuple(SiteRecord(**{**site, "stack": tuple(site["stack"])}) for site in found["sites"])
        stream.emit(LeakSites(frames=self.leak.frames, every=found["every"], stages=found["stages"], sites=sites))

    def _grew(self, min_slope: float) -> bool:
        """Whether RSS or heap rose faster than the noise floor: else there is no growth to attribute."""
        from ragperf.memory.trend import theil_sen

        for column in zip(*self._series, strict=False):
            known = [v / BYTES_PER_MB for v in column if v is not None]
            if len(known) >= 2 and theil_sen(known, list(range(len(known)))).slope > min_slope:
                return True
        return False

    def close(self) -> None:
        """Release the /proc files, and give the collector back what the leak series froze."""
        if self.leak is not None:
            gc.unfreeze()
        self.reader.close()
