"""`ragperf run` and `ragperf leak`, the parent side: plan, supervise the worker, finalise, write.

load queries → resolve backend (available?) → claim the output → write the worker spec → start
the worker (wrapped by the backend when it is a wrapper) and follow its stream → write the run
file from the stream → collect the profiler's native output → write the run file again with the
profile. The latency data is on disk before the profile is read, so an interrupted or failing
collect loses nothing measured.

With `--processes K` the measured queries are shared out over K workers run one after the other,
each set up and warmed up on its own, into one table: what differs between processes (memory
layout, hash seeds, the machine's state at the time) shows as variation between them, which
`ragperf diff` then reads (`analysis/replicated.py`). A process that does not finish its share ends
the run there, with every query measured so far.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ragperf.backends.base import BackendOutput
from ragperf.backends.registry import load_backend
from ragperf.engine.assemble import RunContext, build_run_file, pending_profile_warning
from ragperf.engine.events import End, Ready
from ragperf.engine.spec import WorkerSpec
from ragperf.engine.supervisor import Limits, Supervised, supervise
from ragperf.engine.table import TableBuilder
from ragperf.environment import load_average, now_iso
from ragperf.errors import ExitCode, RagperfError
from ragperf.interrupts import SignalLatch
from ragperf.memory.sections import with_profiler_peaks
from ragperf.outputs import ARTIFACTS_SUFFIX, RunOutput, default_run_file, process_artifacts
from ragperf.queries import Query, load_queries, locate_queries
from ragperf.schema.io import atomic_write_text, save_run
from ragperf.schema.run import ProcessRun

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ragperf.backends.base import Backend
    from ragperf.backends.registry import BackendEntry
    from ragperf.config import Config
    from ragperf.engine.events import Event
    from ragperf.engine.supervisor import Progress
    from ragperf.memory.settings import LeakSettings
    from ragperf.schema.run import RunFile

__all__ = [
    "Prepared",
    "RunOutcome",
    "RunRequest",
    "Silent",
    "execute",
    "finalise",
    "finished_share",
    "limits_of",
    "load_request_queries",
    "merged_runs",
    "prepare",
    "process_runs",
    "process_shares",
]


class Silent:
    """A display that shows nothing."""

    def begin(self, warmup: int, measured: int) -> None:
        pass

    def event(self, event: Event) -> None:
        pass


@dataclass(frozen=True)
class RunRequest:
    """One `ragperf run` (or leak) as the command line resolved it."""

    config: Config
    config_path: Path
    output: Path | None = None  # None: a fresh name under .ragperf/runs
    backend: str = "timer"
    backend_options: dict[str, Any] = field(default_factory=dict)
    measured: int = 100
    warmup: int = 3
    query_text: str | None = None
    fail_fast: bool = False
    memory: bool = False  # per-stage RSS, heap and peak (ragperf.memory)
    cpu_time: bool = False  # each stage's CPU time beside its wall time
    leak: LeakSettings | None = None  # `ragperf leak`: each measured query is one leak iteration
    label: str | None = None  # the default file name's last part (default: the backend, or "leak")
    stamp: str | None = None  # the default file name's time, shared by the runs of one `ragperf profile`
    processes: int = 1  # worker processes the measured queries are shared out over, one after the other


@dataclass(frozen=True)
class RunOutcome:
    """The run file written, and the exit code it calls for."""

    run: RunFile
    path: Path
    exit_code: ExitCode | int
    backend_output: BackendOutput


def execute(request: RunRequest, progress: Progress | None = None) -> RunOutcome:
    """Run the pipeline in a worker and write the run file; raise RagperfError on user mistakes."""
    progress = progress or Silent()
    config = request.config
    config_dir = request.config_path.parent.resolve()
    queries = load_request_queries(request, config_dir)
    backend, entry = load_backend(request.backend, request.backend_options)
    shares = process_shares(request.measured, request.processes)
    if len(shares) > 1:
        _check_replicable(request, backend)
    backend.check_available()
    label = request.label or ("leak" if request.leak is not None else request.backend)
    given = request.output or default_run_file(config.pipeline.name, label, request.stamp)
    with RunOutput(given, unique=request.output is None) as output:
        artifacts = output.artifacts.resolve()
        progress.begin(request.warmup * len(shares), request.measured)
        table = TableBuilder()
        runs: list[tuple[Prepared, Supervised]] = []
        ends: list[int] = []  # the table's size after each process
        with SignalLatch() as between:  # a stop signal between two processes: no further process starts
            for index, share in enumerate(shares):
                where = artifacts if len(shares) == 1 else process_artifacts(artifacts, index)
                where.mkdir(parents=True, exist_ok=True)
                part = replace(request, measured=share)
                prepared = prepare(part, queries, backend, entry, where, first_query=sum(shares[:index]))
                table.next_process()
                supervised = supervise(
                    prepared.command,
                    prepared.stream_path,
                    prepared.context.log_path,
                    config_dir,
                    progress,
                    limits_of(config),
                    table,
                )
                runs.append((prepared, supervised))
                ends.append(table.n)
                if between.count or not finished_share(supervised):
                    break
        prepared, supervised = merged_runs(runs, request.measured, between.signum)
        update = {"processes": process_runs(runs, ends)} if len(shares) > 1 else None
        return finalise(prepared, supervised, output.path, update)


def process_shares(measured: int, processes: int) -> list[int]:
    """Measured queries per process: as even as they divide, the earlier processes taking the remainder."""
    k = max(1, min(processes, measured))
    base, extra = divmod(measured, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def _check_replicable(request: RunRequest, backend: Backend) -> None:
    """Several processes share out timing only: a profile, memory readings or a leak series are one process's."""
    if request.leak is not None:
        raise RagperfError("a leak check follows one process's memory over its iterations: drop --processes")
    if request.memory:
        raise RagperfError("--memory reads one process's memory: drop --processes, or run without --memory")
    if backend.produces_profile:
        raise RagperfError(
            f"backend '{backend.name}' profiles one process: drop --processes, or use it with the timer backend"
        )


