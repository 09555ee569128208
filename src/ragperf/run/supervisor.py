"""The parent's hold on the worker process: start it, follow its stream, stop it, and never leave it behind.

The worker runs in a process group of its own, so a terminal's Ctrl-C reaches the parent alone
and the parent decides: the first stop signal (SIGINT, SIGTERM, SIGHUP) is forwarded as SIGINT,
which lets the query in flight finish; a second one, or the grace running out, kills the whole
group. Phase limits (setup, each query, teardown, exit after the last event) end a worker that
hangs. On every way out the group is killed, so no worker or child of the pipeline runs on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ragperf.interrupts import SignalLatch
from ragperf.run.events import End, Measuring, QueryBatch, Ready, Teardown, Warmup
from ragperf.run.stream import StreamFollower
from ragperf.run.table import TableBuilder

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.run.events import Event

__all__ = ["Limits", "Progress", "Supervised", "supervise"]

_POLL_S = 0.1
_INTERRUPT_GRACE_S = 15.0  # Ctrl-C: an interactive user can press it again to cut this short
_TERMINATE_GRACE_S = 5.0  # SIGTERM/SIGHUP: container stops allow ~10 s before SIGKILL
_SECOND_SIGINT_S = 1.0  # a timed-out query is aborted by a second SIGINT after this


class Progress(Protocol):
    """What the runner tells the display: totals once, then each event from the worker."""

    def begin(self, warmup: int, measured: int) -> None:
        """The run is about to start."""

    def event(self, event: Event) -> None:
        """One event from the worker's stream."""


@dataclass(frozen=True)
class Limits:
    """How long each phase may take before ragperf ends the worker (None: no limit)."""

    setup_s: float | None = 600.0
    query_s: float | None = None
    teardown_s: float | None = 60.0
    exit_s: float = 10.0  # after the worker's last event; a stray thread or child keeps it alive


@dataclass
class Supervised:
    """What happened to the worker."""

    returncode: int
    events: list[Event] = field(default_factory=list)  # every event but the query batches
    table: TableBuilder = field(default_factory=TableBuilder)  # the batches, decoded as they arrived
    signum: int | None = None  # the first stop signal the parent received
    timeout: str | None = None  # why ragperf ended the worker itself, when a phase limit ran out
    timeout_phase: str | None = None  # setup, warm-up, measuring, teardown or exit

    def timeout_message(self, measured: int) -> str | None:
        """Why a phase limit stopped the worker; a hung query is numbered by the queries measured before it."""
        return None if self.timeout is None else self.timeout.format(n=measured)


class _Phase:
    """Which phase the worker is in, from its events, and when that phase's limit runs out."""

    def __init__(self, limits: Limits, started: float) -> None:
        self._limits = limits
        self.name = "setup"
        self.since = started

    def saw(self, event: Event, now: float) -> None:
        if isinstance(event, Ready):
            self.name = "warm-up"
        elif isinstance(event, Measuring):
            self.name = "measuring"
        elif isinstance(event, Teardown):
            self.name = "teardown"
        elif isinstance(event, End):
            self.name = "exit"
        elif not isinstance(event, (Warmup, QueryBatch)):
            return  # notes and memory readings do not restart a phase's clock
        self.since = now

    def expired(self, now: float) -> str | None:
        """Why the current phase has run out of time, or None."""
        limits = self._limits
        limit, what = {
            "setup": (limits.setup_s, "setup did not finish within {s:g} s (run.setup_timeout_s)"),
            "warm-up": (limits.query_s, "a warm-up query did not finish within {s:g} s (run.query_timeout_s)"),
            "measuring": (limits.query_s, "query {{n}} did not finish within {s:g} s (run.query_timeout_s)"),
            "teardown": (limits.teardown_s, "teardown did not finish within {s:g} s (run.teardown_timeout_s)"),
            "exit": (
                limits.exit_s,
                "the worker did not exit within {s:g} s of its last event (a thread or child process of the "
                "pipeline kept it alive)",
            ),
        }[self.name]
        if limit is None or now - self.since < limit:
            return None
        return what.format(s=limit)


class _Stopper:
    """Escalates: SIGINT to the worker now, (SIGINT again,) then SIGKILL to its group at the deadline."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._kill_at: float | None = None
        self._again_at: float | None = None

    def ask(self, now: float, grace: float, *, twice: bool = False) -> None:
        self._signal(signal.SIGINT)
        self._kill_at = now + grace if self._kill_at is None else min(self._kill_at, now + grace)
        self._again_at = now + _SECOND_SIGINT_S if twice else None

    def tick(self, now: float) -> None:
        if self._again_at is not None and now >= self._again_at:
            self._again_at = None
            self._signal(signal.SIGINT)
        if self._kill_at is not None and now >= self._kill_at:
            self.kill_group()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL to the worker's process group: the worker, its profiler, the pipeline's children."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)


def supervise(
    command: list[str], stream_path: Path, log_path: Path, cwd: Path, progress: Progress, limits: Limits
) -> Supervised:
    """Run the worker to its end, following its stream; return its events and what stopped it."""
    follower = StreamFollower(stream_path)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(  # noqa: S603 - our own worker module, run by this interpreter
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True
        )
        stopper = _Stopper(process)
        result = Supervised(returncode=0)
        phase = _Phase(limits, time.monotonic())

        def on_signal(signum: int, count: int) -> None:
            if count == 1:
                grace = _INTERRUPT_GRACE_S if signum == signal.SIGINT else _TERMINATE_GRACE_S
                stopper.ask(time.monotonic(), grace)
            else:
                stopper.kill_group()

        def follow() -> None:
            now = time.monotonic()
            for event in follower.poll():
                if isinstance(event, QueryBatch):
                    result.table.add(event)  # decoded now: a million queries are arrays, not lines kept
                else:
                    result.events.append(event)
                phase.saw(event, now)
                progress.event(event)

        try:
            with SignalLatch(on_signal) as latch:
                while process.poll() is None:
                    time.sleep(_POLL_S)
                    follow()
                    now = time.monotonic()
                    if result.timeout is None and latch.count == 0:
                        result.timeout = phase.expired(now)
                        if result.timeout is not None:
                            result.timeout_phase = phase.name
                            if phase.name == "exit":
                                stopper.kill_group()  # everything is written; nothing left to finish
                            else:
                                stopper.ask(now, _TERMINATE_GRACE_S, twice=phase.name in {"warm-up", "measuring"})
                    stopper.tick(now)
                result.signum = latch.signum
        finally:
            stopper.kill_group()  # whatever the worker left running goes with it
            process.wait()
        follow()
    result.returncode = process.returncode
    return result
