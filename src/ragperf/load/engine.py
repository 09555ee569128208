"""The load parent: start N workers, set each up once, run rate steps, merge their histograms.

Per step the parent sends one command line to each worker (the rate and a common wall-clock
start a moment ahead) and then only listens: progress lines a few times a second and one
result line per worker at the end. Ctrl-C reaches the workers too (same process group; the
parent also forwards it), each finishes its query in flight and still sends what it measured.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, NoReturn, Protocol

from ragperf.errors import ExitCode, PipelineFailed, RagperfError
from ragperf.load.spec import LoadWorkerSpec, StepCommand

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.config import Config
    from ragperf.queries import Query

__all__ = ["LoadProgress", "LoadSession", "StepOutcome"]

_SETUP_TIMEOUT_S = 600.0
_LEAD_S = 0.3  # the common start is this far ahead, so every worker has the command in time
_STOP_GRACE_S = 15.0


class LoadProgress(Protocol):
    """What the engine tells the display during a step."""

    def step_started(self, step: int, rate: float, duration_s: float) -> None:
        """A step begins."""

    def update(self, completed: int, errors: int, p95_ms: float | None) -> None:
        """Completed queries so far in this step (all workers) and the latest p95."""


@dataclass(frozen=True)
class StepOutcome:
    """Every worker's result line for one step, and whether the user stopped it."""

    parts: list[dict[str, Any]]
    interrupted: bool


class LoadSession:
    """N worker processes with the pipeline set up, ready to run rate steps."""

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
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[str]] = []
        # Raw reads plus our own line splitting: a buffered readline would hide lines from select().
        self._buffers: dict[int, bytes] = {}
        logs.mkdir(parents=True, exist_ok=True)
        self._logs_dir = logs
        for index in range(workers):
            spec = LoadWorkerSpec(
                config=config,
                config_dir=str(config_dir),
                queries=queries,
                warmup=warmup,
                index=index,
                workers=workers,
                concurrency=concurrency,
                seed=int.from_bytes(os.urandom(4), "little"),
            )
            spec_path = logs / f"worker{index}.spec.json"
            spec_path.write_text(spec.model_dump_json(), encoding="utf-8")
            log = (logs / f"worker{index}.log").open("w", encoding="utf-8")
            self._logs.append(log)
            command = [sys.executable, "-m", "ragperf.load.worker", str(spec_path.resolve())]
            self._procs.append(
                subprocess.Popen(  # noqa: S603 - our own worker module, run by this interpreter
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=config_dir, bufsize=0
                )
            )

    def wait_ready(self) -> float | None:
        """Block until every worker has set up and warmed up; return the median warm-up service time (ms)."""
        times = []
        for index in range(len(self._procs)):
            events = self._events(index, _SETUP_TIMEOUT_S)
            if not events or events[0]["type"] != "ready":
                self._fail(index, events[0] if events else None)
            if events[0].get("service_ms") is not None:
                times.append(float(events[0]["service_ms"]))
        return sorted(times)[len(times) // 2] if times else None

    def run_step(
        self, step: int, rate: float, duration_s: float, arrival: str, window_s: float, progress: LoadProgress
    ) -> StepOutcome:
        """Run one rate step on every worker and collect their result lines."""
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
        for proc in self._procs:
            if proc.stdin is None:  # pragma: no cover - opened with PIPE
                raise RuntimeError("worker stdin")
            proc.stdin.write(command.encode() + b"\n")
        progress.step_started(step, rate, duration_s)
        deadline = time.monotonic() + _LEAD_S + duration_s + drain_s + 60.0
        interrupted = False
        results: dict[int, dict[str, Any]] = {}
        try:
            self._collect(step, progress, deadline, results)
        except KeyboardInterrupt:
            interrupted = True
            self._interrupt()
            self._collect(step, progress, time.monotonic() + _STOP_GRACE_S, results)
        parts = [lane for i in sorted(results) for lane in results[i]["lanes"]]
        return StepOutcome(parts=parts, interrupted=interrupted or any(p["interrupted"] for p in parts))

    def close(self) -> None:
        """Let the workers tear the pipeline down and exit; kill any that will not."""
        for proc in self._procs:
            if proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
        for proc in self._procs:
            try:
                proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for log in self._logs:
            log.close()

    def _interrupt(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)

    def _collect(self, step: int, progress: LoadProgress, deadline: float, results: dict[int, dict[str, Any]]) -> None:
        latest: dict[int, tuple[int, int, float | None]] = {}
        selector = selectors.DefaultSelector()
        for index, proc in enumerate(self._procs):
            if proc.stdout is not None and index not in results:
                selector.register(proc.stdout, selectors.EVENT_READ, index)
        try:
            while len(results) < len(self._procs):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._interrupt()
                    msg = f"load workers did not finish step {step} in time; see the logs in {self._logs_dir}"
                    raise PipelineFailed(msg)
                for key, _ in selector.select(timeout=min(remaining, 0.5)):
                    index = int(key.data)
                    events = self._events(index, 0)
                    if not events:
                        self._fail(index, None)
                    for event in events:
                        if event["type"] == "result":
                            results[index] = event
                            selector.unregister(key.fileobj)
                            lanes = event["lanes"]
                            p95 = latest.get(index, (0, 0, None))[2]
                            done = sum(int(lane["completed"]) for lane in lanes)
                            latest[index] = (done, sum(int(lane["errors"]) for lane in lanes), p95)
                            self._show(latest, progress)
                        elif event["type"] == "progress":
                            latest[index] = (event["completed"], event["errors"], event["p95_ms"])
                            self._show(latest, progress)
                        elif event["type"] == "error":
                            self._fail(index, event)
        finally:
            selector.close()

    @staticmethod
    def _show(latest: dict[int, tuple[int, int, float | None]], progress: LoadProgress) -> None:
        p95s = [p for _, _, p in latest.values() if p is not None]
        completed = sum(c for c, _, _ in latest.values())
        progress.update(completed, sum(e for _, e, _ in latest.values()), max(p95s) if p95s else None)

    def _events(self, index: int, timeout: float) -> list[dict[str, Any]]:
        """The complete lines worker `index` has sent (waiting up to timeout for the first); [] at EOF."""
        proc = self._procs[index]
        if proc.stdout is None:  # pragma: no cover - opened with PIPE
            return []
        buffer = self._buffers.get(index, b"")
        while b"\n" not in buffer:
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                if not selector.select(timeout=timeout):
                    return []
            chunk = os.read(proc.stdout.fileno(), 1 << 20)
            if not chunk:
                return []
            buffer += chunk
            timeout = 60.0  # the rest of a line that has started arrives promptly
        *lines, rest = buffer.split(b"\n")
        self._buffers[index] = rest
        return [json.loads(line) for line in lines if line.strip()]

    def _fail(self, index: int, event: dict[str, Any] | None) -> NoReturn:
        """Stop everything and raise the worker's own error, or say where its log is."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        self.close()
        if event is not None and event.get("type") == "error":
            error = RagperfError(event["message"])
            error.exit_code = ExitCode(event["exit_code"])
            raise error
        log = self._logs_dir / f"worker{index}.log"
        tail = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        last = f": {tail[-1].strip()}" if tail else ""
        msg = f"load worker {index} stopped unexpectedly{last} (log: {log})"
        raise PipelineFailed(msg)
