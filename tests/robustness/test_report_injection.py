"""User text in reports stays text: no script, no javascript: link, no broken table, no unquoted command (issue 15)."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragperf.backends.memray import CAPTURE_FILE, MemrayBackend
from ragperf.backends.pyinstrument import SESSION_FILE, PyinstrumentBackend
from ragperf.backends.pyspy import SPEEDSCOPE_FILE, PySpyBackend
from ragperf.backends.scalene import PROFILE_FILE, ScaleneBackend
from ragperf.cli.app import app
from ragperf.renderers.markdown import md_code, md_text

DATA = Path(__file__).parents[1] / "data"
SCRIPT = "<script>alert(1)</script>"
LINK = "[click](javascript:alert(1))"
runner = CliRunner()


def _hostile_run(tmp_path: Path) -> Path:
    """The example run with a hostile stage name, span name, note, error and artifact."""
    text = (DATA / "runs" / "example_timer.json").read_text(encoding="utf-8")
    text = text.replace('"rerank', json.dumps(f"re{SCRIPT}|x")[:-1])  # every path under the stage, renamed
    data: dict[str, Any] = json.loads(text)
    data["notes"] = [f"<img src=x onerror=alert(1)> {LINK} a|b"]
    data["artifacts"] = [
        {"kind": f"k{SCRIPT}", "path": "javascript:alert(1)", "open_command": "x`; rm -rf ~ `"},
        {"kind": "absolute", "path": '/tmp/"><script>x</script>', "open_command": None},
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _report(path: Path, fmt: str) -> str:
    result = runner.invoke(app, ["report", str(path), "-f", fmt])
    assert result.exit_code == 0, result.output
    return result.output


def test_markdown_escapes_html_links_and_pipes(tmp_path: Path) -> None:
    text = _report(_hostile_run(tmp_path), "md")
    # THEN no raw HTML or link from user text survives outside code spans (where Markdown shows HTML as text)
    prose = re.sub(r"(`+).*?\1", "", text)
    assert "<script" not in prose
    assert "<img" not in prose
    assert not re.search(r"(?<!\\)\]\(javascript:", prose)
    assert "\\[click\\](javascript:alert(1))" in prose
    # AND every table row keeps its column count (a '|' in a name is escaped)
    for table in re.findall(r"(?:^\|.*\|$\n?)+", text, flags=re.MULTILINE):
        rows = [re.split(r"(?<!\\)\|", row)[1:-1] for row in table.strip().splitlines()]
        assert len({len(row) for row in rows}) == 1, table
    # AND the text is still there, escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "`` x`; rm -rf ~ ` ``" in text  # a code span that the command's backticks cannot close


def test_html_links_only_files(tmp_path: Path) -> None:
    text = _report(_hostile_run(tmp_path), "html")
    hrefs = re.findall(r'href="([^"]*)"', text)
    # THEN artifact links are file: URIs or relative file names, never another scheme
    links = [h for h in hrefs if not h.startswith("#")]
    assert links == ["javascript%3Aalert%281%29", "file:///tmp/%22%3E%3Cscript%3Ex%3C/script%3E"]
    assert "<script" not in text


def test_markdown_text_helpers() -> None:
    assert md_text("a\\[b]\n<c>&") == "a\\\\\\[b\\] &lt;c&gt;&amp;"
    assert md_code("plain") == "`plain`"
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"


BACKENDS = [
    (PySpyBackend, SPEEDSCOPE_FILE, "hot.speedscope.json", None),
    (MemrayBackend, CAPTURE_FILE, "hot.memray.bin", "memray"),
    (PyinstrumentBackend, SESSION_FILE, "hot.pyisession", "pyinstrument"),
    (ScaleneBackend, PROFILE_FILE, "hot.scalene.json", None),
]


@pytest.mark.parametrize(("backend", "native", "captured", "module"), BACKENDS, ids=[b[2] for b in BACKENDS])
def test_open_commands_quote_their_paths(
    tmp_path: Path, backend: type[Any], native: str, captured: str, module: str | None
) -> None:
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    # GIVEN a captured profile in a folder whose name a shell would split and run
    folder = tmp_path / "my runs; touch pwned $(id)"
    folder.mkdir()
    shutil.copy(DATA / "backends" / captured, folder / native)
    # WHEN the backend collects it
    artifact = backend().collect(folder, []).artifacts[0]
    # THEN the command splits back into words with the path whole
    words = shlex.split(artifact.open_command)
    assert any(word.endswith(str(folder / native)) for word in words)
    assert "pwned" not in " ".join(w for w in words if not w.endswith(native))
