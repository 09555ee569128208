"""A `[report]` rule's text is data: only known {placeholders} are filled, nothing is evaluated (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode

if TYPE_CHECKING:
    from collections.abc import Callable

RUN = Path(__file__).parents[1] / "data" / "runs" / "example_timer.json"
BRACES = '{"query": answer} for {stage}, not {stage.__class__.__mro__} nor {0} or {stage!r:>99}'
runner = CliRunner()


def _rules(tmp_path: Path, advice: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(f"[[report.rules]]\nid = 'ours'\ntitle = 'Ours'\nadvice = {json.dumps(advice)}\n", encoding="utf-8")
    return path


def test_braces_in_a_rules_file_are_kept_as_written(tmp_path: Path) -> None:
    # GIVEN a rule whose advice holds JSON, attribute access, an index and a format spec
    rules = _rules(tmp_path, BRACES)
    # WHEN every format renders the report
    for fmt in ("terminal", "md", "json"):
        result = runner.invoke(app, ["report", str(RUN), "--rules", str(rules), "-f", fmt])
        # THEN no crash; only {stage} is filled, the rest is the rule's own text
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(RUN), "--rules", str(rules), "-f", "md"])
    # (Markdown writes '>' as an entity)
    assert '{"query": answer} for retrieval, not {stage.__class__.__mro__} nor {0} or {stage!r:&gt;99}' in result.output
    assert "<class" not in result.output


def test_braces_in_the_run_files_own_report_table_are_kept(tmp_path: Path) -> None:
    # GIVEN a run file whose stored config carries such a rule
    data = json.loads(RUN.read_text(encoding="utf-8"))
    data["config"]["report"] = {"rules": [{"id": "ours", "title": "Ours", "advice": BRACES}]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    # THEN every report of it renders, the text kept as written
    result = runner.invoke(app, ["report", str(path), "-f", "md"])
    assert result.exit_code == 0, result.output
    assert "{stage.__class__.__mro__}" in result.output


def test_an_unknown_placeholder_is_one_line_naming_the_valid_ones(tmp_path: Path) -> None:
    # GIVEN a rule naming a placeholder this version does not fill
    rules = _rules(tmp_path, "Route {stage} via {gateway}.")
    result = runner.invoke(app, ["report", str(RUN), "--rules", str(rules)])
    # THEN a usage error, one line, naming the placeholder and every valid one
    assert result.exit_code == ExitCode.USAGE
    assert result.output.count("\n") == 1
    assert "unknown placeholder {gateway}" in result.output
    assert "{stage}, {kind}, {top_function}, {top_share}, {slowest_branch}" in result.output


@pytest.mark.parametrize("advice", ["{gateway}", "a {Stage} b"])
def test_validate_refuses_an_unknown_placeholder_at_load_time(make_pipeline: Callable[..., Path], advice: str) -> None:
    # GIVEN a config whose [report] rule names an unknown placeholder
    config = make_pipeline(
        "def a(state):\n    return 1\n",
        f'[[stages]]\nname = "a"\ncall = "pipe:a"\n[[report.rules]]\nid = "x"\ntitle = "X"\nadvice = "{advice}"\n',
    )
    result = runner.invoke(app, ["validate", str(config)])
    # THEN validate says so in one line, before anything runs
    assert result.exit_code == ExitCode.USAGE
    assert "report.rules[0].advice: unknown placeholder" in result.output
    assert result.output.count("\n") == 1
