"""`ragperf load` under hostile conditions: workers dying, stop signals, absurd numbers, foreign Locust settings.

Issue 14, the load cases (9, 10, 11). Real `ragperf load` processes, real signals; a failure is
provoked by the pipeline itself at a known query (queries are counted, not timed), so nothing
here depends on the machine being quiet.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.conftest import Busy

# Each action fires at the worker's Nth query (warm-up included), as set in [pipeline.options].
MODULE = """
import ctypes, os, signal, subprocess, sys, time
from pathlib import Path

COUNT = 0

class Fatal(BaseException):
    pass

def setup(options):
    ctx = dict(options)
    if "grandchild" in ctx:  # a pipeline starting a helper process of its own
        child = subprocess.Popen(["sleep", "300"])
        Path(ctx["grandchild"] + f".{os.getpid()}").write_text(str(child.pid))
    if "block_s" in ctx:  # a native call holding the thread (a model load): no event loop runs meanwhile
        ctypes.CDLL(None).usleep(int(ctx["block_s"] * 1e6))
    return ctx

def work(state):
    global COUNT
    COUNT += 1
    ctx = state.ctx
    if COUNT == ctx.get("kill_at"):
        os.kill(os.getpid(), signal.SIGKILL)
    if COUNT == ctx.get("fatal_at"):
        raise Fatal("database pool exhausted")
    if COUNT == ctx.get("close_stdin_at"):
        sys.stdin.close()
    if COUNT >= ctx.get("hang_from", 10**9):
        Path(ctx["hang_mark"]).touch()
        time.sleep(60)
    time.sleep(ctx.get("wait_ms", 5) / 1000)
