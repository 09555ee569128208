"""py-spy: a sampling profiler in another process, attached to the worker for the measured queries.

py-spy cannot be switched on and off inside the profiled program, so instead of wrapping the
whole worker (and sampling setup and warm-up too) the worker starts `py-spy record --pid
<itself>` just before the first measured query, waits until py-spy says it is sampling, and sends
it SIGINT after the last one; py-spy then writes its speedscope file. `--idle` keeps the samples
of threads that are blocked (I/O, sleep, locks, waiting for fan-out branches). Speedscope does
not say which samples were idle, so a sample is labelled waiting when its leaf is a blocking call
(`--native` shows libc's) or its leaf line calls one (`time.sleep(...)`, `.recv(...)`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends.attribution import Frame, HotspotBuilder, is_blocking_call, leaf_waits
from ragperf.backends.base import Backend, BackendOutput, OptionSpec, missing_profile, shell_command
from ragperf.errors import BackendUnavailable
from ragperf.schema.run import Artifact

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ragperf.schema.run import StageInfo

__all__ = ["PySpyBackend", "check_ptrace", "normalise_speedscope", "pyspy_program"]

SPEEDSCOPE_FILE = "py-spy.speedscope.json"
LOG_FILE = "py-spy.log"
_STOP_TIMEOUT_S = 60.0
_PROBE_TIMEOUT_S = 20.0
_CAP_SYS_PTRACE = 19
_PR_SET_PTRACER, _PR_SET_PTRACER_ANY = 0x59616D61, -1
_YAMA = Path("/proc/sys/kernel/yama/ptrace_scope")
_PTRACE_FIX = (
    "py-spy needs ptrace permission (CAP_SYS_PTRACE): run as root or with sudo, start the container with "
    "'--cap-add SYS_PTRACE', or set /proc/sys/kernel/yama/ptrace_scope to 1"
)


def has_cap_sys_ptrace() -> bool:
    """True when this process holds CAP_SYS_PTRACE (Docker leaves it out unless --cap-add SYS_PTRACE)."""
    try:
        status = Path("/proc/self/status").read_text(encoding="utf-8")
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> _CAP_SYS_PTRACE & 1)
    return False


def yama_scope() -> int | None:
    """The Yama ptrace scope (0 classic, 1 descendants only, 2 admin only, 3 none), None without Yama."""
    try:
        return int(_YAMA.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def allow_any_tracer() -> None:
    """Let a child (py-spy) trace this process under Yama scope 1 (PR_SET_PTRACER); no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PTRACER, ctypes.c_ulong(_PR_SET_PTRACER_ANY & 0xFFFFFFFFFFFFFFFF), 0, 0, 0)


