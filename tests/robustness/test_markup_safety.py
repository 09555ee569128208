"""User text that looks like rich markup or emoji codes prints as written, in every command (issue 14, case 3)."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode
from ragperf.renderers.console import make_console

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PROMPT = "<s>[INST] q [/INST] :100:"
PIPELINE = f"""
import ragperf

PROMPT = {PROMPT!r}

def setup(options):
    if options.get("fail") == "setup":
        raise RuntimeError(PROMPT)
    return None

def answer(state):
    ragperf.note("[bold]note[/bold] :100: [/x]")
    with ragperf.stage("[/x]"):
        pass
    if state.query.startswith("boom"):
        raise ValueError(PROMPT)
    return "ok"
"""
runner = CliRunner()


def _config(make_pipeline: Callable[..., Path], fail: str = "") -> Path:
    return make_pipeline(
        PIPELINE,
        '[[stages]]\nname = "answer"\ncall = "pipe:answer"\n',
        extra_toml=f'setup = "pipe:setup"\n[pipeline.options]\nfail = "{fail}"\n[run]\nwarmup = 1\n',
        queries=("boom one", "fine two"),
    )


def _clean(text: str) -> str:
    """The output with line wrapping undone, after checking it holds no traceback and no emoji."""
    assert "Traceback" not in text
    assert "MarkupError" not in text
    assert "\N{HUNDRED POINTS SYMBOL}" not in text
    return re.sub(r"\s+", " ", text)


@pytest.fixture
def run_file(make_pipeline: Callable[..., Path], tmp_path: Path) -> tuple[Path, str]:
    # GIVEN a pipeline whose errors, notes and span names look like markup, written to a file named so too
    config = _config(make_pipeline)
    output = tmp_path / "[/y] :100:.json"
    result = runner.invoke(app, ["run", str(config), "-n", "4", "--warmup", "0", "-o", str(output), "--no-progress"])
    return output, result.output


def test_run_prints_errors_notes_span_names_and_file_names_literally(run_file: tuple[Path, str]) -> None:
    output, text = run_file
    # THEN the run finishes, and every piece of user text appears exactly as written
    assert output.exists()
    text = _clean(text)
    assert f"ValueError: {PROMPT}" in text
    assert "- [bold]note[/bold] :100: [/x]" in text.split("Notes from the pipeline")[1]
    assert "[/x]" in text.split("Latency per stage")[1]  # the span marked in user code is a stage row
    assert f"Run file: {output}" in text


@pytest.mark.parametrize("fmt", ["terminal", "md", "html"])
def test_report_on_that_file_prints_it_literally(run_file: tuple[Path, str], fmt: str) -> None:
    output, _ = run_file
    # WHEN the run file is reported in each text format
    result = runner.invoke(app, ["report", str(output), "-f", fmt])
    # THEN no crash, and the note and the span name survive as written
    assert result.exit_code == 0, result.output
    text = _clean(result.output)
    # Markdown shows brackets through backslash escapes (so they never form links); the rest verbatim
    text = text.replace("\\[", "[").replace("\\]", "]") if fmt == "md" else text
    assert "[bold]note[/bold] :100: [/x]" in text
    assert "[/x]" in text.replace("[/x]", "", 1)


def test_terminal_report_shows_the_error_text(run_file: tuple[Path, str]) -> None:
    output, _ = run_file
    result = runner.invoke(app, ["report", str(output)])
    assert f"ValueError: {PROMPT}" in _clean(result.output)


def test_setup_error_with_markup_is_one_clean_line(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a setup that raises with a prompt in its message
    config = _config(make_pipeline, fail="setup")
    result = runner.invoke(app, ["run", str(config), "-n", "2", "-o", str(tmp_path / "r.json"), "--no-progress"])
    # THEN the pipeline exit code and the message as written
    assert result.exit_code == ExitCode.PIPELINE
    assert f"RuntimeError: {PROMPT}" in _clean(result.output)


def test_warmup_error_with_markup_prints_literally(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN the first (warm-up) query raises with markup in its text
    config = _config(make_pipeline)
    result = runner.invoke(app, ["run", str(config), "-n", "1", "--warmup", "1", "-o", str(tmp_path / "r.json")])
    assert PROMPT in _clean(result.output)


def test_error_line_of_a_user_mistake_keeps_brackets(tmp_path: Path) -> None:
    # GIVEN a config path that looks like a closing tag
    result = runner.invoke(app, ["validate", str(tmp_path / "[/x].toml")])
    assert result.exit_code == ExitCode.USAGE
    assert "[/x].toml: config file not found" in _clean(result.output)


def test_help_shows_bracketed_words() -> None:
    # WHEN the help of run is printed THEN '[memory]' is there, not eaten as a style tag
    result = runner.invoke(app, ["run", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "(default: [memory] enabled)" in re.sub(r"\s+", " ", result.output)


def test_every_console_is_literal() -> None:
    # GIVEN a console from the one factory, to a buffer
    buffer = io.StringIO()
    console = make_console(file=buffer, width=80)
    console.print("[bold]x[/bold] [/INST] :100:")
    # THEN it prints the text as given, with no escape codes
    assert buffer.getvalue() == "[bold]x[/bold] [/INST] :100:\n"
