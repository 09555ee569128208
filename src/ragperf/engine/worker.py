"""The measuring process: `python -m ragperf.engine.worker SPEC.json STREAM.jsonl`.

Imports the user's code, calls setup once, runs the warm-up queries (not measured), switches the
backend on, runs the measured queries, switches it off, calls teardown. Every event goes to the
stream file as it happens (`ragperf.engine.events`). This module imports no typer and no rich: it
must stay light, since wrapping profilers see everything it loads.

Stopping: SIGINT, SIGTERM and SIGHUP (the parent forwards what it receives; the kernel sends
SIGTERM when the parent dies) abort setup and warm-up at once, since nothing is measured yet;
during the measured queries the first one lets the query in flight finish and be recorded, and
a second one aborts it.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from ragperf import notes, spans, threads
from ragperf.backends.registry import load_backend
from ragperf.engine.batch import BatchWriter
from ragperf.engine.events import (
    End,
    Fatal,
    Measuring,
    Note,
    QueryFailure,
    Ready,
    RunWarning,
    Teardown,
    TeardownFailed,
    Warmup,
)
from ragperf.engine.machine import usage_now
from ragperf.engine.served import served_positions
from ragperf.engine.spec import WorkerSpec
from ragperf.engine.stream import Stream
from ragperf.errors import ExitCode, PipelineFailed, RagperfError
from ragperf.frameworks import registry as frameworks
from ragperf.imported import imported_distributions, loaded_modules
from ragperf.interrupts import STOP_SIGNALS, Interrupted, signal_name
from ragperf.pipeline import Executor, StageFailed, build_plan
from ragperf.prctl import die_with_parent, pin_to_cpus
from ragperf.state import State

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import FrameType

    from ragperf.backends.base import Backend
    from ragperf.frameworks.base import FrameworkAdapter
    from ragperf.memory.session import MemorySession
    from ragperf.pipeline import StageProbe
    from ragperf.queries import Query

__all__ = ["main"]

_TRACEBACK_LIMIT = 4000


class _Stop:
    """The worker's stop signals: raise at once, except the first one while queries are measured."""

    def __init__(self) -> None:
        self.measuring = False
        self.signum: int | None = None  # the first stop signal, once one arrived

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
        if not (first and self.measuring):
            raise Interrupted(signum)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def reason(self) -> str:
        return f"interrupted ({signal_name(self.signum or signal.SIGINT)})"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m ragperf.engine.worker SPEC.json STREAM.jsonl", file=sys.stderr)
        return ExitCode.USAGE
    spec = WorkerSpec.model_validate_json(Path(args[0]).read_text(encoding="utf-8"))
    stop = _Stop()
    stop.install()
    # SIGTERM, not SIGKILL: the worker still writes its last line before it goes.
    if not die_with_parent(spec.parent_pid, signal.SIGTERM):
        return 128 + signal.SIGTERM
    stream = Stream(Path(args[1]))
    if spec.cpus:
        pin_to_cpus(spec.cpus)
    try:
        code = _run(spec, stream, stop)
    except RagperfError as exc:
        stream.emit(Fatal(exit_code=int(exc.exit_code), message=str(exc)))
        stream.emit(End(complete=False, reason=str(exc)))
        code = exc.exit_code
    except KeyboardInterrupt as exc:
        stop.signum = stop.signum or getattr(exc, "signum", signal.SIGINT)
        stream.emit(End(complete=False, reason=stop.reason(), signal=stop.signum))
        code = 128 + (stop.signum or signal.SIGINT)
    stray = _stray_threads()
    if stray:
        names = ", ".join(f"'{t.name}'" for t in stray)
        stream.emit(
            RunWarning(f"the pipeline left non-daemon threads running ({names}); ragperf did not wait for them")
        )
    stream.close()
    if stray and not spec.backend_wraps:
        # Interpreter shutdown would join those threads forever; everything measured is written.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _stray_threads() -> list[threading.Thread]:
    main_thread = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main_thread and not t.daemon and t.is_alive()]


def _run(spec: WorkerSpec, stream: Stream, stop: _Stop) -> int:
    # The config's folder goes first, so a module beside the config imports with no PYTHONPATH.
    sys.path.insert(0, spec.config_dir)
    memory = _memory_session(spec)  # before the pipeline's imports, so its RSS is the start
    backend, _ = load_backend(spec.backend, spec.backend_options)
    before = loaded_modules()
    started = perf_counter_ns()
    plan = build_plan(spec.config)  # imports every module the config names
    import_ms = (perf_counter_ns() - started) / 1e6
    recorder = _start_recording(spec, memory, stream)
    executor = Executor(plan, recorder, probe=None if memory is None else memory.probe)
    adapters: list[FrameworkAdapter] = []
    try:
        ctx = _setup(executor, spec.config.pipeline.options, stream, import_ms)
        # After setup: the pipeline's frameworks are imported by now, and warm-up frames their components.
        switches = spec.config.frameworks
        adapters = frameworks.activate(enabled=switches.enabled, disable=switches.disable)
        try:
            for i in range(spec.warmup):
                _warm(executor, spec.queries[i % len(spec.queries)], ctx, i)
                stream.emit(Warmup(index=i))
            recorder.drain()
            recorder.drain_cpu()
            if memory is not None:
                memory.baseline(stream)
            complete, reason = _measure(spec, executor, backend, ctx, stream, memory, stop, before)
            if memory is not None and complete:
                memory.snapshots(executor, spec.queries, ctx, spec.measured, stream)
        finally:
            stream.emit(Teardown())
            try:
                executor.teardown(ctx)
            except PipelineFailed as exc:
                stream.emit(TeardownFailed(message=str(exc)))
            except KeyboardInterrupt as exc:  # what was measured stands; the signal still sets the exit code
                stop.signum = stop.signum or getattr(exc, "signum", signal.SIGINT)
                stream.emit(TeardownFailed(message=f"teardown was {stop.reason()}"))
    finally:
        frameworks.deactivate(adapters)
        _stop_recording()
        executor.close()
        if memory is not None:
            memory.close()
    stream.emit(End(complete=complete, reason=reason, signal=stop.signum))
    return ExitCode.OK if stop.signum is None else 128 + stop.signum


