"""`ragperf run --processes K` end to end: queries shared out over real worker processes, diffed process by process."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode
from ragperf.schema.io import load_run

if TYPE_CHECKING:
    from pathlib import Path

MODULE = """
import os
import time

import ragperf

def setup(options):
    return dict(options)

def a(state):
    time.sleep(0.002)

def b(state):
    time.sleep(state.ctx["b_ms"] / 1000)
    ragperf.metric("pid", os.getpid())
"""
CONFIG = """
[pipeline]
name = "procs"
setup = "procpipe:setup"
queries = "queries.txt"

[pipeline.options]
b_ms = {b_ms}

[run]
warmup = 1

[[stages]]
name = "a"
call = "procpipe:a"

[[stages]]
name = "b"
call = "procpipe:b"
"""
runner = CliRunner()


def _config(folder: Path, name: str, b_ms: int) -> Path:
    (folder / "procpipe.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    (folder / "queries.txt").write_text("one\ntwo\nthree\nfour\n", encoding="utf-8")
    config = folder / f"{name}.toml"
    config.write_text(textwrap.dedent(CONFIG.format(b_ms=b_ms)), encoding="utf-8")
    return config


def _run(config: Path, output: Path, *args: str) -> None:
    result = runner.invoke(app, ["run", str(config), "-o", str(output), "--no-progress", *args])
    assert result.exit_code == ExitCode.OK, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("processes")
    out = {}
    for name, b_ms in (("base", 20), ("slow", 30)):
        out[name] = folder / f"{name}.json"
        _run(_config(folder, name, b_ms), out[name], "-n", "31", "--processes", "3")
    return out


@pytest.mark.slow
def test_the_queries_come_from_each_process_in_turn(runs: dict[str, Path]) -> None:
    # GIVEN a run of 31 queries over 3 processes
    run = load_run(runs["base"])
    # THEN the file says which queries each process ran (the remainder to the first), all of them kept
    assert [(p.first, p.n) for p in run.processes] == [(0, 11), (11, 10), (21, 10)]
    assert run.n_queries == 31
    assert run.complete
    assert all(p.setup_ms is not None for p in run.processes)
    # AND they really ran in three processes, one after the other
    pids = run.queries.metric("b", "pid")
    assert [len(set(pids[p.first : p.first + p.n])) for p in run.processes] == [1, 1, 1]
    assert len(set(pids)) == 3
    # AND together they ran the query cycle one process would have
    ids = [run.queries.query_set[i].id for i in np.asarray(run.queries.query.values)]
    assert ids == [f"q{i % 4:04d}" for i in range(31)]


@pytest.mark.slow
def test_a_diff_of_replicated_runs_judges_the_processes(runs: dict[str, Path]) -> None:
    # GIVEN two 3-process runs, stage b slowed from 20 to 30 ms
    result = runner.invoke(app, ["diff", str(runs["base"]), str(runs["slow"]), "-t", "10%", "-f", "json"])
    report = json.loads(result.stdout)
    # THEN b regressed, judged between processes
    assert result.exit_code == ExitCode.FAILED
    assert "b" in report["regressions"]
    (group,) = report["groups"]
    b = next(s for s in group["stages"] if s["path"] == "b")
    assert b["evidence"]["kind"] == "replicated"
    assert b["evidence"]["samples"] == "processes"
    assert b["evidence"]["processes"] == [3, 3]
    assert b["evidence"]["shift"] == pytest.approx(0.5, abs=0.1)
    # AND the terminal names the test
    text = runner.invoke(app, ["diff", str(runs["base"]), str(runs["slow"]), "-t", "10%"]).stdout
    assert "Welch's t test on the processes' medians" in text


@pytest.mark.slow
def test_a_second_run_to_the_same_file_replaces_the_first(tmp_path: Path) -> None:
    # GIVEN a 2-process run written to one file
    config, output = _config(tmp_path, "again", 5), tmp_path / "again.json"
    _run(config, output, "-n", "4", "-p", "2")
    # WHEN run again to the same file, in 3 processes
    _run(config, output, "-n", "6", "-p", "3")
    # THEN the file and its artifacts are the new run's
    assert len(load_run(output).processes) == 3
    assert sorted(p.name for p in (tmp_path / "again.artifacts").iterdir()) == ["process-1", "process-2", "process-3"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--memory",), "--memory reads one process's memory: drop --processes"),
        (("-b", "pyinstrument"), "backend 'pyinstrument' profiles one process: drop --processes"),
    ],
)
def test_what_one_process_measures_refuses_several(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    config = _config(tmp_path, "one", 20)
    result = runner.invoke(app, ["run", str(config), "-n", "4", "-p", "2", "--no-progress", *args])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert "Traceback" not in result.output
