"""Nested spans are first-class: share of their parent, longest among siblings, targets by path, roadmap items."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.testing import CliRunner

from ragperf.analysis.roadmap import build_roadmap
from ragperf.cli.app import app
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from pathlib import Path

PIPE = """
import time
import ragperf

def spin(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def rag(state):
    # One stage that calls a whole pipeline, its parts marked as a framework adapter would mark them.
    with ragperf.stage("retriever", kind="retrieval"):
        spin(20)
    with ragperf.stage("prompt"):
        spin(3)
    with ragperf.stage("llm", kind="generation"):
        spin(8)
        with ragperf.stage("tokenize"):
            spin(0.2)
    return 1
"""

STAGES = '[[stages]]\nname="rag"\ncall="pipe:rag"\n'
TARGETS = '[targets.spans]\n"rag.prompt" = 1\n"rag.retriver" = 50\n'


def _run(make_pipeline, tmp_path: Path) -> Path:
    config = make_pipeline(PIPE, STAGES + TARGETS)
    output = tmp_path / "run.json"
    request = RunRequest(config=load_config(config), config_path=config, output=output, measured=20, warmup=1)
    assert execute(request).exit_code == ExitCode.OK
    return output


def test_nested_spans_get_shares_bottlenecks_targets_and_roadmap_items(make_pipeline, tmp_path):
    output = _run(make_pipeline, tmp_path)
    run = load_run(output)
    spans = {s.path: s for s in run.summary.stages}
    # THEN the parts are listed in the order they ran, under their stage
    assert [s.path for s in run.stages] == ["rag", "rag.retriever", "rag.prompt", "rag.llm", "rag.llm.tokenize"]
    # AND sequential parts add up to their parent within a few percent
    parts = sum(spans[p].mean or 0.0 for p in ("rag.retriever", "rag.prompt", "rag.llm"))
    assert 0.95 * (spans["rag"].mean or 0.0) <= parts <= 1.01 * (spans["rag"].mean or 0.0)
    # AND each part has its share of its parent, and counts the queries it was the longest sibling in
    assert 0.4 < (spans["rag.retriever"].parent_share or 0.0) < 0.9
    assert spans["rag.retriever"].bottleneck_count >= 0.8 * run.summary.n_queries
    assert spans["rag.llm.tokenize"].bottleneck_count == run.summary.n_queries  # an only child
    # AND a target set by path judges that span
    assert spans["rag.prompt"].target_ms == 1
    assert spans["rag.prompt"].verdict == "FAIL"
    # AND a target naming no span is a warning with the likely fix, not silence
    assert any("'rag.retriver'" in w and "did you mean 'rag.retriever'" in w for w in run.warnings)
    # AND the roadmap drills into the stage: its dominant part follows it, the part over target is an item
    items = [(i.stage, i.depth) for i in build_roadmap(run).items]
    assert items[0] == ("rag", 0)
    assert ("rag.retriever", 1) in items
    assert any(stage == "rag.prompt" for stage, _ in items)
    assert not any(stage == "rag.llm.tokenize" for stage, _ in items)
    # AND the reports say where inside the stage the time goes
    report = CliRunner().invoke(app, ["report", str(output), "-f", "md"])
    assert report.exit_code == 0
    assert "longest part of rag" in report.output
