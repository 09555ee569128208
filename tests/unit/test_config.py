"""Config errors: each kind is one line naming the file, the key and the fix, exit code 2."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from ragperf.cli.app import app

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()

GOOD_MODULE = """
def a(state):
    return state.query.upper()
NOT_CALLABLE = 42
"""


def _validate(config: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["validate", str(config)])
    return result.exit_code, result.output


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert len(lines) == 1, output
    return lines[0]


def test_valid_config_imports_every_callable(make_pipeline):
    # GIVEN a config whose stage names a real function
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:a"\n')
    # WHEN it is validated
    code, output = _validate(config)
    # THEN it passes and counts stages and queries
    assert code == 0, output
    assert "1 stages" in output
    assert "3 queries" in output


def test_unknown_key_suggests_the_close_one(make_pipeline):
    # GIVEN a typo in a stage key
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:a"\ntarget_sm = 5\n')
    # WHEN / THEN: exit 2, the file, the key path and the fix
    code, output = _validate(config)
    message = _one_line_error(output)
    assert code == 2
    assert str(config.name) in message
    assert "stages[0].target_sm" in message
    assert "did you mean 'target_ms'" in message


def test_wrong_type_names_the_key(make_pipeline):
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:a"\ntarget_ms = "fast"\n')
    code, output = _validate(config)
    message = _one_line_error(output)
    assert code == 2
    assert "stages[0].target_ms" in message
    assert "'fast'" in message


def test_missing_file(tmp_path):
    code, output = _validate(tmp_path / "nope.toml")
    message = _one_line_error(output)
    assert code == 2
    assert "nope.toml: config file not found" in message


def test_toml_syntax_error_gives_the_line(make_pipeline):
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:a"\ntarget_ms = = 5\n')
    code, output = _validate(config)
    message = _one_line_error(output)
    assert code == 2
    assert "TOML syntax error" in message
    assert "line 8" in message


def test_module_that_does_not_exist(make_pipeline):
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipez:a"\n')
    code, output = _validate(config)
    message = _one_line_error(output)
    assert code == 2
    assert "stages[0].call = 'pipez:a'" in message
    assert "module 'pipez' not found" in message


def test_module_needing_a_missing_package_says_what_to_install(make_pipeline):
    config = make_pipeline(
        "import not_a_real_package_xyz\ndef a(state):\n    return 1\n", '[[stages]]\nname = "a"\ncall = "pipe:a"\n'
    )
    code, output = _validate(config)
    message = _one_line_error(output)
    assert code == 2
    assert "needs module 'not_a_real_package_xyz'" in message
    assert "pip install not_a_real_package_xyz" in message


def test_attribute_typo_suggests_the_name(make_pipeline):
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:b"\n')
    code, output = _validate(config)
    assert code == 2
    assert re.search(r"'pipe_\w+' has no attribute 'b'", _one_line_error(output))


def test_not_callable(make_pipeline):
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:NOT_CALLABLE"\n')
    code, output = _validate(config)
    message = _one_line_error(output)
    assert code == 2
    assert "that is a int, not a function" in message


def test_call_and_parallel_are_exclusive(make_pipeline):
    stages = '[[stages]]\nname = "a"\ncall = "pipe:a"\nparallel = [{ name = "x", call = "pipe:a" }]\n'
    code, output = _validate(make_pipeline(GOOD_MODULE, stages))
    assert code == 2
    assert "either 'call' or 'parallel'" in _one_line_error(output)


def test_duplicate_stage_names(make_pipeline):
    stages = '[[stages]]\nname = "a"\ncall = "pipe:a"\n[[stages]]\nname = "a"\ncall = "pipe:a"\n'
    code, output = _validate(make_pipeline(GOOD_MODULE, stages))
    assert code == 2
    assert "repeated: a" in _one_line_error(output)


def test_bad_jsonl_query_file_names_the_line(make_pipeline, tmp_path):
    config = make_pipeline(GOOD_MODULE, '[[stages]]\nname = "a"\ncall = "pipe:a"\n')
    (tmp_path / "q.jsonl").write_text('{"query": "ok"}\n{"query": broken}\n', encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace("queries.txt", "q.jsonl"), encoding="utf-8")
    code, output = _validate(config)
    assert code == 2
    assert "q.jsonl:2: not valid JSON" in _one_line_error(output)
