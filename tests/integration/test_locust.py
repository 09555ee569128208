"""The Locust engine: a ragperf User per stage event, exact histograms merged across Locust processes."""

from __future__ import annotations

import csv
import importlib.util
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.conftest import Busy

# Not imported here: importing locust monkey-patches the whole test process with gevent.
pytestmark = pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="needs ragperf[load]")

WAITS = """
import time

def fetch(state):
    time.sleep(0.004)
    return 1

def generate(state):
    time.sleep(0.010)
    return 2
"""
STAGES = """
[[stages]]
name = "fetch"
call = "pipe:fetch"
[[stages]]
name = "generate"
call = "pipe:generate"
kind = "generation"
"""
LOCUST = str(Path(sys.executable).with_name("locust"))


def _locustfile() -> str:
    import ragperf.load

    return str(Path(ragperf.load.__file__).with_name("locustfile.py").resolve())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _locust_counts(prefix: Path) -> dict[tuple[str, str], int]:
    with Path(f"{prefix}_stats.csv").open(encoding="utf-8") as handle:
        return {(row["Type"], row["Name"]): int(row["Request Count"]) for row in csv.DictReader(handle)}


@pytest.mark.slow
def test_master_and_two_workers_merge_exact_histograms(
    make_pipeline: Callable[..., Path], tmp_path: Path, busy: Busy
) -> None:
    # GIVEN a Locust master and two workers on 127.0.0.1, each running the pipeline in-process
    config = make_pipeline(WAITS, STAGES)
    output, prefix, port = tmp_path / "locust.json", tmp_path / "stats", _free_port()
    common = ["-f", _locustfile(), "--ragperf-config", str(config), "--ragperf-warmup", "1"]
    master = subprocess.Popen(
        [LOCUST, *common, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--headless", "--expect-workers", "2", "-u", "6", "-r", "6", "-t", "4s", "--csv", str(prefix),
         "--ragperf-output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    worker_args = [LOCUST, *common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    workers = [
        subprocess.Popen(worker_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        for _ in range(2)
    ]
    # WHEN the run ends
    out, _ = master.communicate(timeout=120)
    for worker in workers:
        worker.wait(timeout=60)
    # THEN the master wrote one load file from both workers' final histograms
    assert master.returncode == 0, out
    assert "merged exact histograms of 2 Locust process(es) (2 final)" in out
    run = load_run(output)
    assert run.kind == "load"
    assert run.load is not None
    assert run.load.engine == "locust"
    assert run.load.workers == 2
    step = run.load.steps[0]
    # AND ragperf's merged counts equal Locust's own event counts, stage by stage: nothing lost
    counts = _locust_counts(prefix)
    stages = {s.path: s for s in step.stages}
    assert stages["fetch"].n == counts[("stage", "fetch")] > 50
    assert stages["generate"].n == counts[("stage", "generate")]
    assert step.completed == counts[("query", "test")]
    # AND the exact percentiles match the stage's real waits, 4 and 10 ms, plus a wake-up's overshoot
    # (Locust's own figures are rounded to whole milliseconds)
    fetch, generate = stages["fetch"].p50, stages["generate"].p50
    assert fetch is not None
    assert generate is not None
    assert 4.0 <= fetch <= 4.0 + 1.5 * busy.slack()
    assert 10.0 <= generate <= 10.0 + 2.0 * busy.slack()


@pytest.mark.slow
def test_ragperf_load_engine_locust_with_two_processes(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN the pipeline and `ragperf load --engine locust` (Locust --processes 2 underneath)
    config = make_pipeline(WAITS, STAGES)
    output = tmp_path / "l.json"
    done = subprocess.run(
        [sys.executable, "-m", "ragperf", "load", str(config), "--engine", "locust", "--workers", "2",
         "--duration", "3", "-o", str(output)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    # THEN the load file merges both processes and the terminal shows the per-stage table
    assert done.returncode == 0, done.stderr
    assert "(2 final)" in done.stderr
    assert "Per stage at" in done.stdout
    run = load_run(output)
    assert run.load is not None
    assert {s.path for s in run.load.steps[0].stages} == {"fetch", "generate"}


def test_master_reachable_from_other_hosts_is_refused(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a master asked to listen on every interface
    config = make_pipeline(WAITS, STAGES)
    done = subprocess.run(
        [LOCUST, "-f", _locustfile(), "--ragperf-config", str(config), "--master", "--master-bind-host", "0.0.0.0",
         "--master-bind-port", str(_free_port()), "--headless", "-u", "1", "-t", "1s"],
        capture_output=True, text=True, check=False, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    # THEN it stops at once with a one-line reason and the fix
    assert done.returncode == ExitCode.USAGE
    assert "pass --master-bind-host 127.0.0.1" in done.stderr
