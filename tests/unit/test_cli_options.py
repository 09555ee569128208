"""Backend options from the command line: -O pairs, the --rate/--native shortcuts, and the config's."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.cli.options import backend_options, parse_options
from ragperf.config import Config
from ragperf.errors import ConfigError, ExitCode

BASE = {"pipeline": {"name": "t"}, "stages": [{"name": "a", "call": "m:f"}]}


def _config(**backend: object) -> Config:
    return Config.model_validate({**BASE, "backend": backend})


def test_command_line_overrides_the_config_and_shortcuts_override_pairs():
    # GIVEN a config asking py-spy for 50 Hz without native frames
    config = _config(name="py-spy", options={"rate": 50, "native": False, "idle": False})
    # WHEN the command line passes -O rate=80 and --rate 200 --native
    options = backend_options(config, "py-spy", ["rate=80"], rate=200, native=True)
    # THEN the shortcut wins over the pair, which wins over the config; untouched keys stay
    assert options == {"rate": "200", "native": "true", "idle": False}


def test_config_options_apply_only_to_the_backend_they_name():
    config = _config(name="py-spy", options={"rate": 50})
    assert backend_options(config, "memray", None, native=False) == {"native": "false"}


def test_a_pair_without_equals_is_a_config_error_with_an_example():
    with pytest.raises(ConfigError, match=r"expected KEY=VALUE, e\.g\. -O rate=250"):
        parse_options(["rate"])


def test_a_shortcut_the_backend_lacks_is_one_line_exit_2(tmp_path):
    # GIVEN a valid pipeline WHEN --rate is given to the timer, which does not sample
    (tmp_path / "m.py").write_text("def f(state):\n    return 1\n", encoding="utf-8")
    config = tmp_path / "ragperf.toml"
    config.write_text('[pipeline]\nname = "t"\n\n[[stages]]\nname = "a"\ncall = "m:f"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(config), "-b", "timer", "--rate", "100", "--query", "q"])
    # THEN the run refuses before any query, naming the backend's valid options
    assert result.exit_code == ExitCode.USAGE
    assert "backend 'timer' has no option 'rate'" in result.output
    assert "Traceback" not in result.output
