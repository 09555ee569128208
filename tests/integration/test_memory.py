"""`ragperf run --memory` end to end: per-stage working memory, RSS, heap and the process peak from a real worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

MEMORY = """
import ragperf

_KEPT = []

def spike(state):
    # 64 MB, written (so resident) and freed before the stage returns: above glibc's largest
    # mmap threshold (32 MB), so it goes back to the OS and RSS falls again.
    block = b"s" * (64 << 20)
    return len(block)

def keep(state):
    # Retains 2 MB per query, written, so both RSS and heap grow by it.
    _KEPT.append(b"k" * (2 << 20))
    return len(_KEPT)

def idle(state):
    return state.query.upper()

def heavy_setup():
    # A 96 MB model load that is freed again: the run's peak belongs to setup, not to a stage.
    weights = b"w" * (96 << 20)
    return len(weights)
"""

STAGES = """
[[stages]]
name = "spike"
call = "pipe:spike"
[[stages]]
name = "keep"
call = "pipe:keep"
[[stages]]
name = "idle"
call = "pipe:idle"
"""

TARGETS = "[targets]\nrequest_memory_mb = 16\npeak_memory_mb = 4096\n"


@pytest.mark.slow
def test_memory_per_stage_deltas_peaks_and_targets(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a stage with a 64 MB transient spike, one keeping 2 MB per query, and one doing nothing
    config = make_pipeline(MEMORY, STAGES, extra_toml=TARGETS)
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend="timer",
        measured=8,
        warmup=1,
        memory=True,
    )
    # WHEN it runs with memory measured
    assert execute(request).exit_code == ExitCode.OK
    run = load_run(output)
    memory = run.memory
    # THEN each stage shows what it did: a peak rise without a delta, a delta, nothing
    assert memory is not None
    assert run.leak is None
    stages = {s.path: s for s in memory.stages}
    assert list(stages) == ["spike", "keep", "idle"]
    assert stages["spike"].working_peak_max is not None
    assert stages["spike"].working_peak_max > 48
    assert abs(stages["spike"].rss_delta_mean) < 4
    assert stages["keep"].heap_delta_mean == pytest.approx(2.0, rel=0.1)
    assert stages["keep"].rss_delta_mean == pytest.approx(2.0, rel=0.25)
    assert stages["idle"].working_peak_max is not None
    assert stages["idle"].working_peak_max < 2
    assert stages["spike"].verdict == "FAIL"  # a 64 MB rise against a 16 MB per-request target
    assert stages["idle"].verdict == "PASS"
    # ... the run's baseline, peak and total delta add up
    assert memory.baseline_rss is not None
    assert memory.peak_rss is not None
    assert memory.peak_rss >= memory.baseline_rss + 48
    assert memory.peak_where == "spike"
    assert memory.total_delta_heap == pytest.approx(8 * 2.0, rel=0.1)
    assert len(memory.series) == 8
    # ... and the memory targets join the latency ones
    verdicts = {t.name: t.verdict for t in run.summary.targets}
    assert verdicts["request_memory_mb"] == "FAIL"
    assert verdicts["peak_memory_mb"] == "PASS"


@pytest.mark.slow
def test_readings_stay_out_of_the_stage_spans(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a trivial stage, measured with and without memory readings
    config = make_pipeline(MEMORY, '[[stages]]\nname = "idle"\ncall = "pipe:idle"\n')
    runs = {}
    for memory in (False, True):
        output = tmp_path / f"run-{memory}.json"
        request = RunRequest(
            config=load_config(config),
            config_path=config,
            output=output,
            backend="timer",
            measured=30,
            warmup=1,
            memory=memory,
        )
        execute(request)
        runs[memory] = load_run(output)
    # THEN the probe's cost (tens of µs a stage) is reported, but neither the span nor the total carries it
    plain, probed = runs[False], runs[True]
    assert plain.memory is None
    assert probed.memory is not None
    assert probed.memory.probe_us_per_stage is not None
    assert probed.memory.probe_us_per_stage > 0
    probe_ms = probed.memory.probe_us_per_stage / 1000
    span = probed.summary.stages[0].p50
    total = probed.summary.total.p50
    assert span is not None
    assert total is not None
    assert span < probe_ms
    assert total < 2 * probe_ms


ASYNC_AND_PARALLEL = """
import asyncio