def finished_share(supervised: Supervised) -> bool:
    """The process measured all its share and ended as asked: the next one may start."""
    end = next((e for e in reversed(supervised.events) if isinstance(e, End)), None)
    return (
        end is not None
        and end.complete
        and supervised.signum is None
        and supervised.timeout is None
        and supervised.returncode == 0
    )


def merged_runs(
    runs: Sequence[tuple[Prepared, Supervised]], measured: int, signum: int | None
) -> tuple[Prepared, Supervised]:
    """One run of the processes' events and table: the first one's start, the last one's ending."""
    first, _ = runs[0]
    last, ended = runs[-1]
    if len(runs) == 1 and signum is None:
        return last, ended
    context = replace(
        last.context, started_at=first.context.started_at, load_start=first.context.load_start, requested=measured
    )
    merged = Supervised(
        returncode=ended.returncode,
        events=[event for _, supervised in runs for event in supervised.events],
        table=ended.table,
        signum=ended.signum or signum,
        timeout=ended.timeout,
        timeout_phase=ended.timeout_phase,
    )
    return replace(last, context=context), merged


def process_runs(runs: Sequence[tuple[Prepared, Supervised]], ends: Sequence[int]) -> tuple[ProcessRun, ...]:
    """Which measured queries each process ran, and its setup time."""
    out = []
    for (_, supervised), first, end in zip(runs, (0, *ends), ends, strict=False):
        ready = next((e for e in supervised.events if isinstance(e, Ready)), None)
        out.append(ProcessRun(first=first, n=end - first, setup_ms=None if ready is None else ready.setup_ms))
    return tuple(out)


@dataclass(frozen=True)
class Prepared:
    """A worker ready to start: its command, its stream, and what the parent knew before it started."""

    command: list[str]
    stream_path: Path
    context: RunContext


