"""`ragperf diff` on real load files: `ragperf load` on a small pipeline (worker processes), diffed through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode

if TYPE_CHECKING:
    from pathlib import Path

MODULE = """
import time

def setup(options):
    return dict(options)

# Waits, as on I/O: on a shared machine a sleep keeps its length, a busy-wait does not.
def fetch(state):
    time.sleep(state.ctx["fetch_ms"] / 1000)

def generate(state):
    time.sleep(state.ctx["generate_ms"] / 1000)
"""

CONFIG = """
[pipeline]
name = "loaddiff"
setup = "loadpipe:setup"
queries = "queries.txt"

[pipeline.options]
fetch_ms = 5
generate_ms = {generate_ms}

[[stages]]
name = "fetch"
call = "loadpipe:fetch"

[[stages]]
name = "generate"
call = "loadpipe:generate"
kind = "generation"

[targets]
p95_ms = 500
"""

# 40 qps on 2 workers against a 20-30 ms pipeline: well below capacity, so latency is the service time.
LOAD = ("--qps", "40", "--duration", "2.5", "--workers", "2", "--arrival", "constant", "--warmup", "2")
# A shared machine: a generous threshold keeps these tests about the command; the statistics are
# checked in tests/unit/test_diff_load.py.
THRESHOLD = ("--threshold", "10%")

runner = CliRunner()


def _start(folder: Path, name: str, command: str, generate_ms: int, *args: str) -> subprocess.Popen[bytes]:
    config = folder / f"{name}.toml"
    config.write_text(textwrap.dedent(CONFIG.format(generate_ms=generate_ms)), encoding="utf-8")
    output = folder / f"{name}.json"
    argv = [sys.executable, "-m", "ragperf", command, str(config), *args, "-o", str(output), "--no-progress"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two load files of one pipeline (generate waits 15 ms), one with generate slowed to 25 ms, and a run file."""
    folder = tmp_path_factory.mktemp("diffload")
    (folder / "loadpipe.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    (folder / "queries.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    # Side by side, so whatever else loads the machine loads them alike.
    started = {
        "base": _start(folder, "base", "load", 15, *LOAD),
        "again": _start(folder, "again", "load", 15, *LOAD),
        "slow": _start(folder, "slow", "load", 25, *LOAD),
        "run": _start(folder, "run", "run", 15, "-n", "10", "--warmup", "1"),
    }
    for name, process in started.items():
        _, err = process.communicate(timeout=120)
        assert process.returncode == ExitCode.OK, f"{name}: {err.decode()}"
    return {name: folder / f"{name}.json" for name in started}


def _json_diff(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["diff", *args, *THRESHOLD, "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.slow
def test_slowed_stage_under_load_fails_the_gate_naming_it(files: dict[str, Path]) -> None:
    # GIVEN two real load files at 40 qps, generate slowed from 15 to 25 ms in the second
    # WHEN diffed
    code, report = _json_diff(str(files["base"]), str(files["slow"]))
    # THEN the gate fails on generate and the pipeline total at 40 qps; fetch is not flagged
    assert code == ExitCode.FAILED
    regressions = report["regressions"]
    assert "generate @ 40 qps" in regressions  # type: ignore[operator]
    assert "total @ 40 qps" in regressions  # type: ignore[operator]
    assert not any(name.startswith("fetch") for name in regressions)  # type: ignore[union-attr]
    step = report["groups"][0]  # type: ignore[index]
    generate = next(s for s in step["stages"] if s["path"] == "generate")
    # AND the shift is the slowdown's size (+67%, within the jitter of a shared machine)
    assert generate["evidence"]["shift"] == pytest.approx(10 / 15.5, abs=0.12)


@pytest.mark.slow
def test_same_load_twice_passes_the_gate(files: dict[str, Path]) -> None:
    # GIVEN two real load files of the same pipeline and config
    # WHEN diffed
    code, report = _json_diff(str(files["base"]), str(files["again"]))
    # THEN nothing regressed and the exit code lets CI pass
    assert code == ExitCode.OK, report["regressions"]
    assert report["regressions"] == []
    assert [g["label"] for g in report["groups"]] == ["40 qps"]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_terminal_and_markdown_views(files: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN the slowed load file WHEN diffed to the terminal THEN the step and the headline are printed
    result = runner.invoke(app, ["diff", str(files["base"]), str(files["slow"]), *THRESHOLD])
    assert result.exit_code == ExitCode.FAILED
    assert "40 qps offered" in result.stdout
    assert "REGRESSION in generate @ 40 qps (+" in result.stdout
    # WHEN written as Markdown THEN the file holds the step's tables
    out = tmp_path / "diff.md"
    args = ["diff", str(files["base"]), str(files["slow"]), *THRESHOLD, "-f", "md", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.FAILED
    text = out.read_text(encoding="utf-8")
    assert text.startswith("## ragperf diff (load): loaddiff")
    assert "| generate |" in text
    assert "🔴 regression" in text


@pytest.mark.slow
@pytest.mark.parametrize("order", ["load-run", "run-load"])
def test_load_file_against_run_file_exits_2(files: dict[str, Path], order: str) -> None:
    # GIVEN a load file and a run file of the same pipeline
    first, second = (files["base"], files["run"]) if order == "load-run" else (files["run"], files["base"])
    # WHEN diffed THEN exit 2 with a one-line message naming what diff compares, no traceback
    result = runner.invoke(app, ["diff", str(first), str(second)])
    assert result.exit_code == ExitCode.USAGE
    assert "diff compares two load files ('ragperf load') or two run files" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
