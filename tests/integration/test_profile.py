"""`ragperf profile`: latency, memory and leak runs in real workers, then one report and the raw JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode

pytestmark = pytest.mark.slow

LEAKY = """
import time

def setup():
    return {"kept": []}

def fetch(state):
    time.sleep(0.002)  # a wait, as on a database
    return [1, 2, 3]

def hoard(state):
    # keeps 1 MB per query forever: the leak the report must name
    state.ctx["kept"].append(bytearray(1024 * 1024))
    return len(state.ctx["kept"])
"""

STAGES = """
[run]
warmup = 1

[[stages]]
name = "fetch"
call = "pipe:fetch"
kind = "retrieval"
target_ms = 1

[[stages]]
name = "hoard"
call = "pipe:hoard"
kind = "other"

[targets]
leak_mb_per_iter = 0.5
"""


def test_profile_writes_the_full_report_and_raw_json(make_pipeline, tmp_path, monkeypatch):
    # GIVEN a pipeline whose retrieval misses its target and whose second stage leaks 1 MB a query
    config = make_pipeline(LEAKY, STAGES, extra_toml='setup = "pipe:setup"')
    monkeypatch.chdir(tmp_path)
    report = tmp_path / "out" / "report.md"
    # WHEN 'ragperf profile' runs its three phases
    result = CliRunner().invoke(
        app,
        ["profile", str(config), "-n", "12", "--memory-queries", "2", "--leak-iterations", "8", "-o", str(report)],
        catch_exceptions=False,
    )
    # THEN it exits 0 (no --gate) and writes the report, the raw JSON and three run files
    assert result.exit_code == ExitCode.OK, result.output
    raw = json.loads(report.with_suffix(".json").read_text())
    assert set(raw["files"]) == {"run", "memory_run", "leak"}
    assert raw["files"]["run"]["queries"]["n"] == 12
    assert raw["files"]["memory_run"]["queries"]["n"] == 2
    assert len(list((tmp_path / ".ragperf" / "runs").glob("*.json"))) == 3
    # AND the report judges latency, memory and the leak, and puts the leak first on the roadmap
    text = report.read_text()
    assert "| p95 latency |" in text
    assert "| peak memory (RSS) | < 512 MB | not measured |" not in text
    leak = raw["roadmap"]["leak"]
    assert leak is not None
    assert leak["stage"] == "hoard"
    assert leak["priority"] == "P0"
    assert leak["slope_mb_per_iter"] == pytest.approx(1.0, rel=0.1)
    assert text.index(" hoard (memory leak)\n") < text.index(" fetch (retrieval)\n")  # the leak's card first


def test_profile_refuses_a_leak_check_too_short_to_fit(make_pipeline):
    config = make_pipeline(LEAKY, STAGES, extra_toml='setup = "pipe:setup"')
    result = CliRunner().invoke(app, ["profile", str(config), "--leak-iterations", "3"])
    assert result.exit_code == ExitCode.USAGE
    assert "at least 5 iterations" in result.output