_KEPT = []

async def fetch(state):
    await asyncio.sleep(0)
    _KEPT.append(b"a" * (1 << 20))
    return 1

def left(state):
    return b"l" * (1 << 20)

def right(state):
    return b"r" * (1 << 20)
"""


def test_async_and_parallel_stages_are_probed_as_top_level_stages(
    make_pipeline: Callable[..., Path], tmp_path: Path
) -> None:
    # GIVEN an async stage keeping 1 MB per query, then a parallel stage with two branches
    stages = """
    [[stages]]
    name = "fetch"
    call = "pipe:fetch"
    [[stages]]
    name = "fan"
    parallel = [{ name = "l", call = "pipe:left" }, { name = "r", call = "pipe:right" }]
    """
    config = make_pipeline(ASYNC_AND_PARALLEL, stages)
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(config), config_path=config, output=output, backend="timer", measured=4, memory=True
    )
    # WHEN it runs with memory measured
    assert execute(request).exit_code == ExitCode.OK
    memory = load_run(output).memory
    # THEN both top-level stages are probed (branches share the process, so the fan-out is one row)
    assert memory is not None
    stages = {s.path: s for s in memory.stages}
    assert list(stages) == ["fetch", "fan"]
    # The heap is read, but its size is not asserted: full suite runs under load saw 0.5 MB and 0.0 MB for
    # the 1 MB kept, as if the blocks came from another glibc arena than the one mallinfo2 counts. The point
    # here is which stages are probed; the heap reading itself is checked in test_leak and
    # benchmarks/memory_overhead.py.
    assert stages["fetch"].heap_delta_mean is not None
    assert all(s.n == 4 for s in memory.stages)


def test_cli_run_memory_prints_the_breakdown(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a small pipeline WHEN `ragperf run --memory` runs
    config = make_pipeline(MEMORY, '[[stages]]\nname = "keep"\ncall = "pipe:keep"\n', extra_toml=TARGETS)
    output = tmp_path / "cli.json"
    result = CliRunner().invoke(
        app, ["run", str(config), "--memory", "-n", "3", "--warmup", "0", "--no-progress", "-o", str(output)]
    )
    # THEN the memory breakdown and the memory targets are printed
    assert result.exit_code == ExitCode.OK, result.output
    text = " ".join(result.output.split())
    assert "Memory per request (peak working memory of a whole query)" in text
    assert "Process: RSS" in text
    assert "Peak working memory per stage" in text
    assert "memory per request" in text  # its target, judged


def test_memory_table_in_the_config_switches_memory_on(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a config whose [memory] table turns memory on
    config = make_pipeline(MEMORY, '[[stages]]\nname = "idle"\ncall = "pipe:idle"\n[memory]\nenabled = true\n')
    runner = CliRunner()
    base = ["run", str(config), "-n", "2", "--warmup", "0", "--no-progress", "-o"]
    # WHEN it runs as configured, and again with --no-memory
    on = runner.invoke(app, [*base, str(tmp_path / "on.json")])
    off = runner.invoke(app, [*base, str(tmp_path / "off.json"), "--no-memory"])
    # THEN only the first run file has a memory section
    assert (on.exit_code, off.exit_code) == (ExitCode.OK, ExitCode.OK), on.output + off.output
    assert load_run(tmp_path / "on.json").memory is not None
    assert load_run(tmp_path / "off.json").memory is None


def test_the_setup_peak_survives_the_stage_resets(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a setup that briefly holds 96 MB, and a warm-up that runs through the probe
    config = make_pipeline(
        MEMORY, '[[stages]]\nname = "idle"\ncall = "pipe:idle"\n', extra_toml='setup = "pipe:heavy_setup"\n'
    )
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend="timer",
        measured=3,
        warmup=2,
        memory=True,
    )
    # WHEN it runs with memory measured
    assert execute(request).exit_code == ExitCode.OK
    memory = load_run(output).memory
    # THEN the run's peak is setup's, well above the baseline the queries start from
    assert memory is not None
    assert memory.setup_peak is not None
    assert memory.baseline_rss is not None
    assert memory.setup_peak > memory.baseline_rss + 80
    assert memory.peak_where == "setup"
    assert memory.peak_rss == memory.setup_peak
