"""What a run file says about its context: spans seen running (kind, order), imported distributions, setup time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from pathlib import Path

PIPE = """
import pygments  # a distribution ragperf's worker does not load itself
import ragperf

def answer(state):
    # Started in this order; alphabetical order would put 'alpha' first.
    with ragperf.stage("zeta", kind="retrieval"):
        sum(range(2000))
    with ragperf.stage("alpha", kind="rerank"):
        with ragperf.stage("inner"):
            sum(range(1000))
    return 1

def setup():
    return sum(range(10000))
"""


def _run(config: Path, tmp_path: Path) -> Path:
    output = tmp_path / "run.json"
    request = RunRequest(config=load_config(config), config_path=config, output=output, measured=5, warmup=1)
    assert execute(request).exit_code == ExitCode.OK
    return output


def test_marked_spans_keep_their_kind_and_the_order_they_ran_in(make_pipeline, tmp_path):
    # GIVEN a stage that marks 'zeta' (retrieval) then 'alpha' (rerank, with a child)
    config = make_pipeline(PIPE, '[[stages]]\nname="answer"\ncall="pipe:answer"\n', extra_toml='setup = "pipe:setup"')
    run = load_run(_run(config, tmp_path))
    # THEN the run lists them under their stage in the order they started, with their kinds
    assert [(s.path, s.kind) for s in run.stages] == [
        ("answer", "other"),
        ("answer.zeta", "retrieval"),
        ("answer.alpha", "rerank"),
        ("answer.alpha.inner", "other"),
    ]


def test_imported_distributions_and_setup_time_are_recorded_and_shown(make_pipeline, tmp_path):
    config = make_pipeline(PIPE, '[[stages]]\nname="answer"\ncall="pipe:answer"\n', extra_toml='setup = "pipe:setup"')
    output = _run(config, tmp_path)
    run = load_run(output)
    # THEN the distribution the pipeline imported is in the environment, with its version, beside ragperf's
    assert "Pygments" in run.environment.packages
    assert "ragperf" in run.environment.packages
    # AND the standard library is no distribution
    assert not {"json", "os", "sys"} & set(run.environment.packages)
    # AND setup time is split into importing the pipeline's modules and its setup call
    assert run.setup is not None
    assert run.setup.import_ms > 0
    assert run.setup.setup_ms >= 0
    # AND the report says both
    report = CliRunner().invoke(app, ["report", str(output), "-f", "md"])
    assert report.exit_code == 0
    assert "imports " in report.output
    assert "Pygments" in report.output
