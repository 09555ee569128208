"""Noise measured, not guessed: per-query CPU time and preemptions, and the machine's load per block of queries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragperf.analysis.contention import contention_warning, machine_load
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run
from ragperf.schema.machine import MachineBlock
from ragperf.schema.queries import Column, QueryTable, QueryText

CPU = Path(__file__).parent.parent / "data" / "pipelines" / "cpu" / "cpu.toml"
linux_only = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="reads /proc/stat (Linux)")


def _run(tmp_path: Path, name: str) -> Path:
    output = tmp_path / f"{name}.json"
    request = RunRequest(config=load_config(CPU), config_path=CPU, output=output, measured=40, warmup=1)
    assert execute(request).exit_code == ExitCode.OK
    return output


@linux_only
def test_every_query_has_its_cpu_time_and_the_run_its_machine_load(tmp_path):
    run = load_run(_run(tmp_path, "plain"))
    # THEN each query has the worker's CPU time and involuntary context switches
    assert run.queries.cpu_ms is not None
    assert run.queries.preempted is not None
    cpu, wall = run.queries.cpu_ms.values, run.queries.total_ms.values
    assert not np.isnan(cpu).any()
    # AND a CPU-bound pipeline's CPU time is most of its wall time, never much more (one thread)
    assert 0.3 * wall.sum() <= cpu.sum() <= 1.1 * wall.sum()
    # AND the machine section covers every measured query in its blocks
    assert run.machine is not None
    assert sum(block.n for block in run.machine.blocks) == run.summary.n_queries
    assert run.machine.cpu_count == os.cpu_count()


@linux_only
@pytest.mark.slow
def test_a_run_beside_cpu_hogs_is_called_contended(tmp_path):
    # GIVEN as many busy-looping processes as there are CPUs, for the whole run
    spin = "while True: pass"
    hogs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 1)]
    try:
        run = load_run(_run(tmp_path, "hogged"))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    # THEN the run says it was measured under contention, with how much, in its warnings
    assert run.machine is not None
    assert run.machine.verdict == "contended"
    assert run.machine.others_cpus_mean >= 0.5
    assert any(w.startswith("measured under contention") for w in run.warnings)
    # AND the worker's own CPU share is recorded beside it
    assert run.machine.cpu_share is not None


def _table(n: int, cpu: list[float] | None = None) -> QueryTable:
    return QueryTable(
        n=n,
        query_set=(QueryText(id="q", text="q"),),
        query=Column.of([0] * n, "int32"),
        total_ms=Column.of([10.0] * n),
        spans={},
        cpu_ms=None if cpu is None else Column.of(cpu),
        preempted=Column.of([2.0] * n),
    )


def test_the_verdict_rests_on_the_queries_run_while_every_cpu_was_busy():
    # GIVEN 4 blocks of 10 queries on a 2-CPU machine, one of them saturated
    blocks = [MachineBlock(first=10 * i, n=10, busy_cpus=1.1, others_cpus=0.1, run_queue=1) for i in range(3)]
    saturated = [MachineBlock(first=30, n=10, busy_cpus=2.0, others_cpus=1.0, run_queue=3)]
    load = machine_load(blocks + saturated, _table(40, [5.0] * 40), cpu_count=2)
    assert load is not None
    # THEN a quarter of the queries ran saturated: contended, with the figures in the warning
    assert load.saturated_share == pytest.approx(0.25)
    assert load.verdict == "contended"
    assert load.cpu_share == pytest.approx(0.5)
    assert load.preempted_per_query == pytest.approx(2.0)
    warning = contention_warning(load)
    assert warning is not None
    assert "25%" in warning
    # AND the same blocks without the saturated one are quiet, with no warning
    quiet = machine_load(blocks, _table(30), cpu_count=2)
    assert quiet is not None
    assert quiet.verdict == "quiet"
    assert contention_warning(quiet) is None
    # AND no readings (another platform) is no section
    assert machine_load([], _table(0), cpu_count=2) is None


HOT = Path(__file__).parent.parent / "data" / "pipelines" / "hot" / "hot.toml"


def test_cpu_time_per_stage_tells_computing_from_waiting(tmp_path):
    # GIVEN the hot pipeline (stage a loops, c sleeps, the fan-out's left branch loops on the pool) with cpu_time on
    output = tmp_path / "cpu.json"
    request = RunRequest(config=load_config(HOT), config_path=HOT, output=output, measured=10, warmup=1, cpu_time=True)
    assert execute(request).exit_code == ExitCode.OK
    run = load_run(output)
    spans = {s.path: s for s in run.summary.stages}
    # THEN every stage call has its thread's CPU time, per query
    assert set(run.queries.cpu_spans) >= {"a", "b", "c", "fan.left", "fan.right"}
    ratio = {path: (spans[path].cpu_mean or 0.0) / (spans[path].mean or 1.0) for path in ("a", "c", "fan.left")}
    # AND the looping stages computed, the sleeping one waited (a busy machine lowers CPU shares, never raises them)
    assert ratio["a"] > 0.3
    assert ratio["fan.left"] > 0.3
    assert ratio["c"] < 0.2
    assert ratio["c"] < ratio["a"]
    # AND without cpu_time there is no such column
    plain = load_run(_run(tmp_path, "plain"))
    assert not plain.queries.cpu_spans
