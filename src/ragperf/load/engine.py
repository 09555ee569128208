"""The load parent: start N workers, set each up once, run rate steps, collect their tallies.

Per step the parent sends one command line to each worker (the rate and a common wall-clock
start a moment ahead) and then only listens: `Progress` records a few times a second and one
`Result` per worker at the end. Each worker runs in a session (process group) of its own, so a
terminal's Ctrl-C reaches the parent alone and the parent decides: the first stop signal asks
every worker to finish its query in flight and send what it measured, a second kills them at
once. Whatever happens, leaving the session ends every worker's process group.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, NoReturn, Protocol

from ragperf.errors import ExitCode, PipelineFailed
from ragperf.interrupts import Interrupted, signal_name
from ragperf.load.logtail import frame_of, tail_of_log
from ragperf.load.protocol import Error, Progress, ProtocolError, Ready, Result, parse
from ragperf.load.spec import LoadWorkerSpec, StepCommand

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.config import Config
    from ragperf.load.protocol import LaneTally, WorkerEvent
    from ragperf.queries import Query

__all__ = ["LoadProgress", "LoadSession", "StepOutcome", "WorkerFailed"]

_SETUP_TIMEOUT_S = 600.0
_LEAD_S = 0.3  # the common start is this far ahead, so every worker has the command in time
_STOP_GRACE_S = 15.0
_OVERRUN_S = 60.0  # a query may run this long past the step's drain before the step is given up
_REAP_S = 5.0  # a worker that closed its stream is given this long to finish writing its log
_POLL_S = 0.2  # how often a wait looks at the stop signals


class WorkerFailed(PipelineFailed):
    """A load worker stopped on an error, died, or stopped answering."""


class LoadProgress(Protocol):
    """What the engine tells the display during a step."""

    def step_started(self, step: int, rate: float, duration_s: float) -> None:
        """A step begins."""

    def update(self, completed: int, errors: int, p95_ms: float | None) -> None:
        """Completed queries so far in this step (all workers) and the latest p95."""


@dataclass(frozen=True)
class StepOutcome:
    """Every lane's tally for one step, and whether a stop signal cut it short."""

    parts: list[LaneTally]
    interrupted: bool


