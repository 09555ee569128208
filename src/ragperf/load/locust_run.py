"""`ragperf load --engine locust`: a headless Locust master and N workers on this machine, with the ragperf User.

ragperf starts the workers itself rather than using `--processes`: each worker sets the pipeline
up as it imports the locustfile, before it reports ready, so the master starts the clock only
once every worker can serve, and no setup holds up a worker's event loop (and its heartbeats)
during the test. Locust runs isolated from the user's Locust settings: no `LOCUST_*` variable
and no Locust config file can change the port, the users or the run time asked for here.
Every Locust process runs in a session of its own, ended on every exit path; the first stop
signal asks the master to end the test (it still writes the load file), a second kills them all.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import IO

from ragperf.errors import BackendUnavailable, ExitCode, PipelineFailed, RagperfError
from ragperf.interrupts import Interrupted, SignalLatch
from ragperf.load.logtail import tail_of_log

__all__ = ["ISOLATED", "PARENT", "PREPARE", "STOP_SIGNAL", "locust_commands", "run_locust"]

# What the Locust processes are told through their environment (read by locust_user and locustfile):
ISOLATED = "RAGPERF_LOCUST_ISOLATED"  # ragperf's command line is the whole configuration
PREPARE = "RAGPERF_LOCUST_PREPARE"  # set the pipeline up while importing the locustfile
PARENT = "RAGPERF_LOCUST_PARENT"  # the ragperf process: Locust processes die with it
STOP_SIGNAL = signal.SIGUSR1  # asks an isolated master to end the test now, as its run time would

USERS_PER_PROCESS = 4
SETUP_TIMEOUT_S = 600
_GRACE_S = 15.0
_POLL_S = 0.2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust_commands(
    config: Path, output: Path, qps: float | None, duration_s: float, processes: int, warmup: int, port: int
) -> tuple[list[str], list[str]]:
    """The master's and one worker's locust arguments: headless, loopback only, ragperf's locustfile."""
    # The path only: importing the locustfile would import locust, which gevent-patches this process.
    locustfile = str(Path(__file__).with_name("locustfile.py").resolve())
    users = processes * USERS_PER_PROCESS
    common = ["-f", locustfile, "--ragperf-config", str(config.resolve()), "--ragperf-warmup", str(warmup)]
    master = [
        *common, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
        "--expect-workers", str(processes), "--expect-workers-max-wait", str(SETUP_TIMEOUT_S),
        "--headless", "-u", str(users), "-r", str(users), "-t", f"{math.ceil(duration_s)}s",
        "--only-summary", "--ragperf-output", str(output.resolve()),
    ]  # fmt: skip
    if qps:
        master += ["--ragperf-qps", f"{qps / users:.6g}"]
    worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    return master, worker


def _environment(config: Path, warmup: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOCUST_")}
    env.update({ISOLATED: "1", PARENT: str(os.getpid())})
    env.update({"RAGPERF_CONFIG": str(config.resolve()), "RAGPERF_WARMUP": str(warmup)})
    return env


def run_locust(
    config: Path, output: Path | None, qps: float | None, duration_s: float, processes: int, warmup: int
) -> tuple[Path, Interrupted | None]:
    """Run Locust to the end; return the load file and the stop signal that cut it short, if one did."""
    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    if not Path(locust).exists():
        msg = "Locust is not installed; pip install 'ragperf[load]' to use --engine locust"
        raise BackendUnavailable(msg)
    stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
    output = output or Path(".ragperf") / "runs" / f"{stamp}-locust.json"
    logs = output.with_suffix(".workers")
    logs.mkdir(parents=True, exist_ok=True)
    master_args, worker_args = locust_commands(config, output, qps, duration_s, processes, warmup, _free_port())
    env = _environment(config, warmup)
    cwd = config.resolve().parent
    started_ns = time.time_ns()
    session = _Locust()
    with SignalLatch(session.stop) as latch:
        try:
            for index in range(processes):
                log = (logs / f"locust-worker{index}.log").open("w", encoding="utf-8")
                session.start([locust, *worker_args], {**env, PREPARE: "1"}, cwd, log)
            session.start([locust, *master_args], env, cwd, None)
            failed = session.supervise(logs)
        finally:
            session.end()
        stopped = latch.interrupted()
    if failed is not None and stopped is None:
        raise failed
    if not output.exists() or output.stat().st_mtime_ns < started_ns:
        if stopped is not None:
            raise stopped
        error = RagperfError(f"Locust wrote no load file (master exit {session.master_code})")
        error.exit_code = ExitCode.PIPELINE
        raise error
    return output, stopped


class _Locust:
    """The Locust processes of one run: workers first, the master last."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[str]] = []
        self.signals = 0
        self.master_code: int | None = None

    def start(self, command: list[str], env: dict[str, str], cwd: Path, log: IO[str] | None) -> None:
        if log is not None:
            self.logs.append(log)
        self.procs.append(
            subprocess.Popen(  # noqa: S603 - locust, with our arguments
                command, env=env, cwd=cwd, stdout=log, stderr=log, start_new_session=True
            )
        )

    def stop(self, _signum: int, count: int) -> None:
        """A stop signal: the first asks the master to stop (it writes the file), a second kills everything."""
        self.signals = count
        if count == 1 and self.procs:
            with contextlib.suppress(ProcessLookupError):
                self.procs[-1].send_signal(STOP_SIGNAL)
        else:
            self._kill()

    def supervise(self, logs: Path) -> PipelineFailed | None:
        """Wait for the master; a worker that fails first stops the run, and its log says why."""
        master, workers = self.procs[-1], self.procs[:-1]
        while master.poll() is None:
            for index, worker in enumerate(workers):
                code = worker.poll()
                if code and not self.signals:
                    self._kill()
                    log = logs / f"locust-worker{index}.log"
                    tail = (tail_of_log(log) or "").removeprefix("ragperf: error: ")
                    failed = PipelineFailed(f"Locust worker {index} failed (exit {code}): {tail} (log: {log})")
                    ours = code in (ExitCode.USAGE, ExitCode.PIPELINE, ExitCode.BACKEND)
                    failed.exit_code = ExitCode(code) if ours else ExitCode.PIPELINE
                    return failed
            time.sleep(_POLL_S)
        self.master_code = master.returncode
        deadline = time.monotonic() + _GRACE_S
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=max(0.0, deadline - time.monotonic()))
        return None

    def end(self) -> None:
        """End every Locust process group (what a pipeline started included) and reap them."""
        self._kill()
        for proc in self.procs:
            proc.wait()
        for log in self.logs:
            log.close()

    def _kill(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
