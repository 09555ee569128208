"""Where `ragperf report` (and `diff`) write: refused in one line before rendering, or written as asked."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode

RUNS = Path(__file__).parents[1] / "data" / "runs"
runner = CliRunner()


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    path = tmp_path / "run.json"
    shutil.copy(RUNS / "example_timer.json", path)
    return path


def _refused(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output
    assert message in result.output


def test_the_run_file_itself_is_not_an_output(run_file: Path) -> None:
    before = run_file.read_bytes()
    _refused(["report", str(run_file), "-o", str(run_file)], "is also an input")
    assert run_file.read_bytes() == before


def test_a_link_to_an_input_is_not_an_output_either(run_file: Path, tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(run_file)
    before = run_file.read_bytes()
    _refused(["report", str(run_file), "-o", str(link)], "is also an input")
    _refused(["diff", str(run_file), str(run_file), "-o", str(link)], "is also an input")
    assert run_file.read_bytes() == before


def test_an_unknown_suffix_without_a_format_lists_the_formats(run_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "x.csv"
    _refused(["report", str(run_file), "-o", str(output)], "'.csv' is not a report format")
    result = runner.invoke(app, ["report", str(run_file), "-o", str(output)])
    assert all(name in result.output for name in (".md", ".html", ".json", ".txt", "terminal"))
    assert not output.exists()


def test_an_unknown_suffix_with_a_format_is_written(run_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "x.csv"
    result = runner.invoke(app, ["report", str(run_file), "-o", str(output), "-f", "md"])
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8").startswith("# Performance report")


def test_an_existing_folder_is_not_an_output(run_file: Path, tmp_path: Path) -> None:
    _refused(["report", str(run_file), "-o", str(tmp_path)], "is a folder")


def test_an_empty_output_is_refused(run_file: Path) -> None:
    _refused(["report", str(run_file), "-o", ""], "path is empty")


def test_a_parent_that_is_a_file(run_file: Path) -> None:
    _refused(["report", str(run_file), "-o", str(run_file.with_name("run.json") / "r.md")], "is a file, not a folder")
    _refused(["diff", str(run_file), str(run_file), "-o", str(run_file / "d.md")], "is a file, not a folder")


def test_a_fifo_output_is_written_into_not_replaced(run_file: Path, tmp_path: Path) -> None:
    # GIVEN a named pipe whose read end is open (non-blocking open: no writer needed yet)
    fifo = tmp_path / "report.pipe"
    os.mkfifo(fifo)
    read_end = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        # WHEN the report (a few KB: it fits the pipe's buffer) is written to it
        result = runner.invoke(app, ["report", str(run_file), "-o", str(fifo), "-f", "md"])
        received = os.read(read_end, 1 << 16)
    finally:
        os.close(read_end)
    # THEN the reader got the report and the pipe is still a pipe
    assert result.exit_code == 0, result.output
    assert received.startswith(b"# Performance report")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_symlink_output_is_kept_and_its_target_written(run_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.md"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "report.md"
    link.symlink_to(target)
    result = runner.invoke(app, ["report", str(run_file), "-o", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8").startswith("# Performance report")


def test_files_of_two_pipelines_are_not_merged_silently(tmp_path: Path) -> None:
    # GIVEN a run of one pipeline and a leak file of another
    leak = json.loads((RUNS / "rich_leak.json").read_text(encoding="utf-8"))
    leak["pipeline"] = "other"
    other = tmp_path / "leak.json"
    other.write_text(json.dumps(leak), encoding="utf-8")
    run = RUNS / "rich_pyinstrument.json"
    # THEN one line naming both pipelines
    _refused(["report", str(run), str(other)], "different pipelines: 'rich' (run file) and 'other' (leak file)")
    # AND --force combines them
    result = runner.invoke(app, ["report", str(run), str(other), "--force", "-f", "md"])
    assert result.exit_code == 0, result.output
    assert "## Memory analysis" in result.output
