"""Each profiler backend end to end: a real worker under the real tool, on a pipeline with known hot spots.

The pipeline (tests/data/pipelines/hot) has stage `a` looping in `hot_a`, stage `b` allocating in
`alloc_b` (a known number of bytes), stage `c` sleeping in `wait_c`, and a fan-out whose `left`
branch loops in `spin_left` on the thread pool. Its setup also runs `hot_a`: profiling only the
measured queries means none of that shows up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.backends import pyspy
from ragperf.backends.registry import load_backend
from ragperf.cli.app import app
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import BackendUnavailable, ConfigError, ExitCode
from ragperf.outputs import artifacts_dir
from ragperf.schema import load_run
from ragperf.schema.run import OUTSIDE_STAGES
from ragperf.testing import check_backend_class, check_backend_output

if TYPE_CHECKING:
    from ragperf.schema.run import Hotspot, RunFile

PIPELINES = Path(__file__).parent.parent / "data" / "pipelines"
HOT = PIPELINES / "hot" / "hot.toml"
CPU = PIPELINES / "cpu" / "cpu.toml"
THREADS = PIPELINES / "threads" / "threads.toml"
MEASURED = 15
# alloc_b(400): 400 rounds of 8 bytearrays of 16 KiB, per query.
ALLOC_B_BYTES, ALLOC_B_COUNT = 400 * 8 * 16384, 400 * 8


def _run(tmp_path: Path, backend: str, *, pipeline: Path = HOT, measured: int = MEASURED, **options: object) -> RunFile:
    output = tmp_path / "run.json"
    request = RunRequest(
        config=load_config(pipeline),
        config_path=pipeline,
        output=output,
        backend=backend,
        backend_options=dict(options),
        measured=measured,
        warmup=1,
    )
    outcome = execute(request)
    assert outcome.exit_code == ExitCode.OK
    return load_run(output)


def _stage(run: RunFile, stage: str, unit: str = "ms") -> list[Hotspot]:
    return sorted((h for h in run.hotspots if h.stage == stage and h.unit == unit), key=lambda h: -h.self_value)


def _value_of(run: RunFile, function: str, unit: str = "ms", *, total: bool = False) -> dict[str, float]:
    """The self (or total) value of `function` in every stage it was seen in."""
    found: dict[str, float] = {}
    for spot in run.hotspots:
        if spot.function == function and spot.unit == unit:
            found[spot.stage] = found.get(spot.stage, 0.0) + (spot.total_value if total else spot.self_value)
    return found


def _share_in(run: RunFile, function: str, stage: str, unit: str = "ms", *, total: bool = False) -> float:
    """The share of `function`'s samples (or bytes) that landed in `stage`."""
    seen = _value_of(run, function, unit, total=total)
    assert seen, f"{function} was not seen at all"
    return seen.get(stage, 0.0) / sum(seen.values())


def _stage_time(run: RunFile, path: str, unit: str = "ms") -> float:
    """A stage's sampled time with its nested spans', as its span measures it."""
    return sum(
        h.self_value for h in run.hotspots if h.unit == unit and (h.stage == path or h.stage.startswith(path + "."))
    )


def _assert_cpu_stage(run: RunFile, stage: str, hot: str) -> None:
    top = _stage(run, stage)
    assert top, f"no hotspots in stage {stage}"
    # THEN the known function is first in its stage and holds at least 90% of the stage's samples
    assert top[0].function == hot
    assert top[0].share >= 0.9
    # AND at least 90% of that function's samples land in its stage (not outside stages)
    seen = _value_of(run, hot)
    assert seen[stage] >= 0.9 * sum(seen.values())


@pytest.mark.parametrize("backend", ["pyinstrument", "py-spy", "scalene"])
def test_cpu_backend_ranks_known_functions_in_their_stages(tmp_path, backend):
    # GIVEN the hot pipeline WHEN profiled by a CPU backend
    run = _run(tmp_path, backend)
    # THEN stage a's hot function is hot_a, in stage a, and setup's hot_a was not profiled
    _assert_cpu_stage(run, "a", "hot_a")
    assert OUTSIDE_STAGES not in _value_of(run, "hot_a")
    # AND stage c's time is labelled waiting
    assert _stage(run, "c")[0].waiting
    assert not _stage(run, "a")[0].waiting
    # AND the native artifact is kept beside the run file, named in it with the command that opens it
    assert run.artifacts
    assert all(
        Path(a.path).is_file() and Path(a.path).parent == artifacts_dir(tmp_path / "run.json") for a in run.artifacts
    )
    assert all(a.open_command and a.open_command.endswith(a.path) for a in run.artifacts)
    check_backend_output(run.hotspots, run.artifacts, backend=backend, stages={s.path for s in run.stages})