class LoadSession:
    """N worker processes with the pipeline set up, ready to run rate steps; a context manager."""

    def __init__(
        self,
        config: Config,
        config_dir: Path,
        queries: tuple[Query, ...],
        workers: int,
        warmup: int,
        logs: Path,
        concurrency: int = 1,
    ) -> None:
        self.workers = workers
        self._specs = [
            LoadWorkerSpec(
                config=config,
                config_dir=str(config_dir),
                queries=queries,
                warmup=warmup,
                index=index,
                workers=workers,
                concurrency=concurrency,
                seed=int.from_bytes(os.urandom(4), "little"),
                parent_pid=os.getpid(),
            )
            for index in range(workers)
        ]
        self._config_dir = config_dir
        self._logs_dir = logs
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[str]] = []
        # Raw reads plus our own line splitting: a buffered readline would hide lines from select().
        self._buffers: dict[int, bytes] = {}
        # An error a worker sent after its part of a step was in: the next step fails on it, not this one.
        self._later: dict[int, Error] = {}
        self.signals = 0
        self.signum: int | None = None

    def __enter__(self) -> LoadSession:
        try:
            self._start()
        except BaseException:
            self.close()  # the workers already started must not outlive a failed start
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self._logs_dir.mkdir(parents=True, exist_ok=True)
        for spec in self._specs:
            spec_path = self._logs_dir / f"worker{spec.index}.spec.json"
            spec_path.write_text(spec.model_dump_json(), encoding="utf-8")
            log = (self._logs_dir / f"worker{spec.index}.log").open("w", encoding="utf-8")
            self._logs.append(log)
            command = [sys.executable, "-m", "ragperf.load.worker", str(spec_path.resolve())]
            self._procs.append(
                subprocess.Popen(  # noqa: S603 - our own worker module, run by this interpreter
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    cwd=self._config_dir,
                    bufsize=0,
                    start_new_session=True,
                )
            )

    def stop(self, signum: int, count: int) -> None:
        """A stop signal (called from the handler): the first lets queries in flight finish, a second kills."""
        self.signals, self.signum = count, self.signum or signum
        if count == 1:
            self._signal_workers(signal.SIGINT)
        else:
            self._end_groups()

    def wait_ready(self) -> float | None:
        """Block until every worker has set up and warmed up; return the median warm-up service time (ms)."""
        times: list[float] = []
        pending = set(range(len(self._procs)))
        deadline = time.monotonic() + _SETUP_TIMEOUT_S
        while pending:
            if self.signals:
                self._end_groups()  # nothing is measured yet: no reason to wait for a setup to finish
                raise Interrupted(self.signum or signal.SIGINT)
            if time.monotonic() > deadline:
                self._fail_all(f"load workers did not set up in {_SETUP_TIMEOUT_S:.0f} s; see {self._logs_dir}")
            for index, events in self._poll(pending):
                if events is None:
                    self._fail(index, None)
                if not events:
                    continue
                first, *rest = events
                if not isinstance(first, Ready):
                    self._fail(index, first)
                pending.discard(index)
                self._keep_errors(index, rest)
                if first.service_ms is not None:
                    times.append(first.service_ms)
        return sorted(times)[len(times) // 2] if times else None

    def run_step(
        self, step: int, rate: float, duration_s: float, arrival: str, window_s: float, progress: LoadProgress
    ) -> StepOutcome:
        """Run one rate step on every worker and collect their tallies."""
        drain_s = min(max(1.0, duration_s * 0.25), 10.0)
        command = StepCommand(
            step=step,
            rate=rate,
            arrival=arrival,  # type: ignore[arg-type]
            start_wall_ns=time.time_ns() + int(_LEAD_S * 1e9),
            duration_s=duration_s,
            drain_s=drain_s,
            window_s=window_s,
            progress_s=0.5,
        ).model_dump_json()
        for index, error in self._later.items():
            self._fail(index, error)
        for index, proc in enumerate(self._procs):
            if proc.stdin is None:  # pragma: no cover - opened with PIPE
                raise RuntimeError("worker stdin")
            try:
                proc.stdin.write(command.encode() + b"\n")
            except BrokenPipeError:
                self._fail(index, None)
        progress.step_started(step, rate, duration_s)
        results = self._collect(step, progress, time.monotonic() + _LEAD_S + duration_s + drain_s + _OVERRUN_S)
        parts = [lane for i in sorted(results) for lane in results[i].lanes]
        return StepOutcome(parts=parts, interrupted=bool(self.signals) or any(p.interrupted for p in parts))

    def close(self) -> None:
        """Let the workers tear the pipeline down and exit; kill any that will not; end every process group."""
        for proc in self._procs:
            if proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
        deadline = time.monotonic() + _STOP_GRACE_S
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        self._end_groups()  # also ends what a pipeline started in its worker's group
        for proc in self._procs:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for log in self._logs:
            log.close()

    def _signal_workers(self, signum: int) -> None:
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)

    def _end_groups(self) -> None:
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    def _collect(self, step: int, progress: LoadProgress, deadline: float) -> dict[int, Result]:
        results: dict[int, Result] = {}
        latest: dict[int, tuple[int, int, float | None]] = {}
        pending = set(range(len(self._procs)))
        first_signal: float | None = None
        while pending:
            if self.signals and first_signal is None:
                first_signal = time.monotonic()
                deadline = min(deadline, first_signal + _STOP_GRACE_S)
            if time.monotonic() > deadline:
                if self.signals:
                    self._end_groups()  # a query that will not finish: keep what the others sent
                    break
                self._fail_all(f"load workers did not finish step {step} in time; see the logs in {self._logs_dir}")
            for index, events in self._poll(pending):
                if events is None:
                    if self.signals:  # killed on the second signal
                        pending.discard(index)
                        continue
                    self._fail(index, None)
                for event in events:
                    if isinstance(event, Result):
                        results[index] = event
                        pending.discard(index)
                        done = sum(lane.completed for lane in event.lanes)
                        errors = sum(lane.errors for lane in event.lanes)
                        latest[index] = (done, errors, latest.get(index, (0, 0, None))[2])
                    elif isinstance(event, Progress):
                        latest[index] = (event.completed, event.errors, event.p95_ms)
                    elif isinstance(event, Error) and index not in results:
                        self._fail(index, event)
                self._keep_errors(index, events)
                self._show(latest, progress)
        return results

    def _keep_errors(self, index: int, events: list[WorkerEvent]) -> None:
        for event in events:
            if isinstance(event, Error):
                self._later.setdefault(index, event)

    @staticmethod
    def _show(latest: dict[int, tuple[int, int, float | None]], progress: LoadProgress) -> None:
        p95s = [p for _, _, p in latest.values() if p is not None]
        completed = sum(c for c, _, _ in latest.values())
        progress.update(completed, sum(e for _, e, _ in latest.values()), max(p95s) if p95s else None)

    def _poll(self, indices: set[int]) -> list[tuple[int, list[WorkerEvent] | None]]:
        """The complete events each readable worker has sent (None for one whose stream ended)."""
        with selectors.DefaultSelector() as selector:
            for index in indices:
                stdout = self._procs[index].stdout
                if stdout is not None:
                    selector.register(stdout, selectors.EVENT_READ, index)
            ready = selector.select(timeout=_POLL_S)
        return [(int(key.data), self._read(int(key.data))) for key, _ in ready]

    def _read(self, index: int) -> list[WorkerEvent] | None:
        stdout = self._procs[index].stdout
        chunk = os.read(stdout.fileno(), 1 << 20) if stdout is not None else b""
        if not chunk:
            return None
        *lines, rest = (self._buffers.get(index, b"") + chunk).split(b"\n")
        self._buffers[index] = rest
        try:
            return [parse(line) for line in lines if line.strip()]
        except ProtocolError as exc:
            self._fail_all(f"load worker {index}: {exc}")

    def _rest(self, index: int) -> list[WorkerEvent]:
        """Whatever a worker that has exited left unread on its stream."""
        stdout = self._procs[index].stdout
        if stdout is None or self._procs[index].poll() is None:
            return []
        data = self._buffers.pop(index, b"") + stdout.read()
        events: list[WorkerEvent] = []
        for line in data.split(b"\n"):
            if line.strip():
                with contextlib.suppress(ProtocolError):
                    events.append(parse(line))
        return events

    def _fail_all(self, message: str) -> NoReturn:
        self._end_groups()
        raise WorkerFailed(message)

    def _fail(self, index: int, event: WorkerEvent | None) -> NoReturn:
        """Stop every worker and raise the failing one's own error, or what its log says."""
        proc = self._procs[index]
        log = self._logs_dir / f"worker{index}.log"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_REAP_S)  # its log is complete once it has exited
        self._end_groups()
        if event is None:  # it may have said why before its stream ended (a write to it failed first)
            sent = [self._later.get(index), *reversed(self._rest(index))]
            event = next((e for e in sent if isinstance(e, Error)), None)
        if isinstance(event, Error):
            where = frame_of(event.traceback)
            detail = f" ({where}; log: {log})" if event.traceback else ""
            failed = WorkerFailed(f"load worker {index}: {event.message}{detail}" if detail else event.message)
            known = {int(code) for code in ExitCode}
            failed.exit_code = ExitCode(event.exit_code) if event.exit_code in known else ExitCode.PIPELINE
            raise failed
        code = proc.poll()
        # A killed worker wrote nothing about its end: only a traceback in its log can say more.
        tail = tail_of_log(log, traceback_only=code is not None and code < 0)
        how = "" if code is None else f" (exit {code})"
        if code is not None and code < 0:
            how = f" (killed by {signal_name(-code)}: out of memory, or killed from outside)"
        logged = f": {tail}" if tail else ""
        raise WorkerFailed(f"load worker {index} stopped unexpectedly{how}{logged} (log: {log})")
