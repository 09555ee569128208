"""Stop signals never lose a measured query, never orphan the worker, and exit 128 + the signal.

Real processes and real signals: the CLI in its own process group, signalled as a CI runner, a
terminal or a container stop would.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from robust_helpers import alive, finish, measured, one_line_error, ragperf, wait_for

from ragperf.schema import load_run

pytestmark = pytest.mark.slow


def _start(pipeline, output, n=2000, *, new_group=False):
    args = ("run", str(pipeline.config), "-n", str(n), "-o", str(output), "--no-progress")
    process = ragperf(*args, new_group=new_group)
    worker = pipeline.worker_pid()
    return process, worker


@pytest.mark.parametrize(
    ("sig", "group", "code"),
    [
        (signal.SIGTERM, False, 143),
        (signal.SIGTERM, True, 143),
        (signal.SIGHUP, False, 129),
        (signal.SIGINT, False, 130),  # SIGINT to the parent alone (not the terminal's group)
    ],
)
def test_a_stop_signal_keeps_every_measured_query_and_ends_the_worker(knobs, tmp_path, sig, group, code):
    # GIVEN a long run, 5 queries measured
    pipeline = knobs(ms=20)
    output = tmp_path / "run.json"
    process, worker = _start(pipeline, output, new_group=group)
    wait_for(lambda: measured(output) >= 5)
    # WHEN ragperf (or its whole process group) gets the signal
    if group:
        assert os.getpgid(process.pid) != os.getpgid(0)  # never the test runner's own group
        os.killpg(os.getpgid(process.pid), sig)
    else:
        process.send_signal(sig)
    returncode, out, err = finish(process)
    # THEN the run file holds every query measured, marked incomplete, and nothing runs on
    run = load_run(output)
    assert returncode == code, err
    assert not run.complete
    assert "interrupted" in (run.incomplete_reason or "")
    assert 5 <= len(run.queries) < 2000
    assert [q.index for q in run.queries] == list(range(len(run.queries)))
    assert not alive(worker)
    assert "Traceback" not in out + err


def test_ctrl_c_twice_still_writes_the_file(knobs, tmp_path):
    # GIVEN a run whose queries take long (the first Ctrl-C waits for the one in flight)
    pipeline = knobs(ms=400)
    output = tmp_path / "run.json"
    process, worker = _start(pipeline, output, 100)
    wait_for(lambda: measured(output) >= 2)
    # WHEN Ctrl-C comes twice, 0.1 s apart
    process.send_signal(signal.SIGINT)
    time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    returncode, _, err = finish(process)
    # THEN the second one ends the worker at once and the measured queries are still written
    assert returncode == 130, err
    assert len(load_run(output).queries) >= 2
    assert not alive(worker)


def test_a_signal_during_a_hanging_setup_ends_at_once_with_its_code(knobs, tmp_path):
    # GIVEN a setup that never returns
    pipeline = knobs(setup_hangs=True)
    output = tmp_path / "run.json"
    process, worker = _start(pipeline, output, 10)
    # WHEN the run is stopped as `timeout` stops it
    process.send_signal(signal.SIGTERM)
    returncode, _, err = finish(process, timeout=30)
    # THEN it says nothing was measured, exits 143 (not 3), and the worker is gone
    assert returncode == 143
    assert one_line_error(err), err
    assert "during setup; nothing was measured" in err
    assert not alive(worker)
    assert not output.exists()


def test_ctrl_c_during_setup_is_130_not_3(knobs, tmp_path):
    pipeline = knobs(setup_hangs=True)
    process, _ = _start(pipeline, tmp_path / "run.json", 10)
    process.send_signal(signal.SIGINT)
    returncode, _, err = finish(process, timeout=30)
    assert returncode == 130, err
    assert one_line_error(err)


def test_the_worker_dies_with_a_killed_parent(knobs, tmp_path):
    # GIVEN a run in progress
    pipeline = knobs(ms=20)
    output = tmp_path / "run.json"
    process, worker = _start(pipeline, output)
    wait_for(lambda: measured(output) >= 2)
    # WHEN ragperf itself is SIGKILLed (no handler can run)
    process.kill()
    process.communicate()
    # THEN the kernel ends the worker too (no orphan measuring for nobody), and what it streamed stays
    wait_for(lambda: not alive(worker), timeout=30)
    assert measured(output) >= 2


def test_profile_interrupted_in_its_latency_phase_runs_no_later_phase(knobs, tmp_path):
    # GIVEN `ragperf profile`, whose latency phase is long
    pipeline = knobs(ms=20)
    report = tmp_path / "report.md"
    process = ragperf("profile", str(pipeline.config), "-n", "2000", "-o", str(report), "--no-progress", cwd=tmp_path)
    pipeline.worker_pid()
    runs = tmp_path / ".ragperf" / "runs"
    wait_for(lambda: any(measured(p.with_suffix(".json")) >= 3 for p in runs.glob("*.artifacts")))
    # WHEN it is interrupted
    process.send_signal(signal.SIGINT)
    returncode, out, err = finish(process)
    # THEN the memory and leak phases never start, and the report covers what was measured
    assert returncode == 130, err
    assert report.exists()
    assert [p.name.endswith("-timer.json") for p in runs.glob("*.json")] == [True]
    assert "Traceback" not in out + err