def test_pyinstrument_sampled_time_matches_the_stage_spans(tmp_path):
    # GIVEN a wall-clock profiler in the worker WHEN the hot pipeline runs
    run = _run(tmp_path, "pyinstrument")
    # THEN the time it sampled in stage a is the time the stage's spans measured (same process)
    sampled = sum(h.self_value for h in run.hotspots if h.stage == "a")
    spans = sum(q.spans["a"] for q in run.queries)
    assert 0.8 * spans <= sampled <= 1.2 * spans


def test_pyspy_sees_parallel_branches_and_waits(tmp_path):
    # GIVEN py-spy, which samples every thread WHEN the hot pipeline runs
    run = _run(tmp_path, "py-spy")
    # THEN the thread-pool branch's samples are attributed to the sub-stage
    _assert_cpu_stage(run, "fan.left", "spin_left")
    right = _stage(run, "fan.right")
    assert right[0].function == "wait_c"
    assert right[0].waiting
    # AND py-spy's sample count is in line with the stage's measured time (it may fall behind under load)
    spans_ms = sum(q.spans["a"] for q in run.queries)
    sampled_ms = sum(h.self_value for h in run.hotspots if h.stage == "a")
    assert 0.4 * spans_ms <= sampled_ms <= 1.3 * spans_ms


def test_memray_counts_the_known_allocations(tmp_path):
    # GIVEN memray WHEN the hot pipeline runs
    run = _run(tmp_path, "memray")
    top = _stage(run, "b", "bytes")[0]
    # THEN alloc_b is stage b's top allocator, with the bytes and count it is known to allocate
    assert top.function == "alloc_b"
    assert top.unit == "bytes"
    assert top.self_value >= MEASURED * ALLOC_B_BYTES
    assert top.self_value < 1.1 * MEASURED * ALLOC_B_BYTES
    assert top.count is not None
    assert top.count >= MEASURED * ALLOC_B_COUNT
    assert top.share >= 0.9
    assert any(a.open_command and a.open_command.startswith("memray flamegraph") for a in run.artifacts)
    check_backend_output(run.hotspots, run.artifacts, backend="memray", stages={s.path for s in run.stages})


def test_scalene_cpu_per_stage_matches_the_stage_spans(tmp_path):
    # GIVEN a CPU-bound pipeline on one thread, with a nested span, and enough samples for stable shares
    run = _run(tmp_path, "scalene", pipeline=CPU, measured=40, rate=200, cpu_only=True)
    spans = {path: sum(q.spans[path] for q in run.queries) for path in ("prepare", "encode", "rank", "rank.score")}
    # THEN each stage's sampled CPU time is its spans' measured time, within 25% (same run, same process)
    for path, measured in spans.items():
        assert 0.75 * measured <= _stage_time(run, path) <= 1.25 * measured, path
    # AND under 10% of the samples are outside stages
    sampled = sum(h.self_value for h in run.hotspots if h.unit == "ms")
    assert _stage_time(run, OUTSIDE_STAGES) < 0.1 * sampled
    # AND the nested span's work is its own, not its parent's
    assert _share_in(run, "score", "rank.score") >= 0.9
    assert _share_in(run, "embed", "encode") >= 0.9


@pytest.mark.parametrize("backend", ["scalene", "py-spy"])
def test_work_handed_to_threads_is_the_stage_that_handed_it(tmp_path, backend):
    # GIVEN stages handing CPU work to a thread pool and to a thread WHEN a backend sampling every thread runs
    run = _run(tmp_path, backend, pipeline=THREADS, measured=24, rate=200)
    # THEN at least 90% of each thread's CPU samples land in the stage that handed it the work
    assert _share_in(run, "pool_work", "pooled") >= 0.9
    assert _share_in(run, "thread_work", "threaded") >= 0.9
    assert _share_in(run, "offload_work", "offloaded") >= 0.9


