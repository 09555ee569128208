"""`ragperf load` end to end: real worker processes, a pipeline with a known 20 ms service time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from ragperf.config import load_config
from ragperf.errors import ExitCode
from ragperf.load.findmax import QUEUEING
from ragperf.load.runner import LoadRequest, execute_load
from ragperf.schema import load_run

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.schema.run import RunFile

# Two stages that wait (as on I/O): 5 ms then 15 ms, so 2 workers serve at most ~100 qps.
# The generation stage records its own time to first token, as a streaming client would.
WAITS = """
import time
import ragperf

def fetch(state):
    with ragperf.stage("io"):  # a span marked in user code, nested under the stage
        time.sleep(0.005)
    return 1

def generate(state):
    start = time.perf_counter()
    time.sleep(0.003)
    ragperf.metric("ttft_ms", (time.perf_counter() - start) * 1000)
    time.sleep(0.012)
    return 2

def broken_setup():
    raise RuntimeError("no index")
"""
STAGES = """
[[stages]]
name = "fetch"
call = "pipe:fetch"
target_ms = 10
[[stages]]
name = "generate"
call = "pipe:generate"
kind = "generation"
[targets]
p95_ms = 80
sustained_qps = 30
peak_qps = 100
"""


class _Quiet:
    def step_started(self, step: int, rate: float, duration_s: float) -> None:
        pass

    def update(self, completed: int, errors: int, p95_ms: float | None) -> None:
        pass


def _load(config: Path, tmp_path: Path, rates: tuple[float, ...], duration: float, **kwargs: object):
    request = LoadRequest(
        config=load_config(config),
        config_path=config,
        output=tmp_path / "load.json",
        rates=rates,
        find_max=False,
        duration_s=duration,
        arrival="constant",
        workers=2,
        warmup=2,
        error_budget=0.01,
        **kwargs,  # type: ignore[arg-type]
    )
    return execute_load(request, _Quiet())


def test_below_capacity_rate_is_held_and_latency_is_the_service_time(make_pipeline, tmp_path, busy):
    # GIVEN a 20 ms pipeline on 2 workers (capacity ~100 qps)
    config = make_pipeline(WAITS, STAGES)

    # WHEN offered 40 qps for 4 s
    def measure() -> RunFile:
        return load_run(_load(config, tmp_path, (40.0,), 4.0).path)

    def check(run: RunFile, slack: float) -> None:
        assert run.load is not None
        step = run.load.steps[0]
        # THEN the achieved rate is within 5% of the offered (more on a busy machine), with no errors
        # and nothing left unserved
        assert step.achieved_qps == pytest.approx(40.0, rel=0.05 * slack)
        assert step.errors == 0
        assert step.unserved == 0
        assert step.sustained
        # AND the latency (from the intended start) stays close to the service time: the median
        # within 10%, the p95 within one arrival gap per worker (50 ms) of the service p95, since a
        # stall on a shared machine can queue the next arrival behind it
        assert step.service.p50 is not None
        assert step.service.p95 is not None
        assert step.latency.p50 is not None
        assert step.latency.p95 is not None
        assert step.latency.p50 == pytest.approx(step.service.p50, rel=0.1 * slack)
        assert step.latency.p95 <= step.service.p95 + 50.0 * slack
        # AND the service time is the stages' time, each at least what it waits (5 ms, then 15 ms)
        stages = {s.path: s for s in step.stages}
        fetch, generate, io = stages["fetch"].p50, stages["generate"].p50, stages["fetch.io"].p50
        assert fetch is not None
        assert generate is not None
        assert io is not None
        assert step.service.p50 == pytest.approx(fetch + generate, rel=0.1 * slack)
        assert 5.0 <= io <= fetch <= io * (1 + 0.2 * slack)  # the marked span is the stage's own time
        assert generate >= 15.0
        # AND every stage and the generation's TTFT were measured per query, the TTFT inside generate
        assert stages["fetch"].n == stages["generate"].n == stages["fetch.io"].n == step.completed
        assert step.ttft is not None
        assert step.ttft.n == step.completed
        assert step.ttft.p50 is not None
        assert 3.0 <= step.ttft.p50 < generate

    run = busy.retry(measure, check)
    # AND the run file's summary is built from the same histograms (report and diff read it)
    assert run.kind == "load"
    assert run.load is not None
    assert run.summary.total.n == run.load.steps[0].completed
    assert len(run.queries) == 0
    verdicts = {v.name: v.verdict for v in run.load.verdicts}
    assert verdicts["sustained_qps"] == "PASS"  # 40 qps held, target 30


def test_above_capacity_latency_grows_and_the_rate_is_not_sustained(make_pipeline, tmp_path):
    # GIVEN the same pipeline, offered 160 qps: well over its ~100 qps capacity (a busy machine only lowers it)
    config = make_pipeline(WAITS, STAGES)
    outcome = _load(config, tmp_path, (160.0,), 3.0)
    run = load_run(outcome.path)
    assert run.load is not None
    step = run.load.steps[0]
    # THEN the achieved rate tops out near capacity, not at the offered rate
    assert step.achieved_qps < 0.8 * 160
    assert not step.sustained
    # AND latency from the intended start grows over the run (queueing a closed loop would hide)
    assert step.latency_growth is not None
    assert step.latency_growth > 2.0
    windows = [w.p95_ms for w in step.windows if w.p95_ms is not None]
    assert windows[-1] > 4 * windows[0]
    # AND each stage's own service time did not grow: the time went to waiting for a worker
    assert step.service.p95 is not None
    assert step.latency.p95 is not None
    assert step.latency.p95 > 5 * step.service.p95


def test_lanes_keep_many_queries_in_flight_and_spans_apart(make_pipeline, tmp_path, busy):
    # GIVEN the 20 ms pipeline on 2 workers with 3 lanes each (capacity ~300 qps)
    config = make_pipeline(WAITS, STAGES)

    # WHEN offered 150 qps, more than one query at a time per worker could serve
    def measure() -> RunFile:
        return load_run(_load(config, tmp_path, (150.0,), 3.0, concurrency=3).path)

    def check(run: RunFile, slack: float) -> None:
        assert run.load is not None
        step = run.load.steps[0]
        # THEN the rate is held (within 5%, more on a busy machine)
        assert step.achieved_qps == pytest.approx(150.0, rel=0.05 * slack)
        assert step.sustained

    run = busy.retry(measure, check)
    assert run.load is not None
    assert run.load.concurrency == 3
    step = run.load.steps[0]
    # AND each lane's marked spans landed in its own queries: one "fetch.io" per query, each the
    # stage's own time (a span mixed into another lane's query would count twice, or not at all)
    stages = {s.path: s for s in step.stages}
    assert stages["fetch.io"].n == stages["fetch"].n == step.completed
    io, fetch = stages["fetch.io"].p50, stages["fetch"].p50
    assert io is not None
    assert fetch is not None
    assert 5.0 <= io <= fetch


@pytest.mark.slow
def test_cli_find_max_reports_the_highest_rate_and_verdicts(make_pipeline, tmp_path, busy):
    # GIVEN the 20 ms pipeline (2 workers: capacity ~100 qps, p95 target 80 ms)
    config = make_pipeline(WAITS, STAGES)
    output = tmp_path / "fm.json"
    # WHEN ragperf load --find-max runs from 25 qps
    done = subprocess.run(
        [sys.executable, "-m", "ragperf", "load", str(config), "--find-max", "--qps", "25", "--duration", "1.5",
         "--workers", "2", "--arrival", "constant", "-o", str(output), "--no-progress"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = load_run(output)
    assert run.load is not None
    report = run.load
    # THEN the highest rate that held is below capacity, and at least half of it (less on a busy machine)
    assert report.max_rate_qps is not None
    assert 50 / busy.slack() <= report.max_rate_qps <= 105
    # AND a rate above it failed, and the terminal report says which rate was not sustained
    assert any(not s.holds_targets and s.offered_qps > report.max_rate_qps for s in report.steps)
    assert "was not sustained" in done.stdout
    assert "Highest rate holding" in done.stdout
    # AND what gave way first was the queue for a worker, not a stage (the stages only wait)
    assert report.first_rising_stage == QUEUEING
    assert {v.name: v.verdict for v in report.verdicts}["sustained_qps"] == "PASS"


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_measured(make_pipeline, tmp_path):
    # GIVEN a long load test running as a user would start it
    config = make_pipeline(WAITS, STAGES)
    output = tmp_path / "int.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "ragperf", "load", str(config), "--qps", "30", "--duration", "120",
         "--workers", "2", "-o", str(output), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    # WHEN Ctrl-C reaches its process group a few seconds in (as the terminal sends it)
    logs = output.with_suffix(".workers")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(
        (logs / f"worker{i}.log").exists() and "setup took" in (logs / f"worker{i}.log").read_text() for i in (0, 1)
    ):
        time.sleep(0.1)  # a busy machine can take seconds to import and set up
    time.sleep(3.0)
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    # THEN it exits 130 with no traceback and the load file holds the queries measured so far
    assert process.returncode == ExitCode.INTERRUPTED, out
    assert "Traceback" not in out
    run = load_run(output)
    assert not run.complete
    assert run.load is not None
    step = run.load.steps[0]
    assert step.interrupted
    assert 10 <= step.completed < 30 * 120
    assert json.loads(output.read_text())["kind"] == "load"


def test_user_mistakes_are_one_line_with_the_right_exit_code(make_pipeline, tmp_path):
    config = make_pipeline(WAITS, STAGES)
    too_long = subprocess.run(
        [sys.executable, "-m", "ragperf", "load", str(config), "--duration", "7200"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert too_long.returncode == ExitCode.USAGE
    assert "--force" in too_long.stderr
    assert too_long.stderr.count("\n") == 1
    both = subprocess.run(
        [sys.executable, "-m", "ragperf", "load", str(config), "--find-max", "--ramp", "1:2:1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert both.returncode == ExitCode.USAGE
    assert both.stderr.count("\n") == 1


def test_setup_failure_is_exit_3_with_the_reason(make_pipeline, tmp_path):
    config = make_pipeline(WAITS, STAGES, extra_toml='setup = "pipe:broken_setup"')
    with pytest.raises(Exception, match=r"pipeline\.setup raised RuntimeError: no index") as info:
        _load(config, tmp_path, (10.0,), 1.0)
    assert getattr(info.value, "exit_code", None) == ExitCode.PIPELINE