def check_ptrace(program: str) -> None:
    """Raise BackendUnavailable (exit 4) with the fix when py-spy may not read the worker's memory."""
    scope = yama_scope()
    if scope == 3:
        raise BackendUnavailable(f"ptrace is disabled on this machine (yama ptrace_scope=3); {_PTRACE_FIX}")
    if has_cap_sys_ptrace():
        return
    if scope == 2:
        raise BackendUnavailable(f"yama ptrace_scope=2 allows only CAP_SYS_PTRACE holders; {_PTRACE_FIX}")
    # No capability: prove it works the way a run uses it, py-spy reading its parent's stacks.
    allow_any_tracer()
    try:
        probe = subprocess.run(  # noqa: S603 - our own fixed command
            [program, "dump", "--pid", str(os.getpid())],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return
    if probe.returncode != 0:
        why = (probe.stderr or probe.stdout).strip().splitlines()[:1]
        raise BackendUnavailable(f"py-spy cannot read a process here ({'; '.join(why)}); {_PTRACE_FIX}")


def pyspy_program() -> str | None:
    """The py-spy executable: beside this interpreter (a venv's bin), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.is_file():
        return str(beside)
    return shutil.which("py-spy")


class PySpyBackend(Backend):
    """Stacks of every thread sampled from outside the worker by py-spy (needs ptrace)."""

    name = "py-spy"
    servable = False
    summary = "all threads sampled from outside the process (speedscope); idle/I-O time included"
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {
        "rate": OptionSpec(int, 250, "samples per second (py-spy --rate)"),
        "native": OptionSpec(bool, False, "also sample C/C++/Cython frames (py-spy --native; slower)"),
        "idle": OptionSpec(bool, True, "keep samples of blocked threads, labelled waiting (py-spy --idle)"),
    }

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._process: subprocess.Popen[str] | None = None
        self._log: Path | None = None

    def check_available(self) -> None:
        """py-spy must be installed, and this process must be allowed to ptrace its children's parent."""
        program = pyspy_program()
        if program is None:
            msg = f"py-spy is not installed for {sys.executable}; install it with 'pip install py-spy'"
            raise BackendUnavailable(msg)
        check_ptrace(program)

    def start(self, artifacts: Path) -> None:
        """Start `py-spy record --pid <worker>` and wait until it samples."""
        self._log = artifacts / LOG_FILE
        program = pyspy_program()
        if program is None:  # checked in the parent; the worker's PATH could differ
            raise BackendUnavailable("py-spy is not installed in the worker's environment; 'pip install py-spy'")
        allow_any_tracer()
        command = [program, "record", "--pid", str(os.getpid()), "--format", "speedscope"]
        command += ["--rate", str(self.options["rate"]), "--output", str(artifacts / SPEEDSCOPE_FILE)]
        command += ["--idle"] if self.options["idle"] else []
        command += ["--native"] if self.options["native"] else []
        self._process = subprocess.Popen(  # noqa: S603 - our own fixed command
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self._process.stdout is not None  # noqa: S101 - piped above
        first = self._process.stdout.readline()  # "py-spy> Sampling process ..." once attached
        if "Sampling" not in first:
            rest = self._process.communicate()[0]
            msg = f"py-spy could not attach to the worker: {(first + rest).strip().splitlines()[-1:]}"
            raise BackendUnavailable(msg)

    def stop(self) -> None:
        """Stop py-spy (SIGINT makes it write its file) and keep its log."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)
        try:
            log, _ = process.communicate(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            log, _ = process.communicate()
        if self._log is not None:
            self._log.write_text(log or "", encoding="utf-8")

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:  # noqa: ARG002 - stack frames name the stages
        """Read the speedscope file and attribute its stacks to stages."""
        path = artifacts / SPEEDSCOPE_FILE
        if not path.exists():
            return missing_profile(self.name, path)
        document = json.loads(path.read_text(encoding="utf-8"))
        builder = normalise_speedscope(document, self.name)
        return BackendOutput(
            hotspots=builder.hotspots(),
            profiles=builder.profiles(),
            warnings=builder.sample_warnings(),
            # py-spy has no viewer of its own; speedscope's (npm package `speedscope`) opens the file
            # in a browser, as dropping it on https://www.speedscope.app does.
            artifacts=[
                Artifact(
                    kind="py-spy speedscope", path=str(path), open_command=shell_command("npx", "speedscope", path)
                )
            ],
        )


def normalise_speedscope(document: dict[str, Any], backend: str) -> HotspotBuilder:
    """Turn a py-spy speedscope document (every thread's sampled stacks) into a builder in ms."""
    builder = HotspotBuilder(backend, "ms")
    frames = [Frame(f["name"], f.get("file") or "", int(f.get("line") or 0)) for f in document["shared"]["frames"]]
    waiting_cache: dict[int, bool] = {}
    for profile in document["profiles"]:
        unit = 1000.0 if profile.get("unit", "seconds") == "seconds" else 1.0
        background = '"MainThread"' not in str(profile.get("name", '"MainThread"'))  # 'Thread 12 "name"'
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            sampled = [frames[i] for i in stack]
            leaf = stack[-1]
            if leaf not in waiting_cache:
                waiting_cache[leaf] = _waits(sampled)
            builder.add(sampled, weight * unit, waiting=waiting_cache[leaf], background=background)
    return builder


def _waits(stack: list[Frame]) -> bool:
    """Waiting when a native leaf is a blocking call, or the innermost Python frame calls one.

    With --native, libc's waits are often unsymbolised (`0x7f...`): the Python line that led there
    (`time.sleep(...)`) still tells.
    """
    for frame in reversed(stack):
        if frame.file.endswith(".py") or frame.file.startswith("<"):
            return leaf_waits(frame)
        if is_blocking_call(frame.function):
            return True
    return False
