"""The built-in demo under the CPU profilers: its parallel retrieval's work is under retrieval, not outside stages."""

from __future__ import annotations

import pytest

from ragperf.cli.common import demo_config
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run
from ragperf.schema.run import OUTSIDE_STAGES


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["pyinstrument", "py-spy"])
def test_the_demo_s_retrieval_is_attributed_to_retrieval(tmp_path, backend):
    config_path = demo_config()
    assert config_path is not None
    output = tmp_path / "demo.json"
    request = RunRequest(
        config=load_config(config_path), config_path=config_path, output=output, backend=backend, measured=8, warmup=1
    )
    assert execute(request).exit_code == ExitCode.OK
    run = load_run(output)
    outside = [h for h in run.hotspots if h.stage == OUTSIDE_STAGES]
    # THEN nothing of retrieval runs outside stages: not its branches' work, not the fan-out's wait for them
    assert not [h for h in outside if "retriev" in h.file or "search" in h.function or h.on_threads]
    # AND under 10% of the CPU samples are outside stages
    cpu = sum(h.self_value for h in run.hotspots if not h.waiting)
    assert sum(h.self_value for h in outside if not h.waiting) < 0.1 * cpu
    # AND the fan-out's own wait is labelled as waiting on its threads, under retrieval
    assert any(h.stage == "retrieval" and h.on_threads for h in run.hotspots)
