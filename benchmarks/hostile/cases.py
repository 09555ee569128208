"""A hostile case, how it is run (a real `ragperf` process), and how its outcome is judged."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

TRACEBACK = "Traceback (most recent call last)"
USAGE = frozenset({2})


@dataclass(frozen=True)
class Keeps:
    """After the case, this run file must load and hold at least `queries` measured queries."""

    path: Path
    queries: int


@dataclass(frozen=True)
class Case:
    """One hostile input: the ragperf arguments, the exit codes a careful user would accept, and checks."""

    family: str
    name: str
    argv: tuple[str, ...]
    exits: frozenset[int] = USAGE
    cwd: Path | None = None
    timeout: float = 90.0
    prepare: Callable[[], None] | None = None  # make the files the case needs, just before it runs
    trigger: Callable[[subprocess.Popen[str]], None] | None = None  # signals sent while it runs
    keeps: Keeps | None = None
    pid_file: Path | None = None  # the worker's pid: it must be gone afterwards
    group: str = ""  # cases of one group run in order (a report after the run it reads); others in parallel


@dataclass
class Outcome:
    """What one case did wrong (each flag counts once)."""

    case: Case
    code: int | None
    traceback: bool = False
    wrong_exit: bool = False
    lost: bool = False
    hang: bool = False
    detail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.traceback or self.wrong_exit or self.lost or self.hang)


def run_case(case: Case) -> Outcome:
    """Run the case as a real process and judge it."""
    if case.prepare is not None:
        case.prepare()
    if case.pid_file is not None:
        case.pid_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "ragperf", *case.argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        cwd=case.cwd,
        start_new_session=True,  # its own group: a case may signal the group, never this script's
        env={**os.environ, "COLUMNS": "100"},
    )
    outcome = Outcome(case=case, code=None)
    if case.trigger is not None:
        try:
            case.trigger(process)
        except TimeoutError as exc:
            outcome.detail.append(f"trigger: {exc}")
    try:
        out, err = process.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        outcome.hang = True
        outcome.detail.append(f"no exit within {case.timeout:g} s")
    outcome.code = process.returncode
    _judge(outcome, out, err)
    return outcome


def _judge(outcome: Outcome, out: str, err: str) -> None:
    case = outcome.case
    if TRACEBACK in out or TRACEBACK in err:
        outcome.traceback = True
        outcome.detail.append(err.strip().splitlines()[-1] if err.strip() else "traceback on stdout")
    if not outcome.hang and not _exit_ok(outcome.code, case.exits):
        outcome.wrong_exit = True
        outcome.detail.append(f"exit {outcome.code}, expected {sorted(case.exits)}: {_last(err)}")
    elif outcome.code == 2 and not _one_line(err):
        outcome.wrong_exit = True
        outcome.detail.append(f"a usage error of {len(err.splitlines())} lines: {_last(err)}")
    if case.keeps is not None:
        problem = _kept(case.keeps)
        if problem:
            outcome.lost = True
            outcome.detail.append(problem)
    if case.pid_file is not None and case.pid_file.exists():
        with contextlib.suppress(ValueError):
            pid = int(case.pid_file.read_text(encoding="utf-8"))
            if _wait_gone(pid, 10.0):
                return
            outcome.hang = True
            outcome.detail.append(f"worker {pid} still running after ragperf exited")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _exit_ok(code: int | None, exits: frozenset[int]) -> bool:
    """Killed by signal N (a second Ctrl-C while Python exits) reads as 128 + N to a shell or CI runner, too."""
    return code in exits or (code is not None and code < 0 and 128 - code in exits)


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "(no stderr)"


def _one_line(err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("ragperf:")


def _kept(keeps: Keeps) -> str | None:
    from ragperf.errors import RagperfError
    from ragperf.schema import load_run

    try:
        run = load_run(keeps.path)
    except RagperfError as exc:
        return f"run file unreadable: {exc}"
    if len(run.queries) < keeps.queries:
        return f"run file holds {len(run.queries)} queries, {keeps.queries} were measured"
    return None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll `condition`; raise TimeoutError when it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError("the awaited state never came")


def streamed(run_file: Path) -> int:
    """Measured queries the worker has streamed so far for `run_file`."""
    from ragperf.engine.stream import measured_in

    return measured_in(run_file.with_name(run_file.stem + ".artifacts") / "stream.jsonl")
