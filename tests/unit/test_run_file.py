"""Run-file loading: version dispatch and clear refusals."""

from __future__ import annotations

import json

import pytest

from ragperf.errors import RunFileError
from ragperf.schema import load_run
from ragperf.schema.io import atomic_write_text


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
