"""scalene wrapping the worker: `scalene run --off`, switched on in the worker for the measured queries.

scalene cannot start inside a plain Python process, so the worker runs under `scalene run --off
--profile-all LAUNCHER --- SPEC STREAM` and calls `scalene_profiler.start()/stop()` around the
measured queries. Per-stage figures come from scalene's `stacks` (shares of its CPU samples,
scaled here by its elapsed time to milliseconds) and `memory_stacks` (its sampled allocations,
unless `cpu_only`), not from its line tables; they are scalene's figures (its memory is sampled
net growth, far from every allocation: take memory verdicts from memray). scalene drops frames
whose file name is `<...>`, so the stage trampolines never reach its stacks: a stage is found
instead by its own callable (the `call` of the run's stages) on the stack. scalene 2.4's CPU
stacks of other threads stop at `Thread.run`, so fan-out branches on the thread pool show as
outside stages in its CPU figures (its memory stacks keep them); py-spy sees them.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends.attribution import Frame, HotspotBuilder, leaf_waits
from ragperf.backends.base import Backend, BackendOutput, OptionSpec, missing_profile, require_module, shell_command
from ragperf.errors import BackendUnavailable
from ragperf.schema.run import Artifact
from ragperf.trampoline import STAGE_FILE_PREFIX
from ragperf.units import BYTES_PER_MB

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ragperf.schema.run import StageInfo

__all__ = ["ScaleneBackend", "normalise_memory", "normalise_profile"]

PROFILE_FILE = "scalene.json"
LAUNCHER_FILE = "scalene_worker.py"
_LAUNCHER = "import sys\n\nfrom ragperf.run.worker import main\n\nsys.exit(main())\n"
_SUPPORTED = ("linux", "darwin", "win32")


class ScaleneBackend(Backend):
    """CPU (Python vs native) samples per stage, from scalene wrapping the worker."""

    name = "scalene"
    summary = "CPU samples per stage split Python/native (wraps the worker; scalene's own figures)"
    placement = "wrapper"
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {
        "cpu_only": OptionSpec(bool, False, "profile CPU only, no memory (scalene --cpu-only; faster)"),
        "rate": OptionSpec(int, 100, "CPU samples per second (scalene --cpu-sampling-rate = 1/rate)"),
    }

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._on = False

    def check_available(self) -> None:
        """scalene must be installed, on a platform it supports."""
        if not sys.platform.startswith(_SUPPORTED):
            msg = f"scalene does not run on {sys.platform}; use Linux, macOS or Windows, or pick another backend"
            raise BackendUnavailable(msg)
        require_module("scalene", "scalene")

    def wrap_command(self, command: list[str], artifacts: Path) -> list[str]:
        """`python -m scalene run --off ... LAUNCHER --- <the worker's arguments>`."""
        launcher = artifacts / LAUNCHER_FILE
        # scalene runs a program file, not `-m module`: a two-line launcher stands in for the worker.
        launcher.write_text(_LAUNCHER, encoding="utf-8")
        (artifacts / PROFILE_FILE).unlink(missing_ok=True)
        python, worker_args = command[0], command[3:]  # [python, -m, ragperf.run.worker, SPEC, STREAM]
        wrapped = [python, "-m", "scalene", "run", "--off", "--profile-all", "--no-async"]
        wrapped += ["--cpu-sampling-rate", str(1.0 / max(1, int(self.options["rate"])))]
        # scalene 2.x profiles memory only when asked (`--memory`); --cpu-only keeps it off.
        wrapped += ["--cpu-only"] if self.options["cpu_only"] else ["--memory"]
        return [*wrapped, "-o", str(artifacts / PROFILE_FILE), str(launcher), "---", *worker_args]

    def start(self, artifacts: Path) -> None:  # noqa: ARG002 - scalene writes where `-o` said
        """Switch scalene on (the worker runs under `scalene run --off`)."""
        try:
            from scalene import scalene_profiler
        except ImportError:
            return
        scalene_profiler.start()
        self._on = True

    def stop(self) -> None:
        """Switch scalene off; it writes its JSON when the worker exits."""
        if self._on:
            from scalene import scalene_profiler

            scalene_profiler.stop()
            self._on = False

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:
        """Read scalene's JSON and attribute its stacks to stages by their callables."""
        path = artifacts / PROFILE_FILE
        if not path.exists():
            return missing_profile(self.name, path)
        document = json.loads(path.read_text(encoding="utf-8"))
        builder = normalise_profile(document, stages, self.name)
        memory = normalise_memory(document, stages, self.name)
        return BackendOutput(
            hotspots=builder.hotspots() + memory.hotspots(),
            warnings=builder.sample_warnings(),
            artifacts=[
                Artifact(kind="scalene profile", path=str(path), open_command=shell_command("scalene", "view", path))
            ],
        )


