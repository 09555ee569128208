"""A pipeline that hangs, raises in teardown, leaves threads behind or reports non-finite numbers,
and a profiler that dies or leaves too few samples: the run file keeps every measured query and
says what went wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import numpy as np
import pytest
from robust_helpers import alive, finish, measured, one_line_error, ragperf, wait_for

from ragperf.backends.registry import load_backend
from ragperf.config import load_config
from ragperf.engine import runner
from ragperf.engine.runner import RunRequest, execute
from ragperf.schema import load_run
from ragperf.schema.run import SCHEMA_VERSION

pytestmark = pytest.mark.slow


def _run(pipeline, output, *args, n=3):
    return finish(ragperf("run", str(pipeline.config), "-n", str(n), "-o", str(output), "--no-progress", *args))


def test_a_hanging_setup_is_stopped_at_its_limit(knobs, tmp_path):
    pipeline = knobs(setup_hangs=True, run="setup_timeout_s = 1")
    returncode, _, err = _run(pipeline, tmp_path / "run.json")
    assert returncode == 3
    assert one_line_error(err), err
    assert "setup did not finish within 1 s (run.setup_timeout_s)" in err
    assert not alive(pipeline.worker_pid())


def test_a_hanging_query_is_stopped_and_the_queries_before_it_kept(knobs, tmp_path):
    pipeline = knobs(hang_on="q2", queries=5, run="query_timeout_s = 1")
    output = tmp_path / "run.json"
    returncode, _, err = _run(pipeline, output, n=5)
    run = load_run(output)
    assert returncode == 3, err
    assert [q.id for q in run.queries] == ["q0000", "q0001"]
    assert "query 2 did not finish within 1 s (run.query_timeout_s)" in (run.incomplete_reason or "")


def test_a_teardown_that_raises_keeps_every_measured_query(knobs, tmp_path):
    pipeline = knobs(teardown_raises=True)
    output = tmp_path / "run.json"
    returncode, out, err = _run(pipeline, output)
    run = load_run(output)
    assert returncode == 3
    assert run.complete
    assert len(run.queries) == 3
    assert any("teardown raised RuntimeError: teardown exploded [/INST]" in w for w in run.warnings)
    assert "Traceback" not in out + err


def test_a_hanging_teardown_is_stopped_at_its_limit(knobs, tmp_path):
    pipeline = knobs(teardown_hangs=True, run="teardown_timeout_s = 1")
    output = tmp_path / "run.json"
    returncode, _, _ = _run(pipeline, output)
    run = load_run(output)
    assert returncode == 3
    assert len(run.queries) == 3
    assert any("teardown did not finish within 1 s" in w for w in run.warnings)


def test_a_thread_left_running_does_not_hang_the_run(knobs, tmp_path):
    pipeline = knobs(stray_thread=True)
    output = tmp_path / "run.json"
    returncode, _, err = _run(pipeline, output)
    run = load_run(output)
    assert returncode == 0, err
    assert any("non-daemon threads running ('left-behind')" in w for w in run.warnings)
    assert not alive(pipeline.worker_pid())


def test_non_finite_metrics_are_stored_as_null_and_the_file_loads(knobs, tmp_path):
    pipeline = knobs(bad_metric=True)
    output = tmp_path / "run.json"
    returncode, _, err = _run(pipeline, output)
    run = load_run(output)  # the point: ragperf reads back what it wrote
    assert returncode == 0, err
    assert run.queries[0].metrics["work"] == {"fine": 3.0}  # the non-finite ones are missing, not refused
    assert np.isnan(run.queries.metric("work", "tokens_per_s")).all()
    assert run.summary.stages[0].metrics["fine"].n == 3
    assert "tokens_per_s" not in run.summary.stages[0].metrics
    assert sum("not a finite number" in w for w in run.warnings) == 2  # said once per metric, not per query
    report = finish(ragperf("report", str(output), "-f", "md"))
    assert report[0] == 0


def test_a_killed_profile_run_never_shows_the_previous_runs_hotspots(knobs, tmp_path):
    # GIVEN a pyinstrument run file with its profile
    pipeline = knobs(ms=20)
    output = tmp_path / "run.json"
    assert _run(pipeline, output, "-b", "pyinstrument")[0] == 0
    assert load_run(output).hotspots
    # WHEN the next run to the same file has its worker killed mid-run
    pipeline.pid_file.unlink()
    process = ragperf(
        "run", str(pipeline.config), "-n", "2000", "-o", str(output), "--no-progress", "-b", "pyinstrument"
    )
    worker = pipeline.worker_pid()
    wait_for(lambda: measured(output) >= 3)
    os.kill(worker, signal.SIGKILL)
    returncode, _, _ = finish(process)
    # THEN its file has no hotspots at all (the old session was cleared) and says why
    run = load_run(output)
    assert returncode == 3
    assert run.hotspots == ()
    assert any("pyinstrument wrote no profile" in w for w in run.warnings)


def test_a_sparse_profile_is_flagged(knobs, tmp_path):
    pipeline = knobs(ms=2)
    output = tmp_path / "run.json"
    assert _run(pipeline, output, "-b", "pyinstrument", n=3)[0] == 0
    assert any("stage 'work': only" in w and "too few to rank" in w for w in load_run(output).warnings)


def _pyspy_children(worker: int) -> list[int]:
    listing = subprocess.run(["ps", "-o", "pid=,ppid=,comm="], capture_output=True, text=True, check=True)
    return [
        int(pid)
        for pid, ppid, comm in (line.split(None, 2) for line in listing.stdout.splitlines())
        if int(ppid) == worker and comm.strip() == "py-spy"
    ]


def test_a_profiler_that_dies_mid_run_is_said_so(knobs, tmp_path):
    try:
        load_backend("py-spy", {})[0].check_available()
    except Exception as exc:  # noqa: BLE001 - any reason py-spy cannot run here
        pytest.skip(f"py-spy unavailable: {exc}")
    pipeline = knobs(ms=20)
    output = tmp_path / "run.json"
    process = ragperf("run", str(pipeline.config), "-n", "150", "-o", str(output), "--no-progress", "-b", "py-spy")
    worker = pipeline.worker_pid()
    wait_for(lambda: bool(_pyspy_children(worker)) and measured(output) >= 2)
    for pid in _pyspy_children(worker):
        os.kill(pid, signal.SIGKILL)
    returncode, _, err = finish(process)
    run = load_run(output)
    assert returncode == 0, err
    assert run.complete
    assert run.hotspots == ()
    assert any("py-spy wrote no profile" in w for w in run.warnings)


class _Interrupting:
    """Stands in for a profiler whose reading is cut short by Ctrl-C, or fails."""

    def __init__(self, real, error):
        self._real, self._error = real, error

    def __getattr__(self, name):
        return getattr(self._real, name)

    def collect(self, artifacts, stages):  # noqa: ARG002 - the interface's signature
        raise self._error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), ValueError("corrupt session")])
def test_the_latency_data_is_on_disk_before_the_profile_is_read(knobs, tmp_path, monkeypatch, error):
    # GIVEN a profiler whose output cannot be read (Ctrl-C during a long collect, or a corrupt file)
    pipeline = knobs(ms=5)
    real_load = load_backend

    def load(name, options):
        backend, entry = real_load(name, options)
        return _Interrupting(backend, error), entry

    monkeypatch.setattr(runner, "load_backend", load)
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(pipeline.config),
        config_path=pipeline.config,
        output=output,
        backend="pyinstrument",
        measured=4,
        warmup=0,
    )
    # WHEN the run ends
    if isinstance(error, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            execute(request)
    else:
        execute(request)
    # THEN the run file holds every query, and says the profile was not read
    run = load_run(output)
    assert len(run.queries) == 4
    expected = "was not read into this file" if isinstance(error, KeyboardInterrupt) else "corrupt session"
    assert any(expected in w for w in run.warnings), run.warnings
    assert json.loads(output.read_text())["schema_version"] == SCHEMA_VERSION
