"""Run-file loading: version dispatch and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragperf.errors import RunFileError
from ragperf.schema import load_run
from ragperf.schema.io import atomic_write_text
from ragperf.schema.run import SCHEMA_VERSION


def test_unknown_version_is_refused_clearly(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"schema_version": 99, "kind": "run"}))
    with pytest.raises(RunFileError, match="schema_version 99 is not one this ragperf reads"):
        load_run(path)


def test_not_json(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("{not json")
    with pytest.raises(RunFileError, match="not valid JSON"):
        load_run(path)


def test_json_without_version(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"frame_records": []}')
    with pytest.raises(RunFileError, match="not a ragperf run file"):
        load_run(path)


def test_valid_version_wrong_content(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"schema_version": 1, "pipeline": "x"}')
    with pytest.raises(RunFileError, match="not a valid v1 run file"):
        load_run(path)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "deep" / "run.json"
    atomic_write_text(path, "{}")
    atomic_write_text(path, '{"a": 1}')
    assert path.read_text() == '{"a": 1}'
    assert [p.name for p in path.parent.iterdir()] == ["run.json"]


def test_a_version_1_file_loads_reports_and_diffs_against_the_current_version(tmp_path):
    from typer.testing import CliRunner

    from ragperf.cli.app import app
    from ragperf.schema import save_run

    # GIVEN a version-1 run file as an earlier ragperf wrote it
    v1 = Path(__file__).parents[1] / "data" / "runs" / "rich_pyinstrument.json"
    assert json.loads(v1.read_text())["schema_version"] == 1
    # WHEN it is loaded THEN its queries are the same queries, by column
    run = load_run(v1)
    records = json.loads(v1.read_text())["queries"]
    assert run.queries.n == len(records)
    assert run.queries.total_ms.values.tolist() == [r["total_ms"] for r in records]
    assert [q.id for q in run.queries] == [r["id"] for r in records]
    # AND written again it is a current-version file that loads to the same run
    v2 = tmp_path / "current.json"
    save_run(run, v2)
    assert json.loads(v2.read_text())["schema_version"] == SCHEMA_VERSION
    assert load_run(v2) == run
    # AND the two versions report and diff alike
    runner = CliRunner()
    assert (
        runner.invoke(app, ["report", str(v1), "-f", "md"]).stdout
        == runner.invoke(app, ["report", str(v2), "-f", "md"]).stdout
    )
    diff = runner.invoke(app, ["diff", str(v1), str(v2)])
    assert diff.exit_code == 0, diff.stdout
    assert "No regression" in diff.stdout


def test_a_damaged_column_is_one_line(tmp_path):
    from ragperf.schema import save_run

    run = load_run(Path(__file__).parents[1] / "data" / "runs" / "example_timer.json")
    path = tmp_path / "run.json"
    save_run(run, path)
    data = json.loads(path.read_text())
    cases = {
        "not base64": "@@@@",
        "too short": data["queries"]["total_ms"]["data"][:8],
    }
    for what, bad in cases.items():
        broken = json.loads(path.read_text())
        broken["queries"]["total_ms"]["data"] = bad
        path.write_text(json.dumps(broken))
        with pytest.raises(RunFileError, match=f"not a valid v{SCHEMA_VERSION} run file") as info:
            load_run(path)
        assert "\n" not in str(info.value), what


def test_a_version_2_memory_section_keeps_its_rss_figures_under_their_names():
    # GIVEN a version-2 run file with memory, whose stage "peak" was the process's RSS high-water mark
    path = Path(__file__).parents[1] / "data" / "runs" / "memory_v2.json"
    data = json.loads(path.read_text())
    assert data["schema_version"] == 2
    old = {s["path"]: s for s in data["memory"]["stages"]}
    # WHEN it is loaded
    memory = load_run(path).memory
    # THEN the RSS figures are kept as RSS, and peak working memory reads as not measured
    assert memory is not None
    assert "not measured" in memory.working_source
    assert memory.request_working_max is None
    assert memory.request_rss_rise_max == data["memory"]["request_peak_max"]
    for stage in memory.stages:
        assert stage.working_peak_max is None
        assert stage.rss_high_water == old[stage.path]["peak_rss"]
        assert stage.rss_rise_max == old[stage.path]["peak_increment"]


def test_a_version_3_file_loads_as_the_current_version(tmp_path):
    from ragperf.schema import save_run

    # GIVEN a run written now, then made into what a version-3 ragperf wrote: no `processes` field
    run = load_run(Path(__file__).parents[1] / "data" / "runs" / "rich_pyinstrument.json")
    current = tmp_path / "current.json"
    save_run(run, current)
    data = json.loads(current.read_text())
    data["schema_version"] = 3
    del data["processes"]
    v3 = tmp_path / "v3.json"
    v3.write_text(json.dumps(data))
    # WHEN it is loaded THEN it is the same run, in the current version, with one process
    loaded = load_run(v3)
    assert loaded.schema_version == SCHEMA_VERSION == 4
    assert loaded.processes == ()
    assert loaded == run
