"""`ragperf diff` end to end: real runs of a real pipeline (worker processes), diffed through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode

MODULE = """
import time

def setup(options):
    return dict(options)

# Waits, as on I/O: a busy-wait overruns whenever a loaded machine preempts it, a sleep barely does.
def a(state):
    time.sleep(state.ctx["a_ms"] / 1000)

def b(state):
    time.sleep(state.ctx["b_ms"] / 1000)
"""

CONFIG = """
[pipeline]
name = "spin"
setup = "diffpipe:setup"
queries = "queries.txt"

[pipeline.options]
a_ms = 10
b_ms = {b_ms}

[[stages]]
name = "a"
call = "diffpipe:a"

[[stages]]
name = "b"
call = "diffpipe:b"
"""

runner = CliRunner()


def _start(folder: Path, name: str, b_ms: int) -> subprocess.Popen[bytes]:
    config = folder / f"{name}.toml"
    config.write_text(textwrap.dedent(CONFIG.format(b_ms=b_ms)), encoding="utf-8")
    output = folder / f"{name}.json"
    command = [sys.executable, "-m", "ragperf", "run", str(config), "-n", "30", "--warmup", "1", "-o", str(output)]
    return subprocess.Popen([*command, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three real runs: two of the same pipeline (b waits 20 ms), one with b slowed to 26 ms."""
    folder = tmp_path_factory.mktemp("diff")
    (folder / "diffpipe.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    (folder / "queries.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    # Side by side, so whatever else loads the machine loads all three alike (interleaving, as careful
    # benchmarks do): drift between runs made one after another would be a real change, rightly reported.
    started = {name: _start(folder, name, b_ms) for name, b_ms in (("base", 20), ("again", 20), ("slow", 26))}
    for name, process in started.items():
        _, err = process.communicate(timeout=120)
        assert process.returncode == ExitCode.OK, f"{name}: {err.decode()}"
    return {name: folder / f"{name}.json" for name in started}


# The machine is shared: a generous threshold keeps these tests about the command, not the machine's
# load; the statistics at default settings are checked in tests/unit and benchmarks/diff_validation.py.
THRESHOLD = ("--threshold", "10%")


def _json_diff(*args: str) -> tuple[int, dict[str, object]]:
    result = runner.invoke(app, ["diff", *args, *THRESHOLD, "--format", "json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.slow
def test_slowed_stage_is_found_in_that_stage_only(runs: dict[str, Path]) -> None:
    # GIVEN two real runs, stage b slowed from 20 to 26 ms in the second
    # WHEN diffed
    code, report = _json_diff(str(runs["base"]), str(runs["slow"]))
    # THEN the gate fails, on b and the total only; a is not flagged; the changed option is named
    assert code == ExitCode.FAILED
    assert report["regressions"] == ["b", "total"]
    (group,) = report["groups"]  # type: ignore[misc]
    stages = {s["path"]: s for s in group["stages"]}
    assert stages["a"]["verdict"] in {"unchanged", "inconclusive"}  # wake-up jitter on a loaded machine may widen it
    assert stages["b"]["evidence"]["shift"] == pytest.approx(0.30, abs=0.05)
    assert report["schema_version"] == 2
    assert "config differs: pipeline.options.b_ms: 20 -> 26" in [w["message"] for w in report["warnings"]]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_same_pipeline_twice_passes_the_gate(runs: dict[str, Path]) -> None:
    # GIVEN two real runs of the same pipeline and config
    # WHEN diffed
    code, report = _json_diff(str(runs["base"]), str(runs["again"]))
    # THEN nothing regressed, and the exit code lets CI pass
    assert code == ExitCode.OK
    assert report["regressions"] == []
    assert "config" not in [w["kind"] for w in report["warnings"]]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_terminal_and_markdown_output(runs: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN the slowed run WHEN diffed to the terminal THEN the verdicts and headline are printed
    result = runner.invoke(app, ["diff", str(runs["base"]), str(runs["slow"]), *THRESHOLD])
    assert result.exit_code == ExitCode.FAILED
    assert "regression" in result.stdout
    assert "REGRESSION in b (+" in result.stdout
    # WHEN written as Markdown to a file THEN the file holds the table and the headline goes to stderr
    out = tmp_path / "diff.md"
    result = runner.invoke(app, ["diff", str(runs["base"]), str(runs["slow"]), *THRESHOLD, "-f", "md", "-o", str(out)])
    assert result.exit_code == ExitCode.FAILED
    text = out.read_text(encoding="utf-8")
    assert text.startswith("## ragperf diff: spin")
    assert "🔴 regression" in text
    assert "Diff written to" in result.stderr
    assert "REGRESSION in b (+" in result.stdout  # the terminal view still goes to the log
    # WHEN the terminal view is written to a file THEN it is plain text, no colour codes
    out = tmp_path / "diff.txt"
    runner.invoke(app, ["diff", str(runs["base"]), str(runs["slow"]), *THRESHOLD, "-o", str(out)])
    text = out.read_text(encoding="utf-8")
    assert "REGRESSION in b (+" in text
    assert "\x1b[" not in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "5"], "ambiguous threshold"),
        (["--threshold", "p42=5%"], "unknown metric"),
        (["--alpha", "2"], "not in (0, 1)"),
        (["--min-ms", "-1"], "not a duration >= 0 ms"),
    ],
)
def test_bad_options_exit_2(runs: dict[str, Path], args: list[str], message: str) -> None:
    # GIVEN valid runs WHEN diffed with a bad option THEN exit 2 with the fix, no traceback
    result = runner.invoke(app, ["diff", str(runs["base"]), str(runs["slow"]), *args])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hello": 1}', "not a ragperf run file"),
        ('{"schema_version": 99}', "schema_version 99 is not one this ragperf reads"),
        ("not json", "not valid JSON"),
    ],
)
def test_unusable_input_exits_2(runs: dict[str, Path], tmp_path: Path, content: str, message: str) -> None:
    # GIVEN a file that is not a usable run file
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    # WHEN diffed THEN exit 2 with a one-line reason
    result = runner.invoke(app, ["diff", str(runs["base"]), str(bad)])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr


