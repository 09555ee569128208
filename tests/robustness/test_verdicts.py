"""One verdict for a run: the headline, the executive summary and every --gate agree (issue 14, case 16)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from ragperf.analysis.verdicts import checks, judge, overall, worst
from ragperf.cli.app import app
from ragperf.cli.common import demo_config
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable

RUNS = Path(__file__).parents[1] / "data" / "runs"
runner = CliRunner()


@pytest.mark.parametrize(
    ("measured", "target", "at_least", "verdict"),
    [
        (9.0, 10.0, False, "PASS"),
        (10.0, 10.0, False, "FAIL"),  # a ceiling is strict: "< 10 ms"
        (11.0, 10.0, False, "FAIL"),
        (10.0, 10.0, True, "PASS"),  # a floor is reached: ">= 10 qps"
        (9.0, 10.0, True, "FAIL"),
        (None, 10.0, False, "n/a"),
        (1.0, None, False, "n/a"),
    ],
)
def test_the_one_rule(measured: float | None, target: float | None, at_least: bool, verdict: str) -> None:
    assert judge(measured, target, at_least=at_least) == verdict


def test_the_worst_verdict_wins() -> None:
    assert worst(["PASS", "n/a", "FAIL"]) == "FAIL"
    assert worst(["PASS", "n/a"]) == "PASS"
    assert worst(["n/a"]) == worst([]) == "n/a"


def _with_failing_stage(tmp_path: Path) -> Path:
    """The example run (every pipeline target passes) with the retrieval stage over its target."""
    data: dict[str, Any] = json.loads((RUNS / "example_timer.json").read_text(encoding="utf-8"))
    stage = next(s for s in data["summary"]["stages"] if s["path"] == "retrieval")
    stage["target_ms"], stage["verdict"] = 1.0, "FAIL"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["terminal", "md", "html"])
def test_a_stage_at_fail_makes_the_headline_fail(tmp_path: Path, fmt: str) -> None:
    # GIVEN pipeline targets that all pass and one stage over its target
    path = _with_failing_stage(tmp_path)
    run = load_run(path)
    assert all(t.verdict == "PASS" for t in run.summary.targets)
    # WHEN it is reported
    output = runner.invoke(app, ["report", str(path), "-f", fmt]).output
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>|\*\*", "", output))
    # THEN the headline fails, naming the stage
    assert "every measured check passed" not in text
    assert re.search(r"FAIL: 1 of \d+ checks failed \(retrieval p95\)", text)
    assert overall(run, [run]) == "FAIL"


def test_checks_cover_pipeline_stage_memory_leak_and_load_targets() -> None:
    run, memory, leak = (load_run(RUNS / f"{n}.json") for n in ("rich_pyinstrument", "rich_memory", "rich_leak"))
    names = [c.name for c in checks(run, [run, memory, leak])]
    assert {"p95_ms", "peak_memory_mb", "leak_mb_per_iter", "retrieval p95"} <= set(names)
    # Latency is judged on the latency run only, each name once
    assert len(names) == len(set(names))
    assert overall(None, [leak]) == "FAIL"  # what 'ragperf leak --gate' exits on: the leak target fails


STAGE_OVER_TARGET = """
import time

def slow(state):
    time.sleep(0.003)  # sleep never returns early: always over the 0.5 ms target
    return "x"
"""


def test_run_gate_fails_on_a_stage_target(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN pipeline targets far away and a stage target it cannot meet
    config = make_pipeline(
        STAGE_OVER_TARGET,
        '[[stages]]\nname = "slow"\ncall = "pipe:slow"\ntarget_ms = 0.5\n'
        "[targets]\np50_ms = 60000\np95_ms = 60000\np99_ms = 60000\n",
    )
    args = ["run", str(config), "-n", "3", "--warmup", "0", "-o", str(tmp_path / "r.json"), "--no-progress"]
    # THEN --gate exits 1, and without it the run exits 0
    assert runner.invoke(app, [*args, "--gate"]).exit_code == ExitCode.FAILED
    assert runner.invoke(app, args).exit_code == ExitCode.OK


def test_mb_is_a_mib_in_every_format(tmp_path: Path) -> None:
    # GIVEN a memory hotspot of exactly 10 MiB
    data: dict[str, Any] = json.loads((RUNS / "example_timer.json").read_text(encoding="utf-8"))
    spot = {"stage": "retrieval", "function": "alloc", "file": "a.py", "line": 1, "self_value": 10 * 2**20,
            "total_value": 10 * 2**20, "unit": "bytes", "samples": None, "count": 3, "share": 1.0,
            "backend": "memray"}  # fmt: skip
    data["hotspots"] = [spot]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    # THEN the terminal, Markdown and HTML all say 10.0 MB (10.5 would be 10^6-byte megabytes)
    for fmt in ("terminal", "md", "html"):
        output = runner.invoke(app, ["report", str(path), "-f", fmt]).output
        assert "10.0 MB" in output, fmt
        assert "10.5 MB" not in output, fmt


def test_asking_about_an_unknown_backend_is_a_usage_error() -> None:
    result = runner.invoke(app, ["backends", "timerr"])
    assert result.exit_code == ExitCode.USAGE
    assert "did you mean 'timer'?" in result.output
    assert result.output.count("\n") == 1


@pytest.mark.skipif(demo_config() is None, reason="needs the demo package")
def test_validate_without_a_config_falls_back_to_the_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "using the built-in demo" in result.output
    assert "every callable imports" in result.output