def prepare(
    request: RunRequest,
    queries: Sequence[Query],
    backend: Backend,
    entry: BackendEntry,
    artifacts: Path,
    *,
    python: str | None = None,
    served: bool = False,
    first_query: int = 0,
    cpus: tuple[int, ...] | None = None,
) -> Prepared:
    """Write the worker's spec into `artifacts`; the command that runs it (`python`: another interpreter)."""
    config = request.config
    config_dir = request.config_path.parent.resolve()
    stream_path, spec_path = artifacts / "stream.jsonl", artifacts / "spec.json"
    spec = WorkerSpec(
        config=config,
        config_dir=str(config_dir),
        queries=tuple(queries),
        warmup=request.warmup,
        measured=request.measured,
        fail_fast=request.fail_fast,
        backend=request.backend,
        backend_options=backend.options,
        backend_wraps=backend.placement == "wrapper",
        artifacts=str(artifacts),
        parent_pid=os.getpid(),
        memory=request.memory,
        cpu_time=request.cpu_time or request.config.run.cpu_time,
        leak=request.leak,
        served=served,
        first_query=first_query,
        cpus=cpus,
    )
    atomic_write_text(spec_path, spec.model_dump_json())
    command = backend.wrap_command(
        [python or sys.executable, "-m", "ragperf.engine.worker", str(spec_path), str(stream_path)], artifacts
    )
    context = RunContext(
        config=config,
        config_path=request.config_path,
        config_dir=config_dir,
        queries=queries,
        warmup=request.warmup,
        requested=request.measured,
        backend=backend,
        entry=entry,
        started_at=now_iso(),
        load_start=load_average(),
        log_path=artifacts / "worker.log",
        leak=request.leak,
    )
    return Prepared(command=command, stream_path=stream_path, context=context)


def limits_of(config: Config) -> Limits:
    """The phase limits the config's [run] table sets."""
    run = config.run
    return Limits(setup_s=run.setup_timeout_s, query_s=run.query_timeout_s, teardown_s=run.teardown_timeout_s)


def finalise(
    prepared: Prepared, supervised: Supervised, path: Path, update: Mapping[str, Any] | None = None
) -> RunOutcome:
    """Write the run file from the stream (with `update`'s fields), then again with the profile collected."""
    context = prepared.context
    backend = context.backend
    # A second Ctrl-C while the measurements are written must not lose them: it is counted, not raised.
    with SignalLatch() as latch:
        run, code = build_run_file(context, supervised, pending_profile=backend.produces_profile)
        if update:
            run = run.model_copy(update=dict(update))
        save_run(run, path)
    if latch.signum is not None and code < ExitCode.HANGUP:
        code = 128 + latch.signum
    collected = BackendOutput()
    if backend.produces_profile:
        collected = _collect(backend, path.with_name(path.stem + ARTIFACTS_SUFFIX), run)
        if collected.working is not None:
            run = with_profiler_peaks(run, collected.working, context.config.targets)
        run = run.model_copy(
            update={
                "hotspots": tuple(collected.hotspots),
                "profiles": tuple(collected.profiles),
                "artifacts": tuple(collected.artifacts),
                "warnings": tuple(w for w in run.warnings if w != pending_profile_warning(backend.name))
                + tuple(collected.warnings),
            }
        )
        save_run(run, path)
    return RunOutcome(run=run, path=path, exit_code=code, backend_output=collected)


def _collect(backend: Backend, artifacts: Path, run: RunFile) -> BackendOutput:
    """The backend's profile; a native file it cannot read becomes a warning, not a lost run."""
    try:
        return backend.collect(artifacts, run.stages)
    except Exception as exc:  # noqa: BLE001 - a third-party reader's failure must not lose the measurements
        log = artifacts / "collect-error.log"
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        msg = f"could not read the {backend.name} profile ({type(exc).__name__}: {exc}); no hotspots (details: {log})"
        return BackendOutput(warnings=[msg])


def load_request_queries(request: RunRequest, config_dir: Path) -> list[Query]:
    """The queries the request runs: its one --query text, or the config's query file."""
    if request.query_text is not None:
        return [Query("q0000", request.query_text)]
    spec = request.config.pipeline.queries
    if spec is None:
        msg = "no queries: set pipeline.queries in the config, or pass --query TEXT"
        raise RagperfError(msg)
    return load_queries(locate_queries(spec, config_dir))
