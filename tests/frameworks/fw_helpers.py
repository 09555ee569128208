"""What the framework tests share: running a config of tests/data/pipelines/frameworks, and reading its tree.

Each framework has the same pipeline shape (a pure-Python BM25 retriever whose scoring function
is `bm25_score`, a prompt, a mock LLM), configured as a stage of the user's own calling the
framework (`*_stage.toml`) and as `[pipeline] app` (`*_app.toml`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run
from ragperf.schema.run import OUTSIDE_STAGES

if TYPE_CHECKING:
    from ragperf.schema.run import Hotspot, RunFile

PIPELINES = Path(__file__).parent.parent / "data" / "pipelines" / "frameworks"
HOT = "bm25_score"
MEASURED = 15

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # the workers inherit it


def run_config(tmp_path: Path, name: str, backend: str = "timer", measured: int = MEASURED) -> RunFile:
    """Run `<name>.toml` in a real worker under `backend`; return the run file."""
    config_path = PIPELINES / f"{name}.toml"
    output = tmp_path / f"{name}-{backend}.json"
    request = RunRequest(
        config=load_config(config_path),
        config_path=config_path,
        output=output,
        backend=backend,
        backend_options={},
        measured=measured,
        warmup=2,
    )
    outcome = execute(request)
    assert outcome.exit_code == ExitCode.OK
    return load_run(output)


def children(run: RunFile, parent: str) -> list[tuple[str, str]]:
    """(path, kind) of the spans listed under `parent`, in the order the run file lists them (first start)."""
    return [(s.path, s.kind) for s in run.stages if s.parent == parent]


def assert_adds_up(run: RunFile, parent: str, low: float = 0.9) -> None:
    """THEN the mean latencies of `parent`'s sequential children add up to its own, within a few percent."""
    means = {s.path: s.mean for s in run.summary.stages}
    parts = sum(means[path] or 0.0 for path, _ in children(run, parent))
    whole = means[parent]
    assert whole is not None
    assert low * whole <= parts <= 1.01 * whole, (parent, parts, whole)


def hotspots(run: RunFile, stage: str) -> list[Hotspot]:
    """The stage's hotspots, largest self value first."""
    return sorted((h for h in run.hotspots if h.stage == stage), key=lambda h: -h.self_value)


def assert_hot_in(run: RunFile, stage: str, share: float = 0.9) -> None:
    """THEN the scoring function ranks first in the retriever component, with at least `share` of its samples."""
    top = hotspots(run, stage)
    assert top, f"no hotspots in {stage}; stages with hotspots: {sorted({h.stage for h in run.hotspots})}"
    assert top[0].function == HOT
    assert top[0].share >= share
    # AND at least 90% of the scoring function's samples anywhere are in that component
    seen = [h for h in run.hotspots if h.function == HOT]
    assert sum(h.self_value for h in seen if h.stage == stage) >= 0.9 * sum(h.self_value for h in seen)


def assert_little_outside(run: RunFile) -> None:
    """THEN under 10% of the CPU (non-waiting) samples fall outside every stage."""
    cpu = [h for h in run.hotspots if not h.waiting]
    outside = sum(h.self_value for h in cpu if h.stage == OUTSIDE_STAGES)
    assert outside < 0.1 * sum(h.self_value for h in cpu)