@pytest.mark.slow
def test_different_pipelines_need_force(runs: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN the slowed run relabelled as another pipeline
    other = tmp_path / "other.json"
    data = json.loads(runs["slow"].read_text(encoding="utf-8"))
    other.write_text(json.dumps({**data, "pipeline": "other"}), encoding="utf-8")
    # WHEN diffed THEN it is refused (exit 2, the fix named); with --force it is compared
    refused = runner.invoke(app, ["diff", str(runs["base"]), str(other)])
    assert refused.exit_code == ExitCode.USAGE
    assert "--force" in refused.stderr
    forced = runner.invoke(app, ["diff", str(runs["base"]), str(other), *THRESHOLD, "--force"])
    assert forced.exit_code == ExitCode.FAILED


@pytest.mark.slow
def test_installed_command_gates_ci(runs: dict[str, Path], tmp_path: Path) -> None:
    # GIVEN the installed `ragperf` script WHEN it diffs the runs from another folder, as a CI job does
    beside = Path(sys.executable).with_name("ragperf")
    exe = str(beside) if beside.is_file() else shutil.which("ragperf")
    if exe is None:
        pytest.skip("the ragperf script is not installed beside this Python nor on PATH")
    done = subprocess.run(
        [exe, "diff", str(runs["base"]), str(runs["slow"]), *THRESHOLD, "-f", "md"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    # THEN it exits 1 and prints Markdown fit for a job summary
    assert done.returncode == ExitCode.FAILED
    assert "| b | 30 / 30 |" in done.stdout


@pytest.mark.slow
def test_the_floor_can_hide_a_small_slowdown(runs: dict[str, Path]) -> None:
    # GIVEN stage b slowed by 6 ms WHEN diffed with a floor above that THEN nothing counts: exit 0, floor shown
    code, report = _json_diff(str(runs["base"]), str(runs["slow"]), "--min-ms", "50")
    assert code == ExitCode.OK
    assert report["regressions"] == []
    assert report["min_ms"] == 50


def test_help_documents_the_floor() -> None:
    # GIVEN the diff command WHEN asked for help THEN the floor, its default and how to turn it off are there
    from ragperf.analysis.thresholds import DEFAULT_MIN_MS

    result = runner.invoke(app, ["diff", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    text = " ".join(result.stdout.split())
    assert "--min-ms" in text
    assert f"default {DEFAULT_MIN_MS:g}" in text
    assert "[diff]" in text
