"""The Locust engine: a ragperf User that runs the pipeline in-process, one Locust event per stage.

Each Locust process sets the pipeline up once (the first user to start does it), then every
task runs one query through ragperf's executor and fires a Locust request event per stage
(request_type "stage") and one per query (request_type "query"), so Locust's own tables and
charts show the stages. Beside Locust's rounded statistics, each process records ragperf's exact
log-linear histograms and ships them to the master with Locust custom messages (a snapshot
every few seconds, a final one at stop), so the figures merge across `--processes` and
`--master/--worker` runners. The master writes a ragperf load file when it quits.

Locust is closed loop: a user starts its next query when the previous one is done (paced by
`constant_throughput` when --ragperf-qps is given). Latency here is therefore the service time;
the open-loop figures with queueing come from `ragperf load` with its own engine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, ClassVar

import gevent  # no stubs in the dev extras
from gevent.lock import Semaphore
from locust import User, constant, constant_throughput, events, task
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from ragperf import spans
from ragperf.errors import ConfigError, PipelineFailed
from ragperf.load.histogram import Histogram
from ragperf.load.locust_run import ISOLATED, STOP_SIGNAL
from ragperf.load.measure import StepTally, record_spans
from ragperf.load.protocol import LaneTally
from ragperf.pipeline import Executor, StageFailed, build_plan
from ragperf.state import State

if TYPE_CHECKING:
    from collections.abc import Callable

    from locust.env import Environment

    from ragperf.config import Config
    from ragperf.pipeline import Plan
    from ragperf.queries import Query

__all__ = ["RagperfUser", "prepare"]

MESSAGE = "ragperf_tally"
_SNAPSHOT_S = 2.0
_WINDOW_NS = 1_000_000_000
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class _Process:
    """What one Locust process shares between its users: the pipeline, its setup result, the tally."""

    lock = Semaphore()
    config: Config | None = None
    config_path: Path | None = None
    plan: Plan | None = None
    ctx: Any = None
    queries: ClassVar[list[Query]] = []
    tally = StepTally()
    started_ns = 0
    next_query = 0
    # On the master: the latest tally of each worker node, and which of them were final.
    node_tallies: ClassVar[dict[str, LaneTally]] = {}
    node_final: ClassVar[set[str]] = set()
    test_started_ns = 0
    test_stopped_ns = 0


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def _arguments(parser: Any) -> None:
    if os.environ.get(ISOLATED) == "1":
        # No locust.conf, ~/.locust.conf or [tool.locust] of the user's: they could set a port,
        # a user count or a web UI the run does not expect (configargparse reads this list at parse time).
        parser._default_config_files = []  # the attribute locust itself resets to skip them
    parser.add_argument("--ragperf-config", default=os.environ.get("RAGPERF_CONFIG", "ragperf.toml"))
    parser.add_argument("--ragperf-output", default=os.environ.get("RAGPERF_OUTPUT", ""))
    parser.add_argument("--ragperf-qps", type=float, default=float(os.environ.get("RAGPERF_USER_QPS", "0")))
    parser.add_argument("--ragperf-warmup", type=int, default=int(os.environ.get("RAGPERF_WARMUP", "3")))


def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    runner = environment.runner
    # Safety: ragperf drives local pipelines only; a master reachable from other hosts is refused.
    if isinstance(runner, MasterRunner) and options is not None and not _loopback(options.master_bind_host):
        sys.stderr.write(
            f"ragperf: error: --master-bind-host {options.master_bind_host!r} is not a loopback address; "
            "pass --master-bind-host 127.0.0.1\n"
        )
        sys.exit(2)
    if isinstance(runner, WorkerRunner) and options is not None and not _loopback(options.master_host):
        sys.stderr.write(f"ragperf: error: --master-host {options.master_host!r} is not a loopback address\n")
        sys.exit(2)
    if isinstance(runner, MasterRunner):
        runner.register_message(MESSAGE, _on_tally)
        if os.environ.get(ISOLATED) == "1":
            # ragperf's stop: end the test as its run time would (workers send final tallies, then the
            # file is written); Locust's own SIGINT/SIGTERM handling quits before those arrive.
            gevent.signal_handler(STOP_SIGNAL, runner.quit)
    if isinstance(runner, WorkerRunner):
        gevent.spawn(_snapshots, environment)


def _on_tally(msg: Any, **_: Any) -> None:
    data = msg.data
    _Process.node_tallies[data["node"]] = LaneTally.model_validate(data["tally"])
    if data["final"]:
        _Process.node_final.add(data["node"])


def _snapshots(environment: Environment) -> None:
    while True:
        gevent.sleep(_SNAPSHOT_S)
        _send(environment, final=False)


def _send(environment: Environment, *, final: bool) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner) and _Process.tally.completed:
        tally = _tally().model_dump(mode="json")
        runner.send_message(MESSAGE, {"node": runner.client_id, "final": final, "tally": tally})


def _tally() -> LaneTally:
    tally = _Process.tally
    tally.elapsed_ns = perf_counter_ns() - _Process.started_ns if _Process.started_ns else 0
    return tally.record()


def _test_start(**_: Any) -> None:
    _Process.test_started_ns = perf_counter_ns()


def _test_stop(environment: Environment, **_: Any) -> None:
    _Process.test_stopped_ns = perf_counter_ns()
    _send(environment, final=True)


def _quitting(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    if isinstance(runner, LocalRunner):
        parts = [_tally()] if _Process.tally.completed else []
        nodes, final = 1, 1
    else:
        parts = list(_Process.node_tallies.values())
        nodes, final = len(parts), len(_Process.node_final)
    if not parts:
        sys.stderr.write("ragperf: no query completed; no load file written\n")
        return
    from ragperf.load.locust_report import write_locust_file

    path = write_locust_file(
        environment,
        parts,
        nodes=nodes,
        final=final,
        started_ns=_Process.test_started_ns,
        stopped_ns=_Process.test_stopped_ns,
    )
    sys.stderr.write(f"ragperf: merged exact histograms of {nodes} Locust process(es) ({final} final): {path}\n")


def _ensure_pipeline(environment: Environment) -> None:
    """Set the pipeline up for this process unless `prepare` already did (the first user does it)."""
    options = environment.parsed_options
    path = Path(options.ragperf_config if options is not None else "ragperf.toml")
    prepare(path, options.ragperf_warmup if options is not None else 3)


def prepare(config_path: Path, warmup: int) -> None:
    """Import, set up and warm the pipeline once per process.

    `ragperf load --engine locust` calls this as each worker imports the locustfile, before the
    worker tells the master it is ready: a setup run inside a user would hold up the process's
    event loop, so the master would miss its heartbeats and count the setup as test time.
    """
    with _Process.lock:
        if _Process.plan is not None:
            return
        from ragperf.config import load_config
        from ragperf.queries import load_queries, locate_queries

        path = config_path.resolve()
        config = load_config(path)
        sys.path.insert(0, str(path.parent))
        plan = build_plan(config)
        if config.pipeline.queries is None:
            raise ConfigError("set pipeline.queries in the config")
        queries = load_queries(locate_queries(config.pipeline.queries, path.parent))
        recorder = spans.Recorder()
        spans.install(recorder)
        executor = Executor(plan, recorder)
        ctx = executor.setup(config.pipeline.options)
        for i in range(warmup):
            item = queries[i % len(queries)]
            try:
                executor.run_query(State(item.text, ctx, {}, item.id, dict(item.meta)))
            except StageFailed as failed:
                raise PipelineFailed(f"warm-up query {i} failed: {failed}; fix the stage, or pass --warmup 0") from None
        recorder.drain()
        _Process.config, _Process.config_path, _Process.queries = config, path, queries
        _Process.ctx, _Process.started_ns = ctx, perf_counter_ns()
        _Process.plan = plan


class RagperfUser(User):
    """Runs the ragperf pipeline in-process; one Locust request event per stage and per query."""

    def wait_time(self) -> float:
        """Paced by --ragperf-qps (queries per second per user), else back to back."""
        options = self.environment.parsed_options
        qps = options.ragperf_qps if options is not None else 0.0
        return (constant_throughput(qps) if qps > 0 else constant(0))(self)

    def on_start(self) -> None:
        """Set the pipeline up (once per process) and give this user an executor of its own."""
        _ensure_pipeline(self.environment)
        if _Process.plan is None:  # pragma: no cover - _ensure_pipeline set it or raised
            raise RuntimeError("pipeline")
        # Its own recorder: users are concurrent greenlets, their spans must not mix.
        self._recorder = spans.Recorder()
        self._executor = Executor(_Process.plan, self._recorder)

    def on_stop(self) -> None:
        """Release this user's executor (none when the test stopped before this user started)."""
        executor: Executor | None = getattr(self, "_executor", None)
        if executor is not None:
            executor.close()

    @task
    def query(self) -> None:
        """One query through every stage."""
        queries = _Process.queries
        item = queries[_Process.next_query % len(queries)]
        _Process.next_query += 1
        state = State(item.text, _Process.ctx, {}, item.id, dict(item.meta))
        failed: StageFailed | None = None
        start = perf_counter_ns()
        try:
            self._executor.run_query(state)
        except StageFailed as exc:
            failed = exc
        end = perf_counter_ns()
        _record(self.environment, self._recorder.drain(), start, end, failed)


