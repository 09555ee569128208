"""Peak working memory: memory made and freed inside a stage counts in full, whatever allocates it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ragperf.schema.memory import MemoryReport
    from ragperf.schema.run import RunFile

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


def run_pipeline(
    make_pipeline: Callable[..., Path],
    tmp_path: Path,
    pipeline: tuple[str, str, str],
    backend: str,
    *,
    readings: bool,
    options: dict[str, object] | None = None,
) -> RunFile:
    """A 5-query run of `pipeline` (module source, stages, extra TOML) in a real worker (`readings`: --memory)."""
    source, stages, extra = pipeline
    config = make_pipeline(source, stages, extra_toml=extra)
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend=backend,
        backend_options=options or {},
        measured=5,
        warmup=1,
        memory=readings,
    )
    assert execute(request).exit_code == ExitCode.OK
    run = load_run(output)
    assert run.memory is not None
    return run


def run_memory(
    make_pipeline: Callable[..., Path],
    tmp_path: Path,
    backend: str,
    *,
    readings: bool = True,
    options: dict[str, object] | None = None,
) -> MemoryReport:
    """The memory section of a run of the transient-allocation pipeline."""
    run = run_pipeline(
        make_pipeline, tmp_path, (TRANSIENT, STAGES, TARGET), backend, readings=readings, options=options
    )
    verdicts = {t.name: t for t in run.summary.targets}
    # Memory per request is what request_memory_mb is judged on: N MB against N/2 fails.
    assert verdicts["request_memory_mb"].verdict == "FAIL"
    assert run.memory is not None
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


@pytest.mark.slow
@pytest.mark.parametrize(("python_allocators", "readings"), [(False, False), (True, False), (False, True)])
def test_memray_replays_each_stages_working_memory(
    make_pipeline: Callable[..., Path], tmp_path: Path, python_allocators: bool, readings: bool
) -> None:
    # GIVEN the same stages WHEN memray records every allocation, with or without Python's own
    # allocators (small objects then come as pymalloc's 1 MiB arenas), with or without --memory
    options = {"trace_python_allocators": python_allocators}
    memory = run_memory(make_pipeline, tmp_path, "memray", readings=readings, options=options)
    # THEN its records, split at the stage marks, give each stage N MB and the neighbours near 0
    assert memory.working_method == "memray"
    check_transients(memory)
    if python_allocators:  # every object seen: exact
        objects = next(s for s in memory.stages if s.path == "objects")
        assert objects.working_peak_mean == pytest.approx(N_MB, rel=0.02)
    if readings:  # AND the readings' RSS and heap figures stay beside memray's peaks
        assert memory.peak_rss is not None
        assert all(s.rss_delta_mean is not None for s in memory.stages)
    else:  # AND no process figure is made up without them
        assert memory.peak_rss is None


NESTED = """
import threading
import ragperf

MB = 1 << 20  # blocks are written (b"x" * n): calloc's untouched zero pages are never resident
both_hold = threading.Barrier(2, timeout=10)

def hold(n_mb, state):
    block = b"h" * (n_mb * MB)
    both_hold.wait()  # the two branches hold their blocks at the same time
    return len(block) + len(state.query)

def big(state):
    return hold(20, state)

def small(state):
    return hold(4, state)

@ragperf.stage("inner")
def inner(state):
    return len(b"i" * (8 * MB))

def outer(state):
    kept = b"k" * (16 * MB)
    size = inner(state)
    with ragperf.stage("block"):  # a block puts no frame on the stack: memray cannot tell it apart
        size += len(b"w" * (4 * MB))
    return size + len(kept)
"""


def run_nested(make_pipeline: Callable[..., Path], tmp_path: Path, backend: str, *, readings: bool) -> MemoryReport:
    """The memory section of a run of the nested-span pipeline."""
    memory = run_pipeline(make_pipeline, tmp_path, (NESTED, NESTED_STAGES, ""), backend, readings=readings).memory
    assert memory is not None
    return memory


NESTED_STAGES = """
[[stages]]
name = "fan"
parallel = [
  { name = "big", call = "pipe:big" },
  { name = "small", call = "pipe:small" },
]
[[stages]]
name = "outer"
call = "pipe:outer"
"""


@pytest.mark.slow
def test_memray_tells_branches_and_nested_spans_apart(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN two fan-out branches holding 20 and 4 MB at once on the pool's threads, and a stage
    # holding 16 MB while its nested @ragperf.stage function makes and frees 8 MB
    # WHEN memray records them
    memory = run_nested(make_pipeline, tmp_path, "memray", readings=False)
    stages = {s.path: s for s in memory.stages}
    # THEN each branch and the nested span show their own working peak, from the stacks' trampolines
    for path, mb in (("fan.big", 20), ("fan.small", 4), ("outer.inner", 8)):
        assert stages[path].working_peak_max == pytest.approx(mb, rel=0.1), path
        assert stages[path].n == 5
    # AND the top-level stages hold what was live at once in the whole process
    assert stages["fan"].working_peak_max == pytest.approx(24, rel=0.1)
    assert stages["outer"].working_peak_max == pytest.approx(24, rel=0.1)
    # AND the sub-spans come in the run's stage order, under their stages, with no RSS of their own
    assert [s.path for s in memory.stages] == ["fan", "fan.big", "fan.small", "outer", "outer.inner"]
    assert stages["fan.big"].rss_delta_mean is None


@pytest.mark.slow
def test_rss_marks_nested_spans_on_the_stage_thread(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN the same pipeline WHEN --memory reads the resident high-water mark (no memray)
    memory = run_nested(make_pipeline, tmp_path, "timer", readings=True)
    stages = {s.path: s for s in memory.stages}
    # THEN the nested function and the `with` block, on the stage's own thread, get their own peaks
    for path, mb in (("outer.inner", 8), ("outer.block", 4)):
        assert stages[path].working_peak_max == pytest.approx(mb, rel=0.1), path
        assert stages[path].working_peak_mean == pytest.approx(mb, rel=0.1), path
    # AND their parent's peak still covers the whole stage (its mark was cut at their boundaries)
    assert stages["outer"].working_peak_max == pytest.approx(24, rel=0.1)
    # AND the branches, which share the process's one mark on the pool's threads, are not told apart
    assert "fan.big" not in stages
    assert stages["fan"].working_peak_max == pytest.approx(24, rel=0.1)
    # AND memory per request is still judged on whole queries
    assert memory.request_working_max is not None
    assert memory.request_working_max >= 0.9 * 24
