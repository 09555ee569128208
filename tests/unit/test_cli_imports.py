"""`ragperf --help` and `--version` load no analysis, no numpy, no run-file models, no rich tables."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# pydantic itself is not listed: Typer imports it to coerce parameters. Its models of ragperf's files are.
HEAVY = ("numpy", "ragperf.schema", "ragperf.config", "ragperf.analysis", "ragperf.renderers.terminal", "rich.table")

PROBE = """
import contextlib, io, json, sys
from ragperf.cli.app import app
with contextlib.redirect_stdout(io.StringIO()):
    try:
        app(ARGS, standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("args", [[], ["--help"], ["--version"], ["run", "--help"], ["diff", "--help"]])
def test_the_cli_loads_only_what_it_shows(args):
    # GIVEN a fresh interpreter WHEN the CLI module is imported (and asked for help or its version)
    code = (
        PROBE.replace("ARGS", repr(args))
        if args
        else "import json, sys, ragperf.cli.app; print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN none of the heavy packages was imported: each command loads them when it runs
    loaded = [m for m in modules if any(m == heavy or m.startswith(heavy + ".") for heavy in HEAVY)]
    assert loaded == []
