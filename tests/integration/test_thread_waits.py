"""A stage waiting on its own threads is not waiting on I/O: what the profile, the roadmap and the warnings say."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragperf.analysis.roadmap import build_roadmap
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run
from ragperf.schema.run import OUTSIDE_STAGES

THREADS = Path(__file__).parent.parent / "data" / "pipelines" / "threads" / "threads.toml"


def _run(tmp_path: Path, backend: str):
    output = tmp_path / f"{backend}.json"
    request = RunRequest(
        config=load_config(THREADS), config_path=THREADS, output=output, backend=backend, measured=20, warmup=1
    )
    assert execute(request).exit_code == ExitCode.OK
    return load_run(output)


@pytest.mark.slow
def test_pyspy_puts_pool_work_in_its_stage_and_the_wait_is_not_io(tmp_path):
    run = _run(tmp_path, "py-spy")
    pooled = [h for h in run.hotspots if h.stage == "pooled"]
    # THEN the stage's own thread is labelled waiting on its threads, never plain waiting
    waits = [h for h in pooled if h.waiting and h.self_value > 0]
    assert waits
    assert all(h.on_threads for h in waits if h.function in {"Condition.wait", "Future.result", "lock.acquire"})
    # AND none of the pipeline's own work is left outside stages (the event loop's bookkeeping may be)
    pipeline_code = [h for h in run.hotspots if h.file.endswith("threads_pipeline.py")]
    outside = sum(h.self_value for h in pipeline_code if h.stage == OUTSIDE_STAGES)
    assert outside <= 0.02 * sum(h.self_value for h in pipeline_code)
    # AND the roadmap judges the CPU work it sees, not the wait: not I/O-bound
    evidence = {item.stage: item.evidence for item in build_roadmap(run).items}
    assert "pooled" in evidence
    assert "io" not in evidence["pooled"].characters
    assert "cpu" in evidence["pooled"].characters


@pytest.mark.slow
def test_pyinstrument_says_when_a_stage_waited_on_threads_it_cannot_see(tmp_path):
    run = _run(tmp_path, "pyinstrument")
    # THEN a warning names each stage that mostly waited on its threads, and the backend that sees them
    warned = [w for w in run.warnings if "waiting on its own threads" in w]
    assert any("'pooled'" in w for w in warned)
    assert any("'threaded'" in w for w in warned)
    assert all("py-spy" in w for w in warned)
    # AND the roadmap does not call that wait I/O
    for item in build_roadmap(run).items:
        if item.stage in {"pooled", "threaded"}:
            assert "io" not in item.evidence.characters


def test_a_profiled_run_says_its_latencies_are_not_the_ones_to_judge(tmp_path):
    # GIVEN a run under a profiler (its sampling slows the pipeline)
    run = _run(tmp_path, "pyinstrument")
    # THEN the run file says to judge targets from a timer run
    assert any("measured under pyinstrument" in w and "-b timer" in w for w in run.warnings)