"""
STAGE = """
[[stages]]
name = "work"
call = "pipe:work"
"""
CONSTANT = ("--arrival", "constant", "--no-progress")
runner = CliRunner()


def _pipeline(make_pipeline: Callable[..., Path], **options: object) -> Path:
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in options.items())
    return make_pipeline(MODULE, f"[pipeline.options]\n{table}\n{STAGE}", extra_toml='setup = "pipe:setup"')


def _load(config: Path, output: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "ragperf", "load", str(config), *args, "-o", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)  # type: ignore[call-overload]


def _run(config: Path, output: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "ragperf", "load", str(config), *args, "-o", str(output)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:  # noqa: PTH123 - a /proc read
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_for(condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _set_up(output: Path, workers: int) -> bool:
    logs = output.with_suffix(".workers")
    return all("setup took" in _text(logs / f"worker{i}.log") for i in range(workers))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- 10. a worker dying, and what its log says ---------------------------------------------------


def test_worker_killed_in_step_two_keeps_step_one(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a ramp of 2 steps, 25 arrivals per worker each, whose workers die (SIGKILL) at query 30
    config = _pipeline(make_pipeline, kill_at=30)
    output = tmp_path / "ramp.json"
    # WHEN it runs
    done = _run(config, output, "--ramp", "20:40:20", "--duration", "1", "--workers", "2", "--warmup", "0", *CONSTANT)
    # THEN it exits 3 with one line naming the dead worker and how it died
    assert done.returncode == ExitCode.PIPELINE, done.stderr
    assert "Traceback" not in done.stderr
    assert "load worker" in _last_line(done.stderr)
    assert "killed by SIGKILL" in _last_line(done.stderr)
    # AND the file holds step 1, every arrival of it, marked incomplete with the reason
    run = load_run(output)
    assert not run.complete
    assert run.incomplete_reason is not None
    assert "stopped unexpectedly" in run.incomplete_reason
    assert run.load is not None
    assert [s.offered_qps for s in run.load.steps] == [20.0]
    assert run.load.steps[0].completed == 50


def test_dead_worker_names_the_exception_not_the_carets(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a stage raising a BaseException no stage handler catches: the worker dies printing a traceback
    config = _pipeline(make_pipeline, fatal_at=3)
    # WHEN ragperf load runs it
    done = _run(config, tmp_path / "f.json", "--qps", "20", "--duration", "1", "--workers", "1", "--warmup", "0")
    # THEN the one-line error carries the exception line from the log, read after the worker exited
    assert done.returncode == ExitCode.PIPELINE, done.stderr
    line = _last_line(done.stderr)
    assert "Fatal: database pool exhausted" in line
    assert "^^^" not in line


def test_worker_reports_its_own_exception_with_where(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN workers whose stdin is closed under them during step 1 (an exception in ragperf's own loop)
    config = _pipeline(make_pipeline, close_stdin_at=5)
    output = tmp_path / "e.json"
    # WHEN a 2-step ramp runs
    done = _run(config, output, "--ramp", "50:100:50", "--duration", "1", "--workers", "2", "--warmup", "0", *CONSTANT)
    # THEN the worker sent its exception line and where it was raised; step 1 is kept
    assert done.returncode == ExitCode.PIPELINE, done.stderr
    line = _last_line(done.stderr)
    assert "ValueError: I/O operation on closed file" in line
    assert "worker.py:" in line
    assert load_run(output).load is not None


# --- 10. numbers the generator cannot honour ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--qps", "inf"),
        ("--qps", "nan"),
        ("--qps", "-1"),
        ("--qps", "2e9"),
        ("--duration", "inf"),
        ("--duration", "nan"),
        ("--duration", "0"),
        ("--ramp", "1:inf:1"),
        ("--ramp", "nan:2:1"),
        ("--ramp", "1:1000:1"),
        ("--max-qps", "inf", "--find-max"),
        ("--error-budget", "nan"),
        ("--workers", "100"),
        ("--workers", "0"),
        ("-c", "0"),
        ("--engine", "locust", "--qps", "inf"),
        ("--engine", "locust", "--workers", "100"),
    ],
)
def test_bad_numbers_are_one_line_exit_2(make_pipeline: Callable[..., Path], args: tuple[str, ...]) -> None:
    config = _pipeline(make_pipeline)
    result = runner.invoke(app, ["load", str(config), *args, "--no-progress"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("ragperf: error:")


def test_too_many_workers_points_to_lanes(make_pipeline: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["load", str(_pipeline(make_pipeline)), "--workers", "100"])
    assert "-c LANES" in result.stderr


def test_rate_past_capacity_ends_at_the_drain_and_counts_what_never_started(
    make_pipeline: Callable[..., Path], tmp_path: Path, busy: Busy
) -> None:
    # GIVEN a billion queries a second for 1 s (each worker has 5e8 arrivals it cannot start)
    config = _pipeline(make_pipeline, wait_ms=0)
    output = tmp_path / "flood.json"
    # WHEN it runs
    done = _run(config, output, "--qps", "1e9", "--duration", "1", "--workers", "2", "--warmup", "0", *CONSTANT)
    # THEN the step ended at its duration plus the drain (1 s), the file is written and says so
    assert done.returncode == ExitCode.OK, done.stderr
    run = load_run(output)
    assert run.load is not None
    step = run.load.steps[0]
    assert step.elapsed_s <= (step.duration_s + 1.0) * 1.5 * busy.slack()
    assert not step.sustained
    # AND every arrival is accounted for: those run, and those that never started
    assert step.offered == pytest.approx(1e9, rel=1e-6)
    assert step.unserved == step.offered - step.completed
    assert step.completed > 0


# --- 11. stop signals --------------------------------------------------------------------------------


def test_stop_signals_keep_every_step_and_end_the_workers(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN three long load tests whose pipelines each start a helper process, run side by side
    config = _pipeline(make_pipeline, grandchild=str(tmp_path / "helper"), wait_ms=20)
    cases = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
    outputs = {sig: tmp_path / f"{sig.name}.json" for sig in cases}
    common = ("--qps", "20", "--duration", "600", "--workers", "1", "--warmup", "0", *CONSTANT)
    procs = {sig: _load(config, outputs[sig], *common) for sig in cases}
    # WHEN each parent alone gets its signal once it has measured a while
    _wait_for(lambda: all(_set_up(out, 1) for out in outputs.values()))
    time.sleep(1.5)
    for sig, proc in procs.items():
        proc.send_signal(sig)
    for sig, proc in procs.items():
        _, err = proc.communicate(timeout=60)
        # THEN it exits 128 + the signal, saying so in one line, no traceback
        assert proc.returncode == cases[sig], err
        assert "Traceback" not in err
        assert f"interrupted ({sig.name})" in _last_line(err)
        # AND the file keeps the step, marked interrupted; no query was cut short by the stop
        run = load_run(outputs[sig])
        assert not run.complete
        assert run.incomplete_reason == f"interrupted ({sig.name})"
        assert run.load is not None
        step = run.load.steps[0]
        assert step.interrupted
        assert step.completed > 0
        assert step.errors == 0
    # AND no worker and no process a pipeline started outlives the test
    helpers = [int(path.read_text()) for path in tmp_path.glob("helper.*")]
    assert len(helpers) == len(cases)
    _wait_for(lambda: not any(_alive(pid) for pid in helpers), timeout=10)


def test_second_signal_kills_at_once_and_still_writes(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a ramp whose step 1 (50 queries) runs and whose step 2 hangs in a 60 s query
    mark = tmp_path / "hanging"
    config = _pipeline(make_pipeline, hang_from=51, hang_mark=str(mark))
    output = tmp_path / "twice.json"
    args = ("--ramp", "50:100:50", "--duration", "1", "--workers", "1", "--warmup", "0", *CONSTANT)
    proc = _load(config, output, *args)
    _wait_for(mark.exists)
    # WHEN SIGTERM arrives: the parent waits for the query in flight
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert proc.poll() is None
    # AND a second SIGTERM arrives
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    # THEN it stops long before the query in flight would have ended, exit 143, keeping step 1
    assert time.monotonic() - started < 30
    assert proc.returncode == 143, err
    run = load_run(output)
    assert run.load is not None
    assert run.load.steps[0].completed == 50
    assert run.incomplete_reason == "interrupted (SIGTERM)"


def test_workers_die_with_a_killed_parent(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a load test whose workers are stuck in a setup that would hold them a minute
    config = _pipeline(make_pipeline, block_s=60)
    output = tmp_path / "orphan.json"
    proc = _load(config, output, "--qps", "10", "--duration", "600", "--workers", "2", *CONSTANT)
    logs = output.with_suffix(".workers")
    _wait_for(lambda: (logs / "worker1.log").exists() and len(_children(proc.pid)) == 2)
    children = _children(proc.pid)
    time.sleep(1.0)  # into the setup
    # WHEN the parent is killed outright (no chance to clean up)
    proc.kill()
    proc.communicate(timeout=30)
    # THEN its workers die with it, setup or not
    _wait_for(lambda: not any(_alive(pid) for pid in children), timeout=10)


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as found:  # noqa: PTH123 - a /proc read
        return [int(child) for child in found.read().split()]


# --- 9. a load diff with nothing in common -----------------------------------------------------------


def test_load_diff_with_no_rate_in_common_cannot_compare(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN two fixed-rate load files at different rates
    config = _pipeline(make_pipeline)
    files = {rate: tmp_path / f"r{rate}.json" for rate in ("60", "80")}
    procs = [_load(config, path, "--qps", rate, "--duration", "1", "--workers", "1") for rate, path in files.items()]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == ExitCode.OK, err
    # WHEN they are diffed
    result = runner.invoke(app, ["diff", str(files["60"]), str(files["80"])])
    # THEN the diff refuses in one line naming both sets of rates, exit 2 (not "No regression", exit 0)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "cannot be compared" in result.stderr
    assert "60 qps" in result.stderr
    assert "80 qps" in result.stderr
    assert "No regression" not in result.output


# --- 10. the Locust engine ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="needs ragperf[load]")
def test_locust_ignores_user_settings_survives_a_blocking_setup_and_stops_on_a_signal(
    make_pipeline: Callable[..., Path], tmp_path: Path
) -> None:
    # GIVEN Locust settings of the user's (variables and a locust.conf beside the config) that would
    # move the master's port, lengthen the run and write CSV files, and a setup holding its thread
    # 5 s (a master counts a worker missing after 3 s without a heartbeat)
    config = _pipeline(make_pipeline, block_s=5)
    (tmp_path / "locust.conf").write_text(f"csv = {tmp_path / 'leak'}\nmaster-port = 1\nrun-time = 1h\n")
    env = {**os.environ, "LOCUST_MASTER_BIND_PORT": str(_free_port()), "LOCUST_RUN_TIME": "2h"}
    argv = [sys.executable, "-m", "ragperf", "load", str(config), "--engine", "locust"]
    output, stopped = tmp_path / "locust.json", tmp_path / "stopped.json"
    # WHEN a 5 s run on 2 processes starts, as a user would, beside a 60 s one that gets SIGTERM
    long_log = tmp_path / "long.log"
    with long_log.open("w") as log:
        long_run = subprocess.Popen(
            [*argv, "--workers", "1", "--duration", "60", "-o", str(stopped)], stdout=log, stderr=log, env=env
        )
    short_run = subprocess.Popen(
        [*argv, "--workers", "2", "--duration", "5", "-o", str(output)], stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        _wait_for(lambda: "All users spawned" in _text(long_log), timeout=120)
        time.sleep(1.0)
        long_run.send_signal(signal.SIGTERM)
        long_run.wait(timeout=60)
        _, short_err = short_run.communicate(timeout=180)
    finally:  # a hang must fail this test, not outlive it
        for proc in (long_run, short_run):
            proc.kill()
            proc.wait()
    long_err = _text(long_log)
    # THEN the short run finishes, with both processes' final histograms and no setup time in the step
    assert short_run.returncode == ExitCode.OK, short_err[-3000:]
    assert "(2 final)" in short_err
    run = load_run(output)
    assert run.complete
    assert run.load is not None
    assert 5.0 - 0.5 <= run.load.steps[0].duration_s < 5.0 + 5.0  # the run time, not setup plus run time
    # AND nothing of the user's settings applied
    assert not list(tmp_path.glob("leak*"))
    # AND the signalled run ended its test as the run time would, wrote what it measured, and exits 143
    assert long_run.returncode == 143, long_err[-3000:]
    assert "(1 final)" in long_err
    interrupted = load_run(stopped)
    assert not interrupted.complete
    assert interrupted.incomplete_reason is not None
    assert interrupted.incomplete_reason.startswith("stopped after")
