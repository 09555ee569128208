"""Peak working memory: memory made and freed inside a stage counts in full, whatever allocates it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ragperf.config import load_config
from ragperf.errors import ExitCode
from ragperf.run.runner import RunRequest, execute
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ragperf.schema.memory import MemoryReport

N_MB = 24

TRANSIENT = f"""
import numpy as np

N = {N_MB} << 20

def as_bytes(state):
    block = b"b" * N
    return len(block)

def as_objects(state):
    # 144-byte objects (pymalloc's 144-byte class, no rounding) plus the list's 8-byte slots.
    items = [bytes(111) + state.query[:0].encode() for _ in range(N // 152)]
    return len(items)

def as_array(state):
    values = np.ones(N // 8)
    return float(values.sum())

def idle(state):
    return state.query.upper()
"""

STAGES = """
[[stages]]
name = "before"
call = "pipe:idle"
[[stages]]
name = "bytes"
call = "pipe:as_bytes"
[[stages]]
name = "objects"
call = "pipe:as_objects"
[[stages]]
name = "array"
call = "pipe:as_array"
[[stages]]
name = "after"
call = "pipe:idle"
"""

TARGET = f"[targets]\nrequest_memory_mb = {N_MB // 2}\n"


def run_memory(make_pipeline: Callable[..., Path], tmp_path: Path, backend: str) -> MemoryReport:
    """The memory section of a `--memory` run of the transient-allocation pipeline."""
    config = make_pipeline(TRANSIENT, STAGES, extra_toml=TARGET)
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend=backend,
        measured=5,
        warmup=1,
        memory=True,
    )
    assert execute(request).exit_code == ExitCode.OK
    run = load_run(output)
    assert run.memory is not None
    verdicts = {t.name: t for t in run.summary.targets}
    # Memory per request is what request_memory_mb is judged on: N MB against N/2 fails.
    assert verdicts["request_memory_mb"].verdict == "FAIL"
    return run.memory


def check_transients(memory: MemoryReport) -> None:
    """Each allocating stage peaks at N MB within 10%, its neighbours near 0, the request at least N."""
    stages = {s.path: s for s in memory.stages}
    for path in ("bytes", "objects", "array"):
        assert stages[path].working_peak_max == pytest.approx(N_MB, rel=0.1), path
        # The mean may sit lower for small objects: RSS does not rise for pymalloc's free blocks reused.
        assert stages[path].working_peak_mean == pytest.approx(N_MB, rel=0.2), path
        assert stages[path].verdict == "FAIL"
    for path in ("before", "after"):
        peak = stages[path].working_peak_max
        assert peak is not None
        assert peak < 1.0, path
    assert memory.request_working_max is not None
    assert memory.request_working_mean is not None
    assert memory.request_working_mean >= 0.95 * N_MB


@pytest.mark.slow
def test_transient_allocations_are_each_stages_working_memory(
    make_pipeline: Callable[..., Path], tmp_path: Path
) -> None:
    # GIVEN stages that make and free N MB a query as bytes, as small objects and as a numpy array
    # WHEN the pipeline runs with --memory (the built-in readings)
    memory = run_memory(make_pipeline, tmp_path, "timer")
    # THEN each shows N MB of peak working memory although RSS and heap end where they started
    check_transients(memory)
    stages = {s.path: s for s in memory.stages}
    assert stages["bytes"].heap_delta_mean is not None
    assert abs(stages["bytes"].heap_delta_mean) < 1.0
