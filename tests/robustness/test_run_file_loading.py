"""Run files that are not what they claim: each is one clean line and exit 2, never a hang or traceback (issue 14)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode, RunFileError
from ragperf.schema import load_run

RUN = Path(__file__).parents[1] / "data" / "runs" / "example_timer.json"
runner = CliRunner()


def _write(tmp_path: Path, data: Any, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _run_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RUN.read_text(encoding="utf-8"))
    return data


def _refused_by_every_command(path: Path, message: str) -> None:
    """load_run raises RunFileError; report and diff (either side) exit 2 with one line naming the file."""
    with pytest.raises(RunFileError, match=message):
        load_run(path)
    for args in (["report", str(path)], ["diff", str(RUN), str(path)], ["diff", str(path), str(RUN)]):
        result = runner.invoke(app, args)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert result.output.count("\n") == 1, result.output
        assert "Traceback" not in result.output
        assert str(path) in result.output


def test_json_nested_5000_deep(tmp_path: Path) -> None:
    _refused_by_every_command(_write(tmp_path, "[" * 5000 + "]" * 5000), "nested too deeply")


def test_json_nested_deep_inside_a_run_file(tmp_path: Path) -> None:
    data = _run_data()
    data["config"]["deep"] = json.loads("[" * 500 + "]" * 500)
    text = json.dumps(data).replace("[]", "[" * 5000 + "]" * 5000, 1)
    _refused_by_every_command(_write(tmp_path, text), "nested too deeply")


@pytest.mark.parametrize("version", [True, False, 1.0, "1", None])
def test_schema_version_must_be_the_integer(tmp_path: Path, version: object) -> None:
    data = _run_data()
    data["schema_version"] = version
    _refused_by_every_command(_write(tmp_path, data), "is not one this ragperf reads")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    # GIVEN a named pipe nobody writes to (reading it would block forever)
    fifo = tmp_path / "run.json"
    os.mkfifo(fifo)
    # THEN it is refused at once as not a regular file
    _refused_by_every_command(fifo, "not a regular file")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run.json"
    folder.mkdir()
    _refused_by_every_command(folder, "not a regular file|cannot read it")


def test_a_device_is_refused() -> None:
    with pytest.raises(RunFileError, match="not a regular file"):
        load_run(Path("/dev/null"))


def test_a_symlink_to_a_run_file_loads(tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(RUN)
    assert load_run(link).pipeline == load_run(RUN).pipeline


def _set(data: dict[str, Any], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


NUMBERS = [
    "queries.0.total_ms",
    "queries.3.spans.retrieval",
    "summary.total.p95",
    "summary.stages.1.mean",
    "summary.stages.1.p95_ci.0",
    "summary.targets.1.measured",
]


@pytest.mark.parametrize("where", NUMBERS)
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_figures_are_refused(tmp_path: Path, where: str, token: str) -> None:
    # GIVEN a run file with NaN or an infinity (written as JSON's tokens or an overflowing literal)
    data = _run_data()
    _set(data, where, "@@")
    path = _write(tmp_path, json.dumps(data).replace('"@@"', token))
    # THEN it is refused, naming where
    _refused_by_every_command(path, f"{where.rsplit('.', 1)[0]}.*finite number")


@pytest.mark.parametrize("where", NUMBERS)
def test_negative_durations_are_refused(tmp_path: Path, where: str) -> None:
    data = _run_data()
    _set(data, where, -1.5)
    _refused_by_every_command(_write(tmp_path, data), "duration cannot be negative")


def test_a_negative_leak_slope_is_still_a_valid_figure(tmp_path: Path) -> None:
    # A shrinking memory series has a negative slope: only durations are refused below zero.
    leak = load_run(RUN.with_name("rich_leak.json"))
    assert leak.leak is not None
    data = json.loads(RUN.with_name("rich_leak.json").read_text(encoding="utf-8"))
    data["leak"]["slope"] = -0.25
    assert load_run(_write(tmp_path, data)).leak.slope == -0.25  # type: ignore[union-attr]
