"""Configs that passed validate but failed later: now refused in one line, or run right (issue 14)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

MODULE = """
def a(state):
    return "a"

def left(state):
    return "L"

def fuse(state):
    return "merged"
"""
STAGE = '[[stages]]\nname = "a"\ncall = "pipe:a"\n'
runner = CliRunner()


def _validate(config: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", str(config)])
    return result.exit_code, result.output


def test_a_very_long_pipeline_name_is_refused_by_validate(make_pipeline: Callable[..., Path]) -> None:
    config = make_pipeline(MODULE, STAGE)
    config.write_text(config.read_text().replace('name = "test"', f'name = "{"n" * 100_000}"'))
    code, output = _validate(config)
    # THEN one short line (the name is not echoed back) saying the bound
    assert code == ExitCode.USAGE
    assert output.count("\n") == 1
    assert len(output) < 300
    assert "pipeline.name: give a name of 1 to 100 characters (got 100000)" in output


def test_a_name_of_100_characters_is_fine(make_pipeline: Callable[..., Path]) -> None:
    config = make_pipeline(MODULE, STAGE)
    config.write_text(config.read_text().replace('name = "test"', f'name = "{"n" * 100}"'))
    assert _validate(config)[0] == 0


@pytest.mark.parametrize("value", ["nan", "-inf", "inf", "-5", "0"])
@pytest.mark.parametrize("key", ["p95_ms", "peak_memory_mb", "leak_mb_per_iter", "sustained_qps"])
def test_targets_must_be_finite_and_above_zero(make_pipeline: Callable[..., Path], key: str, value: str) -> None:
    config = make_pipeline(MODULE, STAGE + f"[targets]\n{key} = {value}\n")
    code, output = _validate(config)
    assert code == ExitCode.USAGE
    assert f"targets.{key}: " in output
    assert output.count("\n") == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_stage_target_must_be_finite_and_above_zero(make_pipeline: Callable[..., Path], value: str) -> None:
    code, output = _validate(make_pipeline(MODULE, STAGE + f"target_ms = {value}\n"))
    assert code == ExitCode.USAGE
    assert "stages[0].target_ms" in output


def test_an_empty_parallel_list_is_refused(make_pipeline: Callable[..., Path]) -> None:
    code, output = _validate(make_pipeline(MODULE, '[[stages]]\nname = "r"\nparallel = []\n'))
    assert code == ExitCode.USAGE
    assert "stages[0]: 'parallel' is empty" in output


def test_a_fan_out_with_every_branch_off_is_a_skipped_stage(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a parallel stage (with a merge) whose branches are all switched off
    branches = (
        '[[stages]]\nname = "r"\nmerge = "pipe:fuse"\nparallel = [\n'
        '  { name = "left", call = "pipe:left", enabled = false },\n'
        '  { name = "right", call = "pipe:left", enabled = false },\n]\n'
    )
    config = make_pipeline(MODULE, STAGE + branches)
    # THEN validate lists it as skipped
    code, output = _validate(config)
    assert code == 0, output
    assert "skipped: r" in output
    # AND a run measures every query, showing the stage as skipped like enabled = false
    output_file = tmp_path / "run.json"
    result = runner.invoke(
        app, ["run", str(config), "-n", "3", "--warmup", "0", "-o", str(output_file), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    run = load_run(output_file)
    assert run.summary.n_failed == 0
    assert {s.path: s.skipped for s in run.summary.stages}["r"] is True
    assert all(set(q.spans) == {"a"} for q in run.queries)
    report = runner.invoke(app, ["report", str(output_file), "-f", "md"])
    assert "| r |  |  |  |  |  |  |  |  |  |  | skipped |" in report.output