def _record(
    environment: Environment, records: list[spans.SpanRecord], start: int, end: int, failed: StageFailed | None
) -> None:
    fire: Callable[..., None] = environment.events.request.fire
    tally = _Process.tally
    record_spans(tally, records)
    for path, _start, duration, error, _metrics in records:
        exc = None if error is None else RuntimeError(error)
        fire(
            request_type="stage", name=path, response_time=duration / 1e6, response_length=0, exception=exc, context={}
        )
    name = _Process.config.pipeline.name if _Process.config is not None else "pipeline"
    fire(
        request_type="query",
        name=name,
        response_time=(end - start) / 1e6,
        response_length=0,
        exception=failed,
        context={},
    )
    tally.offered += 1
    tally.started += 1
    # Windows on the wall clock, so slices from different processes line up when merged.
    window = tally.windows.setdefault(time.time_ns() // _WINDOW_NS, [0, 0, 0, Histogram()])
    window[0] += 1
    target = _Process.config.targets.p95_ms if _Process.config is not None else None
    # Closed loop: no intended start, so latency is the service time and every query is "in time".
    tally.finish(window, failed is None, start, start, end, end, None if target is None else int(target * 1e6))


def _listen() -> None:
    """Hook into Locust's events (the add_listener calls are untyped, hence this one place)."""
    hooks: list[tuple[Any, Callable[..., None]]] = [
        (events.init_command_line_parser, _arguments),
        (events.init, _init),
        (events.test_start, _test_start),
        (events.test_stop, _test_stop),
        (events.quitting, _quitting),
    ]
    for hook, listener in hooks:
        hook.add_listener(listener)


_listen()
