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

from ragperf.engine.events import BlockDone, End, Measuring, QueryBatch, Ready, Teardown, Warmup
from ragperf.engine.stream import StreamFollower
from ragperf.engine.table import TableBuilder
from ragperf.interrupts import SignalLatch

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.engine.events import Event

__all__ = ["POLL_S", "Limits", "Progress", "Supervised", "Worker", "supervise"]

POLL_S = 0.1
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

    def saw(self, event: Event, now: float, *, served: bool = False) -> None:
        if isinstance(event, Ready):
            self.name = "warm-up"
        elif isinstance(event, Measuring):
            self.name = "idle" if served else "measuring"  # a served worker waits for its first block
        elif isinstance(event, BlockDone):
            self.name = "idle"
        elif isinstance(event, Teardown):
            self.name = "teardown"
        elif isinstance(event, End):
            self.name = "exit"
        elif not isinstance(event, (Warmup, QueryBatch)):
            return  # notes and memory readings do not restart a phase's clock
        self.since = now

    def commanded(self, now: float) -> None:
        """A served worker was asked for a block: its queries are timed from now."""
        self.name, self.since = "measuring", now

    def expired(self, now: float) -> str | None:
        """Why the current phase has run out of time, or None."""
        if self.name == "idle":  # a served worker waiting for its next block: the parent's pace, not a hang
            return None
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


class Worker:
    """One worker process under supervision: started, followed, limited, stopped, and always reaped.

    `supervise` drives one to its end; `ragperf.engine.interleave` drives two served ones side by side. A
    served worker reads its commands on stdin (`send`); between blocks it is idle, which no limit times.
    """

    def __init__(
        self,
        command: list[str],
        stream_path: Path,
        log_path: Path,
        cwd: Path,
        progress: Progress,
        limits: Limits,
        *,
        served: bool = False,
        table: TableBuilder | None = None,
    ) -> None:
        self._follower = StreamFollower(stream_path)
        self._progress = progress
        self._served = served
        self._log = log_path.open("w", encoding="utf-8")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own worker module, run by a checked interpreter
                command,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if served else subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            self._log.close()
            raise
        self._stopper = _Stopper(self._process)
        self._phase = _Phase(limits, time.monotonic())
        # `--processes`: one table takes the queries of every process in turn.
        self.result = Supervised(returncode=0) if table is None else Supervised(returncode=0, table=table)

    @property
    def running(self) -> bool:
        """The process has not exited yet."""
        return self._process.poll() is None

    def follow(self) -> list[Event]:
        """Take in the events appended since the last call; return them (the batches are in `result.table`)."""
        now = time.monotonic()
        events = self._follower.poll()
        for event in events:
            if isinstance(event, QueryBatch):
                self.result.table.add(event)  # decoded now: a million queries are arrays, not lines kept
            else:
                self.result.events.append(event)
            self._phase.saw(event, now, served=self._served)
            self._progress.event(event)
        return events

    def check(self, now: float, *, stopping: bool) -> None:
        """Enforce the phase limits (not while a stop is under way) and the stop's escalation."""
        result = self.result
        if result.timeout is None and not stopping:
            result.timeout = self._phase.expired(now)
            if result.timeout is not None:
                result.timeout_phase = self._phase.name
                if self._phase.name == "exit":
                    self._stopper.kill_group()  # everything is written; nothing left to finish
                else:
                    self.close_input()
                    self._stopper.ask(now, _TERMINATE_GRACE_S, twice=self._phase.name in {"warm-up", "measuring"})
        self._stopper.tick(now)

    def send(self, line: str) -> bool:
        """Give a served worker one command; False when it can no longer read (it has exited)."""
        stdin = self._process.stdin
        if stdin is None or stdin.closed:
            return False
        try:
            stdin.write(line.encode())
            stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        self._phase.commanded(time.monotonic())
        return True

    def close_input(self) -> None:
        """End a served worker's blocks: at the end of its stdin it finishes the query in flight and tears down."""
        stdin = self._process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()

    def on_signal(self, signum: int, count: int) -> None:
        """A stop signal the parent received: forwarded (with a grace) the first time, a kill after that."""
        if count == 1:
            self.close_input()
            grace = _INTERRUPT_GRACE_S if signum == signal.SIGINT else _TERMINATE_GRACE_S
            self._stopper.ask(time.monotonic(), grace)
        else:
            self._stopper.kill_group()

    def finish(self, signum: int | None) -> Supervised:
        """Kill whatever the worker left running, reap it, read its last events; return what happened."""
        self.close_input()
        self._stopper.kill_group()
        self._process.wait()
        self._log.close()
        self.follow()
        self.result.returncode = self._process.returncode
        self.result.signum = signum
        return self.result


def supervise(
    command: list[str],
    stream_path: Path,
    log_path: Path,
    cwd: Path,
    progress: Progress,
    limits: Limits,
    table: TableBuilder | None = None,
) -> Supervised:
    """Run the worker to its end, following its stream; return its events and what stopped it."""
    worker = Worker(command, stream_path, log_path, cwd, progress, limits, table=table)
    signum: int | None = None
    try:
        with SignalLatch(worker.on_signal) as latch:
            while worker.running:
                time.sleep(POLL_S)
                worker.follow()
                worker.check(time.monotonic(), stopping=latch.count > 0)
            signum = latch.signum
    finally:
        result = worker.finish(signum)
    return result
