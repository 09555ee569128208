"""Output paths are checked before anything runs, only regular files are replaced, and two runs never
write into one another."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from robust_helpers import finish, measured, one_line_error, ragperf, wait_for

from ragperf.schema import load_run

pytestmark = pytest.mark.slow


def _run(pipeline, output, n=3, cwd=None):
    args = ["run", str(pipeline.config), "-n", str(n), "--no-progress"]
    args += [] if output is None else ["-o", str(output)]
    return ragperf(*args, cwd=cwd)


def test_a_device_given_as_output_is_refused_and_left_alone(knobs):
    pipeline = knobs()
    returncode, _, err = finish(_run(pipeline, "/dev/null"))
    assert returncode == 2
    assert one_line_error(err), err
    assert "is not a regular file" in err
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)
    assert not pipeline.pid_file.exists()  # refused before the worker started


def test_a_symlink_given_as_output_is_followed_not_replaced(knobs, tmp_path):
    pipeline = knobs()
    target = tmp_path / "real" / "run.json"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert finish(_run(pipeline, link))[0] == 0
    assert link.is_symlink()
    assert len(load_run(target).queries) == 3


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("", "path is empty"),
        ("folder", "is a folder"),
        ("afile/run.json", "a parent of it is a file"),
        ("x.artifacts", "names ragperf's artifact folders"),
        ("/proc/run.json", "is not writable"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line_before_any_query(knobs, tmp_path, given, says):
    pipeline = knobs()
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    returncode, out, err = finish(_run(pipeline, given, cwd=tmp_path))
    assert returncode == 2
    assert one_line_error(err), err
    assert says in err
    assert not pipeline.pid_file.exists()
    assert "Traceback" not in out


def test_two_runs_in_the_same_second_get_two_files(knobs, tmp_path):
    # GIVEN two runs of one pipeline started together, with default file names
    pipeline = knobs(ms=5)
    first, second = _run(pipeline, None, n=10, cwd=tmp_path), _run(pipeline, None, n=20, cwd=tmp_path)
    assert finish(first)[0] == 0
    assert finish(second)[0] == 0
    # THEN each wrote a file of its own, holding its own queries only
    files = sorted((tmp_path / ".ragperf" / "runs").glob("*.json"))
    assert sorted(len(load_run(f).queries) for f in files) == [10, 20]


def test_an_output_another_live_run_holds_is_refused(knobs, tmp_path):
    pipeline = knobs(ms=20)
    output = tmp_path / "shared.json"
    long_run = _run(pipeline, output, n=2000)
    wait_for(lambda: measured(output) >= 1)
    returncode, _, err = finish(_run(pipeline, output))
    long_run.terminate()
    finish(long_run)
    assert returncode == 2
    assert "another ragperf run is writing" in err
    assert len(load_run(output).queries) >= 1  # the first run's data is intact


def test_a_folder_of_someone_elses_files_is_not_emptied(knobs, tmp_path):
    pipeline = knobs()
    mine = tmp_path / "run.artifacts" / "thesis.tex"
    mine.parent.mkdir()
    mine.write_text("precious", encoding="utf-8")
    returncode, _, err = finish(_run(pipeline, tmp_path / "run.json"))
    assert returncode == 2
    assert "holds files ragperf did not write" in err
    assert mine.read_text(encoding="utf-8") == "precious"


def test_a_pipeline_name_cannot_place_files_outside_the_runs_folder(knobs, tmp_path):
    pipeline = knobs(name="/../../../escaped")
    assert finish(_run(pipeline, None, cwd=tmp_path))[0] == 0
    written = [p for p in tmp_path.rglob("*.json") if p.name != "spec.json"]
    assert [p.parent for p in written] == [tmp_path / ".ragperf" / "runs"]


def test_a_full_disk_is_one_line(knobs, tiny_disk):
    pipeline = knobs(ms=1)
    returncode, out, err = finish(_run(pipeline, tiny_disk / "run.json", n=6000))  # 47 KB of columns
    assert returncode in (2, 3)
    assert one_line_error(err), err
    assert "No space left on device" in err
    assert "Traceback" not in out
