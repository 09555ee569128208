"""A rich progress display that follows the worker's events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ragperf.engine.events import QueryBatch, Ready, Teardown, Warmup

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import Console
    from rich.progress import TaskID

    from ragperf.engine.events import Event

__all__ = ["CompareProgress", "RunProgress", "query_bar"]


def query_bar(console: Console, label_width: int, *, eta: bool = True) -> Progress:
    """The bar every long command shows: label, bar, n/m, elapsed, ETA (unless told), and a note field."""
    # markup=False: a note can carry user text (an error message, a file name).
    estimate = (TextColumn("eta", markup=False), TimeRemainingColumn()) if eta else ()
    return Progress(
        TextColumn(f"{{task.description:<{label_width}}}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        *estimate,
        TextColumn("{task.fields[note]}", markup=False),
        console=console,
    )


class RunProgress:
    """Setup, warm-up and measured queries, with ETA and the last query's latency.

    `shared` and `label`: the bars of one side of a compare, in the display both sides share.
    """

    def __init__(self, console: Console, *, shared: Progress | None = None, label: str = "") -> None:
        self._progress = shared or query_bar(console, 10)
        self._label = f"{label} " if label else ""
        self._warm: TaskID | None = None
        self._measured: TaskID | None = None
        self._failed = 0
        self._warmup = 0
        self._started = False

    def __enter__(self) -> RunProgress:
        # The display starts in begin(), once the config and backend checks have passed, so
        # that an early one-line error is not preceded by an empty progress area.
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        if self._progress.live.is_started:
            self._progress.stop()

    def begin(self, warmup: int, measured: int) -> None:
        """Create the bars and start the display."""
        self._warmup = warmup
        self._progress.start()
        label = self._label
        self._warm = self._progress.add_task(f"{label}setup", total=warmup or None, note="importing and setting up")
        self._measured = self._progress.add_task(f"{label}measured", total=measured, note="", start=False)

    def event(self, event: Event) -> None:
        """Advance on each worker event."""
        if self._warm is None or self._measured is None:  # begin() has not run: nothing to show
            return
        if isinstance(event, Ready):
            note = f"setup took {event.setup_ms / 1000:.1f} s"
            self._progress.update(self._warm, description=f"{self._label}warm-up", note=note)
        elif isinstance(event, Warmup):
            self._progress.update(self._warm, description=f"{self._label}warm-up", advance=1)
        elif isinstance(event, QueryBatch):
            if not self._started:
                self._started = True
                self._progress.update(self._warm, total=self._warmup or 1, completed=self._warmup or 1)
                self._progress.start_task(self._measured)
            self._failed += len(event.failures)
            failed = f", {self._failed} failed" if self._failed else ""
            self._progress.update(self._measured, advance=event.n, note=f"last {event.last_ms:.0f} ms{failed}")
        elif isinstance(event, Teardown):
            self._progress.update(self._measured, note="tearing down")


class CompareProgress:
    """Both sides of a compare, each with its setup and measured bars, in one display."""

    def __init__(self, console: Console) -> None:
        self._progress = query_bar(console, 17)
        self.sides = {side: RunProgress(console, shared=self._progress, label=side) for side in ("baseline", "new")}

    def __enter__(self) -> CompareProgress:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        if self._progress.live.is_started:
            self._progress.stop()
