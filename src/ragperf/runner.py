"""The parent side of `ragperf run`: plan, start the worker under the backend, collect, write.

load config → resolve backend (available?) → write the worker spec → start the worker (wrapped
by the backend when it is a wrapper) → follow its stream for progress → collect the backend's
native artifact → summarise → write the run file atomically.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import ragperf
from ragperf.analysis.summary import summarise
from ragperf.backends.registry import load_backend
from ragperf.environment import capture_environment, load_average, now_iso
from ragperf.errors import ExitCode, PipelineFailed, RagperfError
from ragperf.memory.sections import memory_sections
from ragperf.queries import Query, load_queries, locate_queries, query_set_digest
from ragperf.schema.io import save_run
from ragperf.schema.v1 import BackendInfo, QueryError, QueryRecord, RunFile, StageInfo
from ragperf.spec import QueryItem, StreamFollower, WorkerSpec, read_stream

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.backends.base import BackendOutput
    from ragperf.backends.registry import BackendEntry
    from ragperf.config import Config
    from ragperf.memory.settings import LeakSettings

__all__ = ["Progress", "RunOutcome", "RunRequest", "artifacts_dir", "execute", "stage_infos"]

_POLL_S = 0.1
_GRACE_S = 15.0


class Progress(Protocol):
    """What the runner tells the display: totals once, then each event from the worker."""

    def begin(self, warmup: int, measured: int) -> None:
        """The run is about to start."""

    def event(self, event: dict[str, Any]) -> None:
        """One event from the worker's stream (ready, warmup, query)."""


class _Silent:
    def begin(self, warmup: int, measured: int) -> None:
        pass

    def event(self, event: dict[str, Any]) -> None:
        pass


@dataclass(frozen=True)
class RunRequest:
    """One `ragperf run` as the command line resolved it."""

    config: Config
    config_path: Path
    output: Path
    backend: str
    backend_options: dict[str, Any] = field(default_factory=dict)
    measured: int = 100
    warmup: int = 3
    query_text: str | None = None
    fail_fast: bool = False
    memory: bool = False  # per-stage RSS, heap and peak (ragperf.memory)
    leak: LeakSettings | None = None  # `ragperf leak`: each measured query is one leak iteration


@dataclass(frozen=True)
class RunOutcome:
    """The run file written, and the exit code it calls for."""

    run: RunFile
    path: Path
    exit_code: ExitCode
    backend_output: BackendOutput


def artifacts_dir(output: Path) -> Path:
    """Where the worker's stream, log and the profiler's native files go: beside the run file."""
    return output.with_name(output.stem + ".artifacts")


def stage_infos(config: Config, seen_paths: set[str] | None = None) -> list[StageInfo]:
    """Configured stages and sub-stages in order, then spans marked in user code under them."""
    infos: list[StageInfo] = []
    for stage in config.stages:
        infos.append(
            StageInfo(
                path=stage.name,
                parent=None,
                kind=stage.kind,
                call=stage.call,
                target_ms=stage.target_ms,
                enabled=stage.enabled,
            )
        )
        for sub in stage.parallel or ():
            infos.append(
                StageInfo(
                    path=f"{stage.name}.{sub.name}",
                    parent=stage.name,
                    kind=stage.kind,
                    call=sub.call,
                    target_ms=None,
                    enabled=stage.enabled and sub.enabled,
                )
            )
        if stage.merge is not None:
            infos.append(
                StageInfo(
                    path=f"{stage.name}.merge",
                    parent=stage.name,
                    kind=stage.kind,
                    call=stage.merge,
                    target_ms=None,
                    enabled=stage.enabled,
                )
            )
    known = {info.path for info in infos}
    for path in sorted((seen_paths or set()) - known):
        parent = path.rsplit(".", 1)[0] if "." in path else None
        infos.append(StageInfo(path=path, parent=parent, kind="other", call=None, target_ms=None, enabled=True))
    return _parents_first(infos)


def _parents_first(infos: list[StageInfo]) -> list[StageInfo]:
    """Order so every span follows its parent (marked spans land under the stage they ran in)."""
    children: dict[str | None, list[StageInfo]] = {}
    for info in infos:
        children.setdefault(info.parent, []).append(info)
    ordered: list[StageInfo] = []

    def visit(parent: str | None) -> None:
        for info in children.get(parent, []):
            ordered.append(info)
            visit(info.path)

    visit(None)
    placed = {info.path for info in ordered}
    return ordered + [info for info in infos if info.path not in placed]