def test_memray_allocations_on_a_pool_are_the_stage_that_handed_them(tmp_path):
    # GIVEN a stage whose pool task allocates WHEN memray tracks every thread's allocations
    run = _run(tmp_path, "memray", pipeline=THREADS, measured=6)
    # THEN at least 90% of pool_alloc's bytes land in the stage that submitted it
    assert _share_in(run, "pool_alloc", "pooled", "bytes", total=True) >= 0.9


def test_backend_options_are_typed_and_checked(tmp_path):
    # GIVEN a py-spy option from the command line's -O (strings) WHEN the run starts
    run = _run(tmp_path, "py-spy", rate="100", idle="false")
    # THEN it is recorded with its type; without --idle py-spy drops most of stage c's sleep
    assert run.backend.options == {"rate": 100, "native": False, "idle": False}
    waited = sum(h.self_value for h in run.hotspots if h.stage == "c")
    # Judged against the same run with --idle, not against the wall clock: on a busy machine a
    # thread woken from its sleep waits, runnable, for a CPU, and py-spy counts that as active.
    idle = _run(tmp_path, "py-spy", rate="100", idle="true")
    assert waited < 0.5 * sum(h.self_value for h in idle.hotspots if h.stage == "c")
    # AND an unknown option is a config error naming the valid ones
    with pytest.raises(ConfigError, match="rate, native, idle"):
        _run(tmp_path, "py-spy", speed="fast")


def test_pyspy_without_ptrace_is_exit_4_before_any_query(tmp_path, monkeypatch):
    # GIVEN a machine where ptrace is forbidden (yama scope 3)
    monkeypatch.setattr(pyspy, "yama_scope", lambda: 3)
    output = tmp_path / "run.json"
    # WHEN ragperf run -b py-spy is invoked
    result = CliRunner().invoke(app, ["run", str(HOT), "-b", "py-spy", "-o", str(output), "--no-progress"])
    # THEN it exits 4 with one line naming CAP_SYS_PTRACE and the fix, and no query ran
    assert result.exit_code == ExitCode.BACKEND
    assert "CAP_SYS_PTRACE" in result.output
    assert "--cap-add SYS_PTRACE" in result.output
    assert "Traceback" not in result.output
    assert not (artifacts_dir(output) / "stream.jsonl").exists()


def test_missing_profiler_names_the_pip_command(monkeypatch):
    # GIVEN py-spy's program is nowhere to be found
    monkeypatch.setattr(pyspy, "pyspy_program", lambda: None)
    # THEN its availability check says how to install it, with the backend exit code
    with pytest.raises(BackendUnavailable, match="pip install py-spy") as info:
        pyspy.PySpyBackend().check_available()
    assert info.value.exit_code == ExitCode.BACKEND


def test_backends_command_documents_options():
    # WHEN a user asks about one backend
    result = CliRunner().invoke(app, ["backends", "memray"])
    # THEN its options are listed with types and defaults
    assert result.exit_code == 0
    assert "-O trace_python_allocators=<bool>" in result.output
    assert "-O native=<bool>" in result.output


def test_pyspy_yama_scope_2_without_the_capability_is_unavailable(monkeypatch):
    # GIVEN Yama scope 2 (admin-only attach) and no CAP_SYS_PTRACE
    monkeypatch.setattr(pyspy, "yama_scope", lambda: 2)
    monkeypatch.setattr(pyspy, "has_cap_sys_ptrace", lambda: False)
    # THEN py-spy is refused before anything runs, saying what to do
    with pytest.raises(BackendUnavailable, match="CAP_SYS_PTRACE"):
        pyspy.PySpyBackend().check_available()


@pytest.mark.parametrize("name", ["timer", "pyinstrument", "memray", "scalene", "py-spy"])
def test_builtin_backends_pass_the_class_contract(name):
    # GIVEN a built-in backend THEN it passes the checks ragperf.testing offers plugin authors,
    # including that importing it does not import its profiler
    backend, _ = load_backend(name)
    check_backend_class(type(backend))
