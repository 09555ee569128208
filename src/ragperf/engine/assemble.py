"""Turn what the worker streamed into a run file, and decide the exit code it calls for.

Works on every way a worker can end: complete, interrupted by a signal, stopped by a phase
limit, dead, or with a teardown that raised. What was measured is always kept; a run with no
measured query raises the one-line error that says why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ragperf
from ragperf.analysis.contention import contention_warning, machine_load
from ragperf.analysis.summary import summarise
from ragperf.engine.events import End, Fatal, Measuring, Note, Ready, RunWarning, SpanPaths, TeardownFailed
from ragperf.environment import capture_environment
from ragperf.errors import ExitCode, PipelineFailed, RagperfError
from ragperf.interrupts import signal_name
from ragperf.memory.sections import memory_sections
from ragperf.queries import query_set_digest
from ragperf.schema.run import BackendInfo, RunFile, SetupTime
from ragperf.stages import stage_infos, unmatched_span_targets

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from ragperf.backends.base import Backend
    from ragperf.backends.registry import BackendEntry
    from ragperf.config import Config
    from ragperf.engine.events import Event
    from ragperf.engine.supervisor import Supervised
    from ragperf.memory.settings import LeakSettings
    from ragperf.queries import Query

__all__ = ["RunContext", "build_run_file", "pending_profile_warning"]

_EARLY_PHASES = ("setup", "warm-up", "measuring")


@dataclass(frozen=True)
class RunContext:
    """What the parent knew before the worker started."""

    config: Config
    config_path: Path
    config_dir: Path
    queries: Sequence[Query]
    warmup: int
    requested: int
    backend: Backend
    entry: BackendEntry
    started_at: str
    load_start: tuple[float, float, float] | None
    log_path: Path
    leak: LeakSettings | None


def pending_profile_warning(backend: str) -> str:
    """Said by the first write of a run file, replaced once the profile is read (it stays if ragperf stops first)."""
    return f"the {backend} profile was not read into this file (ragperf stopped first); its native output is kept"


def build_run_file(context: RunContext, supervised: Supervised, *, pending_profile: bool) -> tuple[RunFile, int]:
    """The run file of what the worker streamed, and its exit code; raise when nothing was measured."""
    events = supervised.events
    fatal = next((e for e in events if isinstance(e, Fatal)), None)
    if fatal is not None:
        error = RagperfError(fatal.message)
        error.exit_code = ExitCode(fatal.exit_code)
        raise error
    table = supervised.table.build(context.queries)
    end = next((e for e in reversed(events) if isinstance(e, End)), None)
    # A worker that ragperf stopped for a phase limit reports the SIGINT it got: that is no user's signal.
    worker_signal = end.signal if end is not None and supervised.timeout is None else None
    signum = supervised.signum or worker_signal
    complete, reason = _completion(context, supervised, end, table.n)
    if not table.n:
        raise _nothing_measured(context, events, supervised, signum, reason)
    config = context.config
    seen = {path: info for e in events if isinstance(e, SpanPaths) for path, info in e.paths.items()}
    infos = stage_infos(config, table.paths, seen)
    summary = summarise(table, infos, config.targets, config.report)
    memory, leak, summary = memory_sections(
        events, summary, config.targets, leak=context.leak, warmup=context.warmup, order=[i.path for i in infos]
    )
    machine = machine_load(supervised.table.machine, table, os.cpu_count() or 1)
    contended = contention_warning(machine)
    warnings = (
        *_warnings(events, supervised),
        *unmatched_span_targets(config, infos),
        *((contended,) if contended else ()),
        *((_profiled_warning(context.backend.name),) if context.backend.produces_profile else ()),
    )
    backend, entry = context.backend, context.entry
    ready = next((e for e in events if isinstance(e, Ready)), None)
    measuring = next((e for e in events if isinstance(e, Measuring)), None)
    run = RunFile(
        kind="leak" if context.leak is not None else "run",
        ragperf_version=ragperf.__version__,
        pipeline=config.pipeline.name,
        complete=complete,
        incomplete_reason=reason,
        notes=tuple(dict.fromkeys(e.text for e in events if isinstance(e, Note))),
        warnings=(*warnings, *((pending_profile_warning(backend.name),) if pending_profile else ())),
        environment=capture_environment(
            context.config_dir,
            context.started_at,
            context.load_start,
            () if entry.distribution is None else (entry.distribution,),
            None if measuring is None else measuring.packages,
        ),
        setup=None if ready is None else SetupTime(import_ms=ready.import_ms, setup_ms=ready.setup_ms),
        config=config.model_dump(mode="json"),
        config_file=str(context.config_path),
        config_digest=config.digest(),
        queries_digest=query_set_digest(context.queries),
        backend=BackendInfo(
            name=backend.name, distribution=entry.distribution, version=entry.version, options=backend.options
        ),
        warmup=context.warmup,
        requested=context.requested,
        stages=tuple(infos),
        queries=table,
        summary=summary,
        memory=memory,
        leak=leak,
        machine=machine,
    )
    return run, _exit_code(run, signum, teardown_failed=_teardown_failed(events, supervised))


def _profiled_warning(backend: str) -> str:
    """A profiler's sampling slows the pipeline: its latencies are not the ones targets should judge."""
    return (
        f"latencies were measured under {backend}, whose sampling slows the pipeline: take target verdicts "
        "and bottleneck priorities from a run with the timer backend ('ragperf run -b timer')"
    )


