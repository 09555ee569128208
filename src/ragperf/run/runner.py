"""`ragperf run` and `ragperf leak`, the parent side: plan, supervise the worker, finalise, write.

load queries → resolve backend (available?) → claim the output → write the worker spec → start
the worker (wrapped by the backend when it is a wrapper) and follow its stream → write the run
file from the stream → collect the profiler's native output → write the run file again with the
profile. The latency data is on disk before the profile is read, so an interrupted or failing
collect loses nothing measured.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ragperf.backends.base import BackendOutput
from ragperf.backends.registry import load_backend
from ragperf.environment import load_average, now_iso
from ragperf.errors import ExitCode, RagperfError
from ragperf.interrupts import SignalLatch
from ragperf.outputs import RunOutput, default_run_file
from ragperf.queries import Query, load_queries, locate_queries
from ragperf.run.assemble import RunContext, build_run_file, pending_profile_warning
from ragperf.run.spec import WorkerSpec
from ragperf.run.supervisor import Limits, supervise
from ragperf.schema.io import atomic_write_text, save_run

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.backends.base import Backend
    from ragperf.config import Config
    from ragperf.memory.settings import LeakSettings
    from ragperf.run.events import Event
    from ragperf.run.supervisor import Progress
    from ragperf.schema.run import RunFile

__all__ = ["RunOutcome", "RunRequest", "execute"]


class _Silent:
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


@dataclass(frozen=True)
class RunOutcome:
    """The run file written, and the exit code it calls for."""

    run: RunFile
    path: Path
    exit_code: ExitCode | int
    backend_output: BackendOutput


def execute(request: RunRequest, progress: Progress | None = None) -> RunOutcome:
    """Run the pipeline in a worker and write the run file; raise RagperfError on user mistakes."""
    progress = progress or _Silent()
    config = request.config
    config_dir = request.config_path.parent.resolve()
    queries = _queries(request, config_dir)
    backend, entry = load_backend(request.backend, request.backend_options)
    backend.check_available()
    label = request.label or ("leak" if request.leak is not None else request.backend)
    given = request.output or default_run_file(config.pipeline.name, label, request.stamp)
    with RunOutput(given, unique=request.output is None) as output:
        artifacts = output.artifacts.resolve()
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
        )
        atomic_write_text(spec_path, spec.model_dump_json())
        command = backend.wrap_command(
            [sys.executable, "-m", "ragperf.run.worker", str(spec_path), str(stream_path)], artifacts
        )
        limits = Limits(
            setup_s=config.run.setup_timeout_s,
            query_s=config.run.query_timeout_s,
            teardown_s=config.run.teardown_timeout_s,
        )
        started_at, load_start = now_iso(), load_average()
        progress.begin(request.warmup, request.measured)
        supervised = supervise(command, stream_path, artifacts / "worker.log", config_dir, progress, limits)
        context = RunContext(
            config=config,
            config_path=request.config_path,
            config_dir=config_dir,
            queries=queries,
            warmup=request.warmup,
            requested=request.measured,
            backend=backend,
            entry=entry,
            started_at=started_at,
            load_start=load_start,
            log_path=artifacts / "worker.log",
            leak=request.leak,
        )
        # A second Ctrl-C while the measurements are written must not lose them: it is counted, not raised.
        with SignalLatch() as latch:
            run, code = build_run_file(context, supervised, pending_profile=backend.produces_profile)
            save_run(run, output.path)
        if latch.signum is not None and code < ExitCode.HANGUP:
            code = 128 + latch.signum
        collected = BackendOutput()
        if backend.produces_profile:
            collected = _collect(backend, artifacts, run)
            run = run.model_copy(
                update={
                    "hotspots": tuple(collected.hotspots),
                    "artifacts": tuple(collected.artifacts),
                    "warnings": tuple(w for w in run.warnings if w != pending_profile_warning(backend.name))
                    + tuple(collected.warnings),
                }
            )
            save_run(run, output.path)
    return RunOutcome(run=run, path=output.path, exit_code=code, backend_output=collected)


def _collect(backend: Backend, artifacts: Path, run: RunFile) -> BackendOutput:
    """The backend's profile; a native file it cannot read becomes a warning, not a lost run."""
    try:
        return backend.collect(artifacts, run.stages)
    except Exception as exc:  # noqa: BLE001 - a third-party reader's failure must not lose the measurements
        log = artifacts / "collect-error.log"
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        msg = f"could not read the {backend.name} profile ({type(exc).__name__}: {exc}); no hotspots (details: {log})"
        return BackendOutput(warnings=[msg])


def _queries(request: RunRequest, config_dir: Path) -> list[Query]:
    if request.query_text is not None:
        return [Query("q0000", request.query_text)]
    spec = request.config.pipeline.queries
    if spec is None:
        msg = "no queries: set pipeline.queries in the config, or pass --query TEXT"
        raise RagperfError(msg)
    return load_queries(locate_queries(spec, config_dir))
