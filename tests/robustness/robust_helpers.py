"""Helpers for the hostile-input tests: a pipeline with knobs, the CLI as a real process, waiting on files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ragperf.engine.stream import measured_in
from ragperf.outputs import artifacts_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Stages for every misbehaviour a test needs; each reads its knob from [pipeline.options] via setup.
KNOBS = """
import json, math, os, threading, time
import ragperf

OPTIONS = {}

def setup(options):
    OPTIONS.update(options)
    with open(options["pid_file"], "w") as handle:
        handle.write(str(os.getpid()))
    if options.get("setup_hangs"):
        time.sleep(3600)
    return None

def teardown(ctx):
    if OPTIONS.get("teardown_raises"):
        raise RuntimeError("teardown exploded [/INST]")
    if OPTIONS.get("teardown_hangs"):
        time.sleep(3600)

def spin(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def work(state):
    if OPTIONS.get("fail"):
        raise ValueError("the index is gone")
    spin(OPTIONS.get("ms", 20))
    if OPTIONS.get("hang_on") == state.query:
        time.sleep(3600)
    if OPTIONS.get("stray_thread"):
        threading.Thread(target=time.sleep, args=(3600,), name="left-behind").start()
        OPTIONS["stray_thread"] = False
    if OPTIONS.get("bad_metric"):
        ragperf.metric("tokens_per_s", math.inf)  # tokens / 0 s
        ragperf.metric("ttft_ms", math.nan)
        ragperf.metric("fine", 3.0)
    return 1
"""


@dataclass
class Pipeline:
    """A written pipeline: its config, and where its worker records its pid."""

    config: Path
    pid_file: Path
    folder: Path

    def worker_pid(self, timeout: float = 60) -> int:
        wait_for(lambda: self.pid_file.exists() and self.pid_file.read_text().strip() != "", timeout)
        return int(self.pid_file.read_text())


@pytest.fixture
def knobs(tmp_path: Path) -> Callable[..., Pipeline]:
    """Write the knob pipeline with the given options and [run] table; return it."""

    def make(*, run: str = "", name: str = "knobs", queries: int = 3, **options: object) -> Pipeline:
        pid_file = tmp_path / "worker.pid"
        pid_file.unlink(missing_ok=True)
        (tmp_path / "knobs_pipe.py").write_text(KNOBS, encoding="utf-8")
        (tmp_path / "queries.txt").write_text("".join(f"q{i}\n" for i in range(queries)), encoding="utf-8")
        lines = [f'pid_file = "{pid_file}"'] + [f"{key} = {_toml(value)}" for key, value in options.items()]
        config = tmp_path / "ragperf.toml"
        config.write_text(
            textwrap.dedent(
                f"""\
                [pipeline]
                name = {_toml(name)}
                setup = "knobs_pipe:setup"
                teardown = "knobs_pipe:teardown"
                queries = "queries.txt"
                [pipeline.options]
                {chr(10).join(lines)}
                [run]
                warmup = 0
                {run}
                [[stages]]
                name = "work"
                call = "knobs_pipe:work"
                """
            ),
            encoding="utf-8",
        )
        return Pipeline(config=config, pid_file=pid_file, folder=tmp_path)

    return make


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll until `condition()` holds; fail the test when it never does (a hang is a failure, not a wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"condition not reached within {timeout} s")


def measured(output: Path) -> int:
    """Queries the worker has streamed so far for the run file `output`."""
    stream = artifacts_dir(output) / "stream.jsonl"
    return measured_in(stream)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ragperf(*args: str, cwd: Path | None = None, new_group: bool = False) -> subprocess.Popen[str]:
    """Start the ragperf CLI as a real process (its own process group when asked, to signal it all)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ragperf", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        start_new_session=new_group,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    """Wait for the CLI; a hang fails the test (and is killed)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.kill()
        process.communicate()
        pytest.fail(f"ragperf hung for {timeout} s")
    return process.returncode, out, err


def one_line_error(err: str) -> bool:
    """stderr holds exactly one line, starting 'ragperf:', and no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("ragperf:") and "Traceback" not in err


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 KiB filesystem, to fill up (needs mount permission: root, as CI runs)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", str(folder)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
