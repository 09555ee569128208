"""A load worker process: `python -m ragperf.load.worker SPEC.json`.

Sets the pipeline up once, runs its warm-up queries, says "ready" and then runs one rate step
per command read from stdin, replying with one `protocol.Result` of histograms per step (plus a
small `Progress` every `progress_s`). The protocol uses a private copy of stdout; the user's
prints go to stderr (the parent's log file). The first SIGINT sets a stop flag, so a query in
flight finishes and the step's results so far are still sent; no stage is cut mid-call. It
asks to die with its parent, and reports an exception of its own as an `Error` with the
traceback's tail before it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from pathlib import Path
from time import perf_counter_ns
from typing import IO, TYPE_CHECKING, Any

from ragperf import spans
from ragperf.errors import ExitCode, PipelineFailed, RagperfError
from ragperf.load.lanes import LaneRecorder, lane_recorder, run_lanes
from ragperf.load.protocol import Error, Progress, Ready, Result, encode
from ragperf.load.spec import LoadWorkerSpec, StepCommand
from ragperf.pipeline import Executor, StageFailed, build_plan
from ragperf.prctl import die_with_parent, tight_timers
from ragperf.state import State

if TYPE_CHECKING:
    from types import FrameType

    from ragperf.load.protocol import WorkerEvent

__all__ = ["main"]

_stopping = False
_TRACEBACK_LINES = 8


def _on_sigint(_signum: int, _frame: FrameType | None) -> None:
    global _stopping  # noqa: PLW0603 - the signal handler's one flag, read on the hot path
    _stopping = True


def _stopped() -> bool:
    return _stopping


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ragperf.load.worker SPEC.json", file=sys.stderr)
        return ExitCode.USAGE
    # The protocol keeps the real stdout; anything the pipeline prints goes to stderr instead.
    proto = os.fdopen(os.dup(1), "wb")  # buffered: it finishes a write a signal interrupted
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, _on_sigint)
    tight_timers()
    try:
        spec = LoadWorkerSpec.model_validate_json(Path(args[0]).read_text(encoding="utf-8"))
        if spec.parent_pid is not None and not die_with_parent(spec.parent_pid):
            os._exit(1)  # the parent is already gone: nobody would read a result
        return _serve(spec, proto)
    except RagperfError as exc:
        _send(proto, Error(exit_code=int(exc.exit_code), message=str(exc)))
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - reported to the parent, then the worker exits
        # A bug, or a failure outside any stage: the whole traceback goes to the log, and the parent
        # hears the exception line itself, not whatever the log holds when it looks.
        traceback.print_exc()
        lines = "".join(traceback.format_exception(exc)).splitlines()
        first = (str(exc).splitlines() or [""])[0]
        message = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        _send(proto, Error(exit_code=ExitCode.PIPELINE, message=message, traceback=tuple(lines[-_TRACEBACK_LINES:])))
        return ExitCode.PIPELINE
    finally:
        proto.close()


def _send(proto: IO[bytes], event: WorkerEvent) -> None:
    with contextlib.suppress(BrokenPipeError):  # the parent is gone; nobody is left to tell
        proto.write(encode(event))
        proto.flush()


def _serve(spec: LoadWorkerSpec, proto: IO[bytes]) -> int:
    sys.path.insert(0, spec.config_dir)
    plan = build_plan(spec.config)
    executors = [Executor(plan, spans.Recorder()) for _ in range(spec.concurrency)]
    executor = executors[0]
    if spec.concurrency == 1:
        spans.install(executor.recorder)  # one lane: no dispatch on the hot path
    else:
        spans.install(LaneRecorder())
        lane_recorder.set(executor.recorder)
    target = spec.config.targets.p95_ms
    good_ns = None if target is None else int(target * 1e6)
    try:
        ctx = _setup(executor, spec)
        try:
            service_ms = _warm(executor, spec, ctx)
            executor.recorder.drain()
            _send(proto, Ready(pid=os.getpid(), service_ms=service_ms))
            for line in sys.stdin:
                if not line.strip() or _stopping:
                    break
                command = StepCommand.model_validate_json(line)

                def report(done: int, errors: int, p95: float | None, step: int = command.step) -> None:
                    _send(proto, Progress(step=step, completed=done, errors=errors, p95_ms=p95))

                tallies = run_lanes(executors, spec, ctx, command, stop=_stopped, report=report, good_ns=good_ns)
                _send(proto, Result(step=command.step, lanes=tuple(tally.record() for tally in tallies)))
        finally:
            executor.teardown(ctx)
    finally:
        spans.install(None)
        for each in executors:
            each.close()
    return ExitCode.OK


def _setup(executor: Executor, spec: LoadWorkerSpec) -> Any:
    start = perf_counter_ns()
    ctx = executor.setup(spec.config.pipeline.options)
    print(f"setup took {(perf_counter_ns() - start) / 1e6:.0f} ms", file=sys.stderr)
    return ctx


def _warm(executor: Executor, spec: LoadWorkerSpec, ctx: Any) -> float | None:
    """Run the warm-up queries; return the last half's median service time in ms (a capacity hint)."""
    times: list[float] = []
    for i in range(spec.warmup):
        item = spec.queries[(i + spec.index) % len(spec.queries)]
        start = perf_counter_ns()
        try:
            executor.run_query(State(item.text, ctx, {}, item.id, dict(item.meta)))
        except StageFailed as failed:
            msg = f"warm-up query {i} ('{item.id}') failed: {failed}; fix the stage, or pass --warmup 0"
            raise PipelineFailed(msg) from failed
        times.append((perf_counter_ns() - start) / 1e6)
    warm = sorted(times[len(times) // 2 :])  # the first queries pay for cold caches
    return warm[len(warm) // 2] if warm else None


if __name__ == "__main__":
    sys.exit(main())