def normalise_profile(document: dict[str, Any], stages: Sequence[StageInfo], backend: str) -> HotspotBuilder:
    """Turn scalene's `stacks` (frames, count, shares of CPU samples) into a builder in ms."""
    builder = HotspotBuilder(backend, "ms")
    callables = _stage_callables(stages)
    elapsed_ms = float(document.get("elapsed_time_sec") or 0.0) * 1000.0
    for frames, stats in document.get("stacks") or ():
        # A frame standing in for the trampoline scalene dropped goes before each stage callable.
        stack = _with_stage_frames([_parse(text) for text in frames], callables)
        if stack:
            value = float(stats.get("cpu_samples", 0.0)) * elapsed_ms
            builder.add(stack, value, samples=int(stats.get("count", 1)), waiting=leaf_waits(stack[-1]))
    return builder


def normalise_memory(document: dict[str, Any], stages: Sequence[StageInfo], backend: str) -> HotspotBuilder:
    """Turn scalene's `memory_stacks` (sampled allocation stacks, MB) into a builder in bytes."""
    builder = HotspotBuilder(backend, "bytes")
    callables = _stage_callables(stages)
    for frames, megabytes in document.get("memory_stacks") or ():
        stack = [Frame(f["display_name"], f.get("filename_or_module") or "", int(f.get("line") or 0)) for f in frames]
        stack = _with_stage_frames(stack, callables)
        if stack:
            builder.add(stack, float(megabytes) * BYTES_PER_MB, samples=1, count=1, waiting=False)
    return builder


def _with_stage_frames(stack: list[Frame], callables: dict[str, list[tuple[str, str]]]) -> list[Frame]:
    out: list[Frame] = []
    for frame in stack:
        path = _stage_of(frame, callables)
        if path is not None:
            out.append(Frame(f"ragperf_stage__{path}", f"{STAGE_FILE_PREFIX}{path}>", 0))
        out.append(frame)
    return out


def _parse(text: str) -> Frame:
    """`/path/file.py Class.method:LINE;` → Frame."""
    body = text.rstrip(";")
    location, _, line = body.rpartition(":")
    file, _, function = location.rpartition(" ")
    return Frame(function, file, int(line) if line.isdigit() else 0)


def _stage_callables(stages: Sequence[StageInfo]) -> dict[str, list[tuple[str, str]]]:
    """Function name → [(module path as a file suffix, stage path)] for every stage's callable."""
    found: dict[str, list[tuple[str, str]]] = {}
    for info in stages:
        if info.call is None or ":" not in info.call:
            continue
        module, _, function = info.call.partition(":")
        found.setdefault(function, []).append((module.replace(".", "/"), info.path))
    return found


def _stage_of(frame: Frame, callables: dict[str, list[tuple[str, str]]]) -> str | None:
    for module, path in callables.get(frame.function, ()):
        stem = frame.file.removesuffix(".py").removesuffix("/__init__")
        if stem == module or stem.endswith("/" + module):
            return path
    return None