def _completion(context: RunContext, supervised: Supervised, end: End | None, measured: int) -> tuple[bool, str | None]:
    of = f"after {measured} of {context.requested} queries"
    if supervised.timeout is not None and supervised.timeout_phase in _EARLY_PHASES:
        # The query that hung is the one after the last the stream holds (a batch is flushed on the stop).
        return False, f"{supervised.timeout_message(measured)}; ragperf stopped the worker {of}"
    if end is not None:
        return end.complete, end.reason
    if supervised.signum is not None:
        return False, f"interrupted ({signal_name(supervised.signum)}); the worker was stopped {of}"
    code = supervised.returncode
    how = f"signal {signal_name(-code)}" if code < 0 else f"exit code {code}"
    return False, f"the worker died ({how}) {of}{_log_tail(context.log_path)}"


def _log_tail(log_path: Path) -> str:
    """The log's last meaningful line (an exception's message, not the ^^^^ under its code)."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    meaningful = [line.strip() for line in lines if line.strip() and set(line.strip()) - set("^~ ")]
    return f": {meaningful[-1]}" if meaningful else ""


def _teardown_failed(events: Sequence[Event], supervised: Supervised) -> bool:
    return supervised.timeout_phase == "teardown" or any(isinstance(e, TeardownFailed) for e in events)


def _warnings(events: Sequence[Event], supervised: Supervised) -> tuple[str, ...]:
    found = [e.text for e in events if isinstance(e, RunWarning)]
    found += [e.message for e in events if isinstance(e, TeardownFailed)]
    if supervised.timeout is not None and supervised.timeout_phase not in _EARLY_PHASES:
        found.append(f"{supervised.timeout_message(0)}; ragperf stopped the worker, every measured query is kept")
    return tuple(dict.fromkeys(found))


def _nothing_measured(
    context: RunContext, events: Sequence[Event], supervised: Supervised, signum: int | None, reason: str | None
) -> RagperfError:
    phase = "warm-up" if any(isinstance(e, Ready) for e in events) else "setup"
    if signum is not None:
        error = RagperfError(f"interrupted ({signal_name(signum)}) during {phase}; nothing was measured")
        error.exit_code = ExitCode(128 + signum)
        return error
    if supervised.timeout is not None:
        return PipelineFailed(f"{supervised.timeout_message(0)}; nothing was measured (worker log: {context.log_path})")
    return PipelineFailed(f"the worker stopped before any query was measured: {reason}")


def _exit_code(run: RunFile, signum: int | None, *, teardown_failed: bool) -> int:
    if signum is not None:
        return 128 + signum
    if not run.complete or teardown_failed or run.summary.n_failed:
        return ExitCode.PIPELINE
    return ExitCode.OK
