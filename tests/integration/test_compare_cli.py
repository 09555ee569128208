"""`ragperf compare` end to end: two served workers (real child processes), interleaved, two run files and a diff."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ragperf.engine.stream import measured_in
from ragperf.errors import ExitCode
from ragperf.schema import load_run
from ragperf.schema.diff import DiffReport

MODULE = """
import os
import time

import ragperf

def setup(options):
    return dict(options)

def crunch(state):
    allowed = os.sched_getaffinity(0)
    ragperf.metric("cpu", max(allowed) if len(allowed) == 1 else -1)
    x = 0
    for i in range(int(state.ctx["work"] * state.ctx["factor"])):
        x += i * i
    return x

def wait(state):
    time.sleep(0.002)
"""

CONFIG = """
[pipeline]
name = "ab"
setup = "cmppipe:setup"
queries = "{queries}"

[pipeline.options]
work = 20000
factor = {factor}

[run]
warmup = 2
{extra}

[[stages]]
name = "crunch"
call = "cmppipe:crunch"

[[stages]]
name = "wait"
call = "cmppipe:wait"
"""

# The machine is shared: a 10% threshold keeps these tests about the command, not the machine's load;
# the paired statistics themselves are checked in tests/unit/test_paired.py and benchmarks/diff_noise.py.
THRESHOLD = ("-t", "10%")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "cmppipe.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    (tmp_path / "queries.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("four\nfive\n", encoding="utf-8")
    return tmp_path


def _config(folder: Path, name: str, factor: float = 1.0, extra: str = "", queries: str = "queries.txt") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(CONFIG.format(factor=factor, extra=extra, queries=queries)), encoding="utf-8")
    return path


def _compare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ragperf", "compare", *map(str, args), "--no-progress"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_aa_is_no_regression_and_writes_both_runs_and_the_diff(folder: Path) -> None:
    # GIVEN one config compared with itself
    config = _config(folder, "a")
    out = folder / "out"
    # WHEN compared, 20 blocks of 5 queries a side
    done = _compare(config, config, "-n", "100", "--block", "5", "-o", out, *THRESHOLD, "-f", "json")
    # THEN no regression, and the JSON diff printed is the one written
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    report = DiffReport.model_validate_json((out / "diff.json").read_text(encoding="utf-8"))
    assert report.regressions == ()
    assert json.loads(done.stdout)["regressions"] == []
    # AND every path's evidence is paired, over 20 block pairs
    paths = report.groups[0].paths
    assert {p.evidence.kind for p in paths} == {"paired"}
    assert {p.evidence.pairs for p in paths} == {20}
    # AND the CPU-bound stage is judged on its CPU time, the waiting one and the total on wall time
    measures = {p.path: p.evidence.measure for p in paths}
    assert measures == {"crunch": "cpu", "wait": "wall", "total": "wall"}
    # AND both run files are ordinary run files, each one side of the same compare
    baseline, new = load_run(out / "baseline.json"), load_run(out / "new.json")
    assert baseline.compare is not None
    assert new.compare is not None
    assert (baseline.compare.side, new.compare.side) == ("baseline", "new")
    assert baseline.compare.id == new.compare.id
    # AND both workers ran on the same one CPU, the last this machine offers (none pinned on a 1-CPU machine)
    allowed = sorted(os.sched_getaffinity(0))
    assert baseline.compare.cpus == new.compare.cpus == ((allowed[-1],) if len(allowed) > 1 else None)
    if len(allowed) > 1:  # the worker itself was pinned, not only the file marked
        assert (
            set(baseline.queries.metric("crunch", "cpu")) == set(new.queries.metric("crunch", "cpu")) == {allowed[-1]}
        )
    assert baseline.n_queries == new.n_queries == 100
    assert baseline.complete
    assert new.complete
    # AND the pairs were spread over 4 pairs of workers, 25 queries a side each, one pair after the other
    for run in (baseline, new):
        assert [(p.first, p.n) for p in run.processes] == [(0, 25), (25, 25), (50, 25), (75, 25)]
    # AND block b ran the same queries on both sides
    for b_old, b_new in zip(baseline.compare.blocks, new.compare.blocks, strict=True):
        assert b_old.block == b_new.block
        assert (
            baseline.queries.ids()[b_old.first : b_old.first + b_old.n]
            == new.queries.ids()[b_new.first : b_new.first + b_new.n]
        )
    # AND the order is counterbalanced: ABBA BAAB BAAB ABBA BAAB ...
    order = "".join("AB" if b.first_in_pair else "BA" for b in baseline.compare.blocks)
    assert order[:16] == "ABBABAABBAABABBA"
    assert [not b.first_in_pair for b in baseline.compare.blocks] == [b.first_in_pair for b in new.compare.blocks]
    # AND `report` and `diff` read them
    shown = subprocess.run(
        [sys.executable, "-m", "ragperf", "report", str(out / "new.json")], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    again = subprocess.run(
        [sys.executable, "-m", "ragperf", "diff", str(out / "baseline.json"), str(out / "new.json"), *THRESHOLD],
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == ExitCode.OK, again.stdout
    assert "signed-rank" in again.stdout


def test_sixty_percent_more_work_in_one_stage_is_found_and_named(folder: Path) -> None:
    # GIVEN a new config whose CPU stage (about 1 ms) does 60% more work: clear of the 0.25 ms floor, which
    # asks a 0.9 ms stage for +28%, however fast the machine is at the time
    old, new = _config(folder, "a"), _config(folder, "b", factor=1.6)
    # WHEN compared query by query (the default block of 1: 100 pairs)
    done = _compare(old, new, "-n", "100", "-o", folder / "out", *THRESHOLD, "-f", "json")
    # THEN the stage is the regression, and the exit code says so
    assert done.returncode == ExitCode.FAILED, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert "crunch" in report["regressions"]
    assert "wait" not in report["regressions"]


def test_beside_a_cpu_hog_the_same_code_passes_and_more_work_is_found(folder: Path) -> None:
    # GIVEN a busy process taking a CPU for the whole of two compares (what a shared CI runner does)
    old, new = _config(folder, "a"), _config(folder, "b", factor=1.6)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        # WHEN the same config is compared with itself, and with one whose CPU stage does 60% more work
        same = _compare(old, old, "-n", "100", "-o", folder / "aa", *THRESHOLD, "-f", "json")
        more = _compare(old, new, "-n", "100", "-o", folder / "ab", *THRESHOLD, "-f", "json")
    finally:
        hog.kill()
        hog.wait()
    # THEN no regression in the first, and the CPU stage alone in the second, judged on its CPU time
    assert same.returncode == ExitCode.OK, same.stdout + same.stderr
    assert json.loads(same.stdout)["regressions"] == []
    assert more.returncode == ExitCode.FAILED, more.stdout + more.stderr
    report = json.loads(more.stdout)
    assert "crunch" in report["regressions"]
    assert "wait" not in report["regressions"]
    crunch = next(p for p in report["groups"][0]["stages"] if p["path"] == "crunch")
    assert crunch["evidence"]["measure"] == "cpu"


def test_another_interpreter_is_used_and_a_missing_one_is_one_line(folder: Path) -> None:
    # GIVEN a new side whose worker runs with a named interpreter that does not exist
    old = _config(folder, "a")
    missing = _config(folder, "b", extra='python = "no/such/python"')
    # WHEN compared
    done = _compare(old, missing, "-n", "10", "--block", "5", "-o", folder / "out")
    # THEN exit 2 with one line naming the key and the path
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.count("\n") == 1, done.stderr
    assert "run.python" in done.stderr
    assert "no/such/python" in done.stderr
    # AND an interpreter that exists is used (this one, named by a path relative to the config)
    here = _config(folder, "c", extra=f'python = "{Path(sys.executable)}"')
    ran = _compare(old, here, "-n", "10", "--block", "5", "-o", folder / "out2", "--min-ms", "100")
    assert ran.returncode == ExitCode.OK, ran.stdout + ran.stderr


def test_refusals_are_one_line(folder: Path) -> None:
    # GIVEN two configs with different query sets, and a backend that samples from outside the worker
    old, other = _config(folder, "a"), _config(folder, "b", queries="other.txt")
    for args, words in (
        ((old, other), "query sets differ"),
        ((old, old, "-b", "py-spy"), "py-spy"),
        ((old, old, "-b", "scalene"), "scalene"),
    ):
        # WHEN compared
        done = _compare(*args, "-n", "10", "-o", folder / "out")
        # THEN exit 2, one line that says why
        assert done.returncode == ExitCode.USAGE, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert words in done.stderr
    # AND --force runs two query sets anyway
    forced = _compare(old, other, "-n", "10", "--block", "5", "-o", folder / "out", "--force", "--min-ms", "100")
    assert forced.returncode == ExitCode.OK, forced.stderr
    assert "query sets differ" in forced.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_keeps_what_was_measured(folder: Path, sig: signal.Signals) -> None:
    # GIVEN a long compare
    config = _config(folder, "a")
    out = folder / "out"
    command = [sys.executable, "-m", "ragperf", "compare", str(config), str(config), "-n", "5000", "--block", "10"]
    process = subprocess.Popen(
        [*command, "-o", str(out), "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    stream = out / "new.artifacts" / "process-1" / "stream.jsonl"  # the first of 4 pairs of workers
    deadline = time.monotonic() + 120
    while measured_in(stream) < 30:
        assert time.monotonic() < deadline, "the new side never measured 30 queries"
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    # WHEN ragperf is stopped mid-run
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=120)
    # THEN it exits 128 + the signal, both run files keep their queries, and the diff covers them
    assert process.returncode == 128 + sig, stderr
    assert "Traceback" not in stdout + stderr
    for side in ("baseline", "new"):
        run = load_run(out / f"{side}.json")
        assert not run.complete
        assert 20 <= run.n_queries < 5000
        assert run.compare is not None
        assert sum(b.n for b in run.compare.blocks) == run.n_queries
    report = DiffReport.model_validate_json((out / "diff.json").read_text(encoding="utf-8"))
    assert report.groups[0].total is not None
    assert report.groups[0].total.evidence.kind == "paired"
