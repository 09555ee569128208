"""The measuring process: `python -m ragperf.worker SPEC.json STREAM.jsonl`.

Imports the user's code, calls setup once, runs the warm-up queries (not measured), switches the
backend on, runs the measured queries, switches it off, calls teardown. Every event goes to the
stream file as it happens. This module imports no typer and no rich: it must stay light, since
wrapping profilers see everything it loads.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any

from ragperf import notes, spans
from ragperf.backends.registry import load_backend
from ragperf.errors import ExitCode, PipelineFailed, RagperfError
from ragperf.pipeline import Executor, StageFailed, build_plan
from ragperf.spec import Stream, WorkerSpec
from ragperf.state import State

if TYPE_CHECKING:
    from ragperf.backends.base import Backend
    from ragperf.memory.session import MemorySession
    from ragperf.spec import QueryItem

__all__ = ["main"]

_TRACEBACK_LIMIT = 4000


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m ragperf.worker SPEC.json STREAM.jsonl", file=sys.stderr)
        return ExitCode.USAGE
    spec = WorkerSpec.model_validate_json(Path(args[0]).read_text(encoding="utf-8"))
    stream = Stream(Path(args[1]))
    try:
        return _run(spec, stream)
    except RagperfError as exc:
        stream.write("error", exit_code=int(exc.exit_code), message=str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        stream.write("end", complete=False, reason="interrupted")
        return ExitCode.INTERRUPTED
    finally:
        stream.close()


def _run(spec: WorkerSpec, stream: Stream) -> int:
    # The config's folder goes first, so a module beside the config imports with no PYTHONPATH.
    sys.path.insert(0, spec.config_dir)
    memory = _memory_session(spec)  # before the pipeline's imports, so its RSS is the start
    backend, _ = load_backend(spec.backend, spec.backend_options)
    plan = build_plan(spec.config)
    recorder = spans.Recorder()
    spans.install(recorder)
    notes.install_sink(lambda text: stream.write("note", text=text))
    executor = Executor(plan, recorder, probe=None if memory is None else memory.probe)
    try:
        ctx = _setup(executor, spec.config.pipeline.options, stream)
        try:
            for i in range(spec.warmup):
                _warm(executor, spec.queries[i % len(spec.queries)], ctx, i)
                stream.write("warmup", index=i)
            recorder.drain()
            if memory is not None:
                memory.baseline(stream)
            complete, reason = _measure(spec, executor, backend, ctx, stream, memory)
            if memory is not None and complete:
                memory.snapshots(executor, spec.queries, ctx, spec.measured, stream)
        finally:
            executor.teardown(ctx)
    finally:
        spans.install(None)
        notes.install_sink(None)
        executor.close()
        if memory is not None:
            memory.close()
    stream.write("end", complete=complete, reason=reason)
    return ExitCode.OK


def _memory_session(spec: WorkerSpec) -> MemorySession | None:
    if not spec.memory and spec.leak is None:
        return None
    from ragperf.memory.session import MemorySession

    return MemorySession(spec.leak)


def _setup(executor: Executor, options: dict[str, Any], stream: Stream) -> Any:
    start = perf_counter_ns()
    ctx = executor.setup(options)
    stream.write("ready", setup_ms=(perf_counter_ns() - start) / 1e6)
    return ctx


def _warm(executor: Executor, item: QueryItem, ctx: Any, index: int) -> None:
    try:
        executor.run_query(State(item.text, ctx, {}, item.id, dict(item.meta)))
    except StageFailed as failed:
        msg = (
            f"warm-up query {index} ('{item.id}') failed: {failed}; fix the stage, or use --warmup 0 to see it measured"
        )
        raise PipelineFailed(msg) from failed


def _measure(
    spec: WorkerSpec, executor: Executor, backend: Backend, ctx: Any, stream: Stream, memory: MemorySession | None
) -> tuple[bool, str | None]:
    """Run the measured queries under the backend; return (complete, why not)."""
    artifacts = Path(spec.artifacts)
    recorder = executor.recorder
    backend.start(artifacts)
    try:
        for index in range(spec.measured):
            item = spec.queries[index % len(spec.queries)]
            state = State(item.text, ctx, {}, item.id, dict(item.meta))
            error = None
            start = perf_counter_ns()
            try:
                executor.run_query(state)
            except StageFailed as failed:
                error = _error_record(failed)
            total_ns = perf_counter_ns() - start
            if memory is not None:  # the readings' own time is not the pipeline's
                total_ns -= memory.after_query(index, item.id, stream)
            stream.write("query", **_query_record(index, item, total_ns, recorder.drain(), error))
            if error is not None and spec.fail_fast:
                return False, f"stopped by --fail-fast at query {index} (stage '{error['stage']}' raised)"
    except KeyboardInterrupt:
        return False, "interrupted"
    finally:
        backend.stop()
    return True, None


def _error_record(failed: StageFailed) -> dict[str, Any]:
    error = failed.error
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "stage": failed.path,
        "type": type(error).__name__,
        "message": str(error),
        "traceback": text[-_TRACEBACK_LIMIT:],
    }


def _query_record(
    index: int, item: QueryItem, total_ns: int, records: list[spans.SpanRecord], error: dict[str, Any] | None
) -> dict[str, Any]:
    durations: dict[str, float] = {}
    metrics: dict[str, dict[str, float]] = {}
    for path, _start, duration_ns, _error, span_metrics in records:
        # A span that ran several times in one query (a marked block in a loop) adds up.
        durations[path] = durations.get(path, 0.0) + duration_ns / 1e6
        if span_metrics:
            metrics.setdefault(path, {}).update(span_metrics)
    return {
        "index": index,
        "id": item.id,
        "query": item.text,
        "total_ms": total_ns / 1e6,
        "spans": durations,
        "metrics": metrics,
        "error": error,
    }


if __name__ == "__main__":
    sys.exit(main())