def execute(request: RunRequest, progress: Progress | None = None) -> RunOutcome:
    """Run the pipeline in a worker and write the run file; raise RagperfError on user mistakes."""
    progress = progress or _Silent()
    config = request.config
    config_dir = request.config_path.parent.resolve()
    queries = _queries(request, config_dir)
    backend, entry = load_backend(request.backend, request.backend_options)
    backend.check_available()

    artifacts = artifacts_dir(request.output)
    artifacts.mkdir(parents=True, exist_ok=True)
    stream_path, log_path, spec_path = artifacts / "stream.jsonl", artifacts / "worker.log", artifacts / "spec.json"
    stream_path.unlink(missing_ok=True)
    spec = WorkerSpec(
        config=config,
        config_dir=str(config_dir),
        queries=tuple(QueryItem(id=q.id, text=q.text, meta=q.meta) for q in queries),
        warmup=request.warmup,
        measured=request.measured,
        fail_fast=request.fail_fast,
        backend=request.backend,
        backend_options=backend.options,
        artifacts=str(artifacts.resolve()),
        memory=request.memory,
        leak=request.leak,
    )
    spec_path.write_text(spec.model_dump_json(), encoding="utf-8")
    command = backend.wrap_command(
        [sys.executable, "-m", "ragperf.worker", str(spec_path.resolve()), str(stream_path.resolve())],
        artifacts.resolve(),
    )

    started_at, load_start = now_iso(), load_average()
    progress.begin(request.warmup, request.measured)
    returncode = _supervise(command, stream_path, log_path, config_dir, progress)
    events = read_stream(stream_path)
    fatal = next((e for e in events if e["type"] == "error"), None)
    if fatal is not None:
        raise RagperfError(fatal["message"]) if fatal["exit_code"] == ExitCode.USAGE else _error(fatal)
    records = [_query_record(e) for e in events if e["type"] == "query"]
    end = next((e for e in events if e["type"] == "end"), None)
    complete, reason = _completion(end, returncode, log_path, len(records), request.measured)
    if not records and not complete:
        raise PipelineFailed(f"the worker stopped before any query was measured: {reason}")

    seen = {path for record in records for path in record.spans}
    infos = stage_infos(config, seen)
    output = backend.collect(artifacts, infos)
    summary = summarise(records, infos, config.targets, config.report)
    memory, leak, summary = memory_sections(events, summary, config.targets, leak=request.leak, warmup=request.warmup)
    run = RunFile(
        kind="leak" if request.leak is not None else "run",
        ragperf_version=ragperf.__version__,
        pipeline=config.pipeline.name,
        complete=complete,
        incomplete_reason=reason,
        notes=tuple(dict.fromkeys(e["text"] for e in events if e["type"] == "note")),
        environment=capture_environment(config_dir, started_at, load_start, _backend_packages(entry)),
        config=config.model_dump(mode="json"),
        config_file=str(request.config_path),
        config_digest=config.digest(),
        queries_digest=query_set_digest(queries),
        backend=BackendInfo(
            name=backend.name, distribution=entry.distribution, version=entry.version, options=backend.options
        ),
        warmup=request.warmup,
        requested=request.measured,
        stages=tuple(infos),
        queries=tuple(records),
        summary=summary,
        hotspots=tuple(output.hotspots),
        artifacts=tuple(output.artifacts),
        memory=memory,
        leak=leak,
    )
    save_run(run, request.output)
    if not complete:
        code = ExitCode.INTERRUPTED if reason == "interrupted" else ExitCode.PIPELINE
    else:
        code = ExitCode.PIPELINE if run.summary.n_failed else ExitCode.OK
    return RunOutcome(run=run, path=request.output, exit_code=code, backend_output=output)


def _queries(request: RunRequest, config_dir: Path) -> list[Query]:
    if request.query_text is not None:
        return [Query("q0000", request.query_text)]
    spec = request.config.pipeline.queries
    if spec is None:
        msg = "no queries: set pipeline.queries in the config, or pass --query TEXT"
        raise RagperfError(msg)
    return load_queries(locate_queries(spec, config_dir))


def _supervise(command: list[str], stream_path: Path, log_path: Path, cwd: Path, progress: Progress) -> int:
    """Run the worker, following its stream; on Ctrl-C let it finish the query it is on."""
    follower = StreamFollower(stream_path)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)  # noqa: S603
        try:
            while process.poll() is None:
                time.sleep(_POLL_S)
                _follow(follower, progress)
        except KeyboardInterrupt:
            # The terminal sent SIGINT to the worker too; give it time to record its last query.
            try:
                process.wait(timeout=_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        _follow(follower, progress)
    return process.returncode


def _follow(follower: StreamFollower, progress: Progress) -> None:
    for event in follower.poll():
        progress.event(event)


def _error(fatal: dict[str, Any]) -> RagperfError:
    error = RagperfError(fatal["message"])
    error.exit_code = ExitCode(fatal["exit_code"])
    return error


def _completion(
    end: dict[str, Any] | None, returncode: int, log_path: Path, measured: int, requested: int
) -> tuple[bool, str | None]:
    if end is not None:
        return bool(end["complete"]), end.get("reason")
    how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit code {returncode}"
    tail = [line for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    last = f": {tail[-1].strip()}" if tail else ""
    return False, f"the worker died ({how}) after {measured} of {requested} queries{last}"


def _query_record(event: dict[str, Any]) -> QueryRecord:
    error = event.get("error")
    return QueryRecord(
        index=event["index"],
        id=event["id"],
        query=event["query"],
        total_ms=event["total_ms"],
        spans=event["spans"],
        metrics=event.get("metrics", {}),
        error=None if error is None else QueryError(**error),
    )


def _backend_packages(entry: BackendEntry) -> tuple[str, ...]:
    return () if entry.distribution is None else (entry.distribution,)
