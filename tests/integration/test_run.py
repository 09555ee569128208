"""`ragperf run` end to end: a real worker process per test, real stages."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.engine.stream import measured_in
from ragperf.errors import ExitCode
from ragperf.outputs import artifacts_dir
from ragperf.schema import load_run
from ragperf.schema.run import SCHEMA_VERSION

if TYPE_CHECKING:
    from pathlib import Path

SPIN = """
import asyncio, time, os
import ragperf

def spin(ms):
    # Busy-wait: known CPU time, so measured durations have a ground truth.
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def timed_spin(ms):
    # The stage's own view of its duration: the truth the harness's span is checked against.
    start = time.perf_counter_ns()
    spin(ms)
    ragperf.metric("inner_ms", (time.perf_counter_ns() - start) / 1e6)

def a(state):
    timed_spin(20)
    return "a"

def b(state):
    timed_spin(5)
    return state.outputs["a"] + "b"

async def c(state):
    await asyncio.sleep(0)
    spin(10)
    return "c"

def left(state):
    time.sleep(0.008)  # a wait (as on I/O) releases the GIL, so branches can overlap
    return "L"

def right(state):
    time.sleep(0.008)
    return "R"

async def aright(state):
    await asyncio.sleep(0.004)
    return "AR"

def fuse(state):
    return "".join(sorted(state.outputs["fan"].values()))

def marked(state):
    with ragperf.stage("inner"):
        spin(3)
    ragperf.metric("widgets", 7)
    return 1

def boom(state):
    if state.query.startswith("second"):
        raise ValueError("bad query")
    return 1

def record_pid(options):
    with open(options["pid_file"], "w") as handle:
        handle.write(str(os.getpid()))
    return None

def slow(state):
    spin(40)
    return 1