def _start_recording(spec: WorkerSpec, memory: MemorySession | None, stream: Stream) -> spans.Recorder:
    """Spans recorded (nested ones shown to the memory probe), work on other threads kept in its span, notes sent."""
    recorder = spans.Recorder()
    if spec.cpu_time:
        recorder.cpu = []
    spans.install(recorder)
    if memory is not None:
        spans.watch(memory.probe)
    threads.install()
    notes.install_sink(lambda text: stream.emit(Note(text)))
    return recorder


def _stop_recording() -> None:
    spans.install(None)
    spans.watch(None)
    threads.uninstall()
    notes.install_sink(None)


def _memory_session(spec: WorkerSpec) -> MemorySession | None:
    if not spec.memory and spec.leak is None:
        return None
    from ragperf.memory.session import MemorySession

    return MemorySession(spec.leak)


def _setup(executor: Executor, options: dict[str, Any], stream: Stream, import_ms: float) -> Any:
    start = perf_counter_ns()
    ctx = executor.setup(options)
    stream.emit(Ready(setup_ms=(perf_counter_ns() - start) / 1e6, import_ms=import_ms))
    return ctx


def _state(item: Query, ctx: Any) -> State:
    return State(item.text, ctx, {}, item.id, dict(item.meta))


def _warm(executor: Executor, item: Query, ctx: Any, index: int) -> None:
    try:
        executor.run_query(_state(item, ctx))
    except StageFailed as failed:
        msg = (
            f"warm-up query {index} ('{item.id}') failed: {failed}; fix the stage, or use --warmup 0 to see it measured"
        )
        raise PipelineFailed(msg) from failed


def _measure(
    spec: WorkerSpec,
    executor: Executor,
    backend: Backend,
    ctx: Any,
    stream: Stream,
    memory: MemorySession | None,
    stop: _Stop,
    before: frozenset[str],
) -> tuple[bool, str | None]:
    """Run the measured queries under the backend; return (complete, why not).

    `before`: the modules loaded before the pipeline's, so Measuring lists what it imported.
    """
    artifacts = Path(spec.artifacts)
    recorder = executor.recorder
    batch = BatchWriter(stream, recorder.kinds)
    queries, n_queries = spec.queries, len(spec.queries)
    if spec.served:
        positions: Iterator[int] = served_positions(sys.stdin, stream, batch.flush, n_queries)
    else:
        # A C iterator, not a generator expression: a generator frame under the loop made py-spy lose the
        # stage frames of ~10% of its samples (tests/integration/test_thread_waits.py).
        first = spec.first_query % n_queries
        positions = itertools.islice(itertools.cycle(range(n_queries)), first, first + spec.measured)
    packages = imported_distributions(before)  # after warm-up: lazy imports of first calls are in
    probe = executor.probe
    backend.start(artifacts)
    if backend.marks_stages:
        executor.probe = _marked(probe)
    stream.emit(Measuring(packages=packages))
    # Served: a stop signal while waiting for the next block must not abort a phase that has measured
    # queries; the parent closes stdin as it stops, which ends the wait.
    stop.measuring = True
    try:
        for index, position in enumerate(positions):
            if stop.requested:
                return False, stop.reason()
            item = queries[position]
            failure = None
            used = usage_now()
            start = perf_counter_ns()
            try:
                executor.run_query(_state(item, ctx))
            except StageFailed as failed:
                failure = _failure(index, failed)
            total_ns = perf_counter_ns() - start
            after = usage_now()
            if memory is not None:  # the readings' own time is not the pipeline's
                total_ns -= memory.after_query(index, item.id, stream)
            usage = (-1, -1) if used is None or after is None else (after[0] - used[0], after[1] - used[1])
            cpu = None if recorder.cpu is None else recorder.drain_cpu()
            batch.add(position, total_ns, recorder.drain(), failure, item.id, start - recorder.origin_ns, usage, cpu)
            if failure is not None and spec.fail_fast:
                return False, f"stopped by --fail-fast at query {index} (stage '{failure.stage}' raised)"
    except KeyboardInterrupt:
        return False, stop.reason()
    finally:
        stop.measuring = False
        batch.flush()
        backend.stop()
        executor.probe = probe
    if stop.requested:
        return False, stop.reason()
    if spec.served and batch.measured < spec.measured:
        return False, f"the parent ended the blocks after {batch.measured} of {spec.measured} queries"
    return True, None


def _marked(probe: StageProbe | None) -> StageProbe:
    """The executor's probe with the profiler's marks inside it (its readings bracket the marks)."""
    from ragperf.memory.marks import AllocationMarks
    from ragperf.memory.probe import ProbePair

    marks = AllocationMarks()
    return marks if probe is None else ProbePair(probe, marks)


def _failure(index: int, failed: StageFailed) -> QueryFailure:
    error = failed.error
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return QueryFailure(
        index=index,
        stage=failed.path,
        type=type(error).__name__,
        message=str(error),
        traceback=text[-_TRACEBACK_LIMIT:],
    )


if __name__ == "__main__":
    sys.exit(main())