"""


def _run(config: Path, tmp_path: Path, **kwargs: object) -> tuple[int, Path]:
    output = tmp_path / "out" / "run.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend="timer",
        **{"measured": 10, "warmup": 1, **kwargs},
    )  # type: ignore[arg-type]
    outcome = execute(request)
    return outcome.exit_code, output


def test_sync_stages_and_run_file_round_trip(make_pipeline, tmp_path):
    # GIVEN two sync stages, the second using the first's output
    config = make_pipeline(
        SPIN, '[[stages]]\nname="a"\ncall="pipe:a"\ntarget_ms=100\n[[stages]]\nname="b"\ncall="pipe:b"\ntarget_ms=1\n'
    )
    # WHEN it runs
    code, output = _run(config, tmp_path)
    # THEN every query has both spans and the file loads back equal
    run = load_run(output)
    assert code == ExitCode.OK
    assert run.complete
    assert len(run.queries) == 10
    assert all(set(q.spans) == {"a", "b"} for q in run.queries)
    by_path = {s.path: s for s in run.summary.stages}
    assert by_path["a"].verdict == "PASS"
    assert by_path["b"].verdict == "FAIL"  # 5 ms of work against a 1 ms target
    assert run.summary.bottlenecks[0].stage == "a"
    assert run.summary.bottlenecks[0].priority == "P0"
    assert load_run(output) == run
    assert json.loads(output.read_text())["schema_version"] == SCHEMA_VERSION


def test_timing_accuracy(make_pipeline, tmp_path):
    # GIVEN stages that spend a known 20 ms and 5 ms
    config = make_pipeline(SPIN, '[[stages]]\nname="a"\ncall="pipe:a"\n[[stages]]\nname="b"\ncall="pipe:b"\n')
    # WHEN measured over 30 queries
    _, output = _run(config, tmp_path, measured=30)
    # THEN query by query, the span exceeds the time the stage itself saw pass by less than 3%
    # of the stage's time (paired, so a loaded machine slowing the spin itself does not count)
    run = load_run(output)
    stages = {s.path: s for s in run.summary.stages}
    for path, nominal in (("a", 20.0), ("b", 5.0)):
        excess = [q.spans[path] - q.metrics[path]["inner_ms"] for q in run.queries]
        assert min(excess) >= 0
        assert statistics.median(excess) < 0.03 * nominal
        assert stages[path].p50 >= nominal


def test_async_and_parallel_stages_with_merge(make_pipeline, tmp_path):
    # GIVEN an async stage, then a parallel stage mixing sync and async branches, merged
    stages = """
    [[stages]]
    name = "c"
    call = "pipe:c"
    [[stages]]
    name = "fan"
    merge = "pipe:fuse"
    parallel = [
      { name = "left", call = "pipe:left" },
      { name = "right", call = "pipe:right" },
      { name = "aright", call = "pipe:aright" },
    ]
    """
    config = make_pipeline(SPIN, stages)
    code, output = _run(config, tmp_path)
    run = load_run(output)
    assert code == ExitCode.OK
    spans = run.queries[0].spans
    assert set(spans) == {"c", "fan", "fan.left", "fan.right", "fan.aright", "fan.merge"}
    # THEN the branches ran concurrently: in most queries the fan-out took less than the sum of
    # its branches (counted per query, so a loaded machine's slow query does not decide it)
    branches = ("fan.left", "fan.right", "fan.aright")
    overlapped = [q.spans["fan"] < sum(q.spans[b] for b in branches) for q in run.queries]
    assert sum(overlapped) > len(overlapped) / 2
    assert {s.path: s for s in run.summary.stages}["c"].p50 >= 10.0


def test_skipped_stage_and_marked_spans_and_metrics(make_pipeline, tmp_path):
    # GIVEN a disabled stage and a stage with a marked inner block and a metric
    stages = """
    [[stages]]
    name = "off"
    call = "pipe:boom"
    enabled = false
    [[stages]]
    name = "m"
    call = "pipe:marked"
    """
    config = make_pipeline(SPIN, stages)
    code, output = _run(config, tmp_path)
    run = load_run(output)
    by_path = {s.path: s for s in run.summary.stages}
    # THEN the disabled stage is listed as skipped and never ran; the marked span nests under m
    assert code == ExitCode.OK
    assert by_path["off"].skipped
    assert by_path["off"].n == 0
    assert by_path["m.inner"].p50 == pytest.approx(3.0, rel=0.1)
    assert by_path["m"].metrics["widgets"].mean == 7


def test_failing_stage_is_recorded_and_exit_3(make_pipeline, tmp_path):
    # GIVEN a stage that raises on one of the three queries
    config = make_pipeline(SPIN, '[[stages]]\nname="a"\ncall="pipe:a"\n[[stages]]\nname="x"\ncall="pipe:boom"\n')
    code, output = _run(config, tmp_path, measured=6, warmup=0)
    run = load_run(output)
    failed = [q for q in run.queries if q.error is not None]
    # THEN the query is recorded as failed, with the stage and the exception; the run goes on
    assert code == ExitCode.PIPELINE
    assert len(run.queries) == 6
    assert len(failed) == 2
    assert failed[0].error is not None
    assert failed[0].error.stage == "x"
    assert failed[0].error.type == "ValueError"
    assert "bad query" in failed[0].error.message
    assert {s.path: s for s in run.summary.stages}["x"].n_errors == 2


def test_fail_fast_stops_at_first_error(make_pipeline, tmp_path):
    config = make_pipeline(SPIN, '[[stages]]\nname="x"\ncall="pipe:boom"\n')
    code, output = _run(config, tmp_path, measured=6, warmup=0, fail_fast=True)
    run = load_run(output)
    assert code == ExitCode.PIPELINE
    assert not run.complete
    assert len(run.queries) == 2
    assert "fail-fast" in (run.incomplete_reason or "")


def _start_cli_run(config: Path, tmp_path: Path, measured: int) -> tuple[subprocess.Popen[str], Path, int]:
    """Start `ragperf run` as a user would; return it, its output path and its worker's pid."""
    output = tmp_path / "out" / "run.json"
    command = [
        sys.executable,
        "-m",
        "ragperf",
        "run",
        str(config),
        "-n",
        str(measured),
        "--warmup",
        "0",
        "-o",
        str(output),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stream = artifacts_dir(output) / "stream.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if measured_in(stream) >= 5:
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the worker never measured 5 queries")
    return process, output, int((tmp_path / "worker.pid").read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "exit_code", "reason"),
    [
        (signal.SIGKILL, ExitCode.PIPELINE, "worker died (signal SIGKILL)"),
        (signal.SIGINT, ExitCode.INTERRUPTED, "interrupted"),
    ],
)
def test_interrupted_run_keeps_measured_queries(make_pipeline, tmp_path, sig, exit_code, reason):
    # GIVEN a long run whose worker records its pid
    pid_file = tmp_path / "worker.pid"
    config = make_pipeline(
        SPIN,
        '[[stages]]\nname="s"\ncall="pipe:slow"\n',
        extra_toml=f'setup = "pipe:record_pid"\n[pipeline.options]\npid_file = "{pid_file}"\n',
    )
    process, output, worker_pid = _start_cli_run(config, tmp_path, measured=500)
    # WHEN the worker is killed (or interrupted) mid-run
    os.kill(worker_pid, sig)
    out, _ = process.communicate(timeout=60)
    # THEN a valid run file holds every query measured before, marked incomplete
    run = load_run(output)
    assert process.returncode == exit_code, out
    assert not run.complete
    assert reason in (run.incomplete_reason or "")
    assert 5 <= len(run.queries) < 500
    assert [q.index for q in run.queries] == list(range(len(run.queries)))
    assert "Traceback" not in out


def test_cli_run_prints_summary_and_errors_are_one_line(make_pipeline, tmp_path):
    # GIVEN a working pipeline
    config = make_pipeline(SPIN, '[[stages]]\nname="c"\ncall="pipe:c"\n')
    output = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "ragperf", "run", str(config), "-n", "3", "-o", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Latency per stage" in done.stdout
    assert "p95 latency" in done.stdout  # the pipeline's targets, judged
    assert output.exists()
    # AND a backend that does not exist: exit 4, one line, no traceback
    bad = subprocess.run(
        [sys.executable, "-m", "ragperf", "run", str(config), "-b", "nosuch"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == ExitCode.BACKEND
    assert bad.stderr.count("\n") == 1
    assert "no backend named 'nosuch'" in bad.stderr


def test_import_error_in_worker_is_exit_2(make_pipeline, tmp_path):
    config = make_pipeline(SPIN, '[[stages]]\nname="b"\ncall="pipe:nope"\n')
    with pytest.raises(Exception, match="has no attribute 'nope'") as info:
        _run(config, tmp_path)
    assert getattr(info.value, "exit_code", None) == ExitCode.USAGE
