"""scalene wrapping the worker: `scalene run --off`, switched on in the worker for the measured queries.

scalene cannot start inside a plain Python process, so the worker runs under `scalene run --off
--profile-all LAUNCHER --- SPEC STREAM` and calls `scalene_profiler.start()/stop()` around the
measured queries. Per-stage figures come from scalene's `stacks` and `memory_stacks`, not from its
line tables. What scalene 2.4 does, and what ragperf does about it (read from its source):

- Stages: scalene drops frames whose file name is `<...>`, but keeps its own `<exec@...>` names,
  so the trampolines (`<exec@ragperf-stage:PATH>`) are on its stacks, on every thread: a sample
  goes to the innermost one, sub-spans and work handed to other threads included.
- When it samples: its timer signal (SIGALRM) is handled on the main thread, between bytecodes,
  and it sets SA_RESTART, so while the main thread blocks in a native wait (a future's result, a
  C lock, a socket) no sample is taken, and the threads doing the stage's work go unseen. While
  profiling, ragperf clears SA_RESTART for that one signal (Python's default for its own signal
  handlers; Python retries interrupted calls, PEP 475), so those waits are sampled.
- What a sample is worth: each pass records every thread it does not believe asleep, and splits
  the process's CPU time since the last pass evenly between them, idle ones included (its three
  signal-queue threads, a pool's parked workers). Those splits are its `cpu_samples`, normalised
  to shares: scaled by the elapsed time they gave a stage a fraction of its time. ragperf counts
  samples instead: every recorded thread-sample is one sampling interval of that thread's time,
  the interval being the profile's elapsed time over the number of passes, which an idle clock
  thread of ragperf's (on every pass, on no stage) counts. A native call longer than the interval
  is one sample: it delays the pass.
- Threads whose code scalene hides end at `Thread.run` (its own signal-queue threads: their code
  is in scalene's files): not the pipeline's, left out. A parked thread's wait outside any stage
  (a pool worker waiting for a task) is not the pipeline's time either, and is left out too.
- Memory: `memory_stacks` are its sampled allocations (MB, net growth per stack, unless
  `cpu_only`), far from every allocation: take memory verdicts from memray.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends.attribution import OUTSIDE_STAGES, Frame, HotspotBuilder, leaf_waits, stage_of_stack
from ragperf.backends.base import Backend, BackendOutput, OptionSpec, missing_profile, require_module, shell_command
from ragperf.errors import BackendUnavailable
from ragperf.schema.run import Artifact
from ragperf.units import BYTES_PER_MB

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from ragperf.schema.run import StageInfo

__all__ = ["CpuProfile", "ScaleneBackend", "normalise_memory", "normalise_profile"]

PROFILE_FILE = "scalene.json"
LAUNCHER_FILE = "scalene_worker.py"
_LAUNCHER = "import sys\n\nfrom ragperf.engine.worker import main\n\nsys.exit(main())\n"
_SUPPORTED = ("linux", "darwin", "win32")
_CLOCK = "_sampling_clock"
_THIS_FILE = "ragperf/backends/scalene.py"
# Under this share of the passes its rate asks for, scalene's samples were held back (see warnings).
_MIN_PASS_SHARE = 0.5


def _sampling_clock(release: Any) -> None:
    """Block on a native lock until the profile ends: scalene records this thread on every pass, so it counts them."""
    release.acquire()


class ScaleneBackend(Backend):
    """CPU samples per stage from scalene wrapping the worker, on every thread; scalene's sampled memory."""

    name = "scalene"
    summary = "CPU samples per stage on every thread, and sampled memory (wraps the worker; scalene's own figures)"
    placement = "wrapper"
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {
        "cpu_only": OptionSpec(bool, False, "profile CPU only, no memory (scalene --cpu-only; faster)"),
        "rate": OptionSpec(int, 100, "CPU samples per second (scalene --cpu-sampling-rate = 1/rate)"),
    }

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._on = False
        self._clock: tuple[threading.Thread, Any] | None = None
        self._restore: Callable[[], None] | None = None

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
        python, worker_args = command[0], command[3:]  # [python, -m, ragperf.engine.worker, SPEC, STREAM]
        wrapped = [python, "-m", "scalene", "run", "--off", "--profile-all", "--no-async"]
        wrapped += ["--cpu-sampling-rate", str(1.0 / max(1, int(self.options["rate"])))]
        # scalene 2.x profiles memory only when asked (`--memory`); --cpu-only keeps it off.
        wrapped += ["--cpu-only"] if self.options["cpu_only"] else ["--memory"]
        return [*wrapped, "-o", str(artifacts / PROFILE_FILE), str(launcher), "---", *worker_args]

    def start(self, artifacts: Path) -> None:  # noqa: ARG002 - scalene writes where `-o` said
        """Switch scalene on (the worker runs under `scalene run --off`), with its clock thread, waits interruptible."""
        try:
            from scalene import scalene_profiler
        except ImportError:
            return
        release = _native_lock()
        release.acquire()
        clock = threading.Thread(target=_sampling_clock, args=(release,), name="ragperf-scalene-clock", daemon=True)
        clock.start()
        self._clock = (clock, release)
        scalene_profiler.start()
        self._restore = _interrupt_waits()
        self._on = True

    def stop(self) -> None:
        """Switch scalene off; it writes its JSON when the worker exits."""
        if self._on:
            from scalene import scalene_profiler

            if self._restore is not None:
                self._restore()
                self._restore = None
            scalene_profiler.stop()
            self._on = False
        if self._clock is not None:
            clock, release = self._clock
            release.release()
            clock.join()
            self._clock = None

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:  # noqa: ARG002 - the trampolines name them
        """Read scalene's JSON and attribute its stacks to the stages of their trampoline frames."""
        path = artifacts / PROFILE_FILE
        if not path.exists():
            return missing_profile(self.name, path)
        document = json.loads(path.read_text(encoding="utf-8"))
        cpu = normalise_profile(document, self.name)
        memory = normalise_memory(document, self.name)
        return BackendOutput(
            hotspots=cpu.builder.hotspots() + memory.hotspots(),
            profiles=cpu.builder.profiles() + memory.profiles(),
            warnings=cpu.builder.sample_warnings() + cpu.warnings(int(self.options["rate"])),
            artifacts=[
                Artifact(kind="scalene profile", path=str(path), open_command=shell_command("scalene", "view", path))
            ],
        )


def _native_lock() -> Any:
    """A C lock scalene does not shim: blocking on it never marks the thread asleep, so every pass records it."""
    import _thread

    return _thread.allocate_lock()


def _interrupt_waits() -> Callable[[], None] | None:
    """Clear SA_RESTART on scalene's CPU signal so a blocked main thread takes its samples; return the undo.

    scalene reroutes the program's own `signal.siginterrupt` calls for its signal, so this goes to
    the C module underneath. None where there is no siginterrupt (Windows: scalene samples from a
    thread there).
    """
    native = importlib.import_module("_signal")
    siginterrupt = getattr(native, "siginterrupt", None)
    if siginterrupt is None:
        return None
    from scalene.scalene_profiler import Scalene

    _, cpu_signal = Scalene.get_timer_signals()
    siginterrupt(cpu_signal, True)
    return lambda: siginterrupt(cpu_signal, False)


@dataclass(slots=True)
class CpuProfile:
    """scalene's CPU stacks as hotspots in ms, and what the samples say about their own coverage."""

    builder: HotspotBuilder
    elapsed_s: float
    passes: int = 0  # sampling passes, counted by the clock thread (0: no clock on this profile)
    staged_samples: int = 0  # samples under a trampoline
    main_samples: int = 0  # samples of the main thread, any stage or none
    thread_stages: set[str] = field(default_factory=set)  # stages some other thread's samples landed in

    def warnings(self, rate: int) -> list[str]:
        """Say where scalene's figures cannot be right: samples held back, stages not seen, work it cannot see."""
        out: list[str] = []
        if self.main_samples and not self.staged_samples:
            out.append(
                "scalene kept no stage frames on its stacks (this scalene version drops `<exec@...>` file names): "
                "every sample is outside stages; use --backend py-spy or pyinstrument for per-stage figures"
            )
        expected = self.elapsed_s * rate
        if self.passes and expected > 0 and self.passes < _MIN_PASS_SHARE * expected:
            out.append(
                f"scalene sampled {self.passes} times in {self.elapsed_s:.1f} s, {self.passes / expected:.0%} of "
                f"the {rate}/s asked for: it samples only when the main thread gets to run Python, so long native "
                "calls or other threads holding the GIL held samples back, and their time is spread over the "
                "samples it did take"
            )
        waited: dict[str, float] = {}
        for spot in self.builder.hotspots(per_stage=None):
            if spot.on_threads:
                waited[spot.stage] = waited.get(spot.stage, 0.0) + spot.self_value
        for stage, value in waited.items():
            total = self.builder.stage_totals.get(stage, 0.0)
            seen = any(s == stage or s.startswith(stage + ".") for s in self.thread_stages)  # a fan-out's branches
            if seen or stage.startswith("<") or total <= 0 or value / total < 0.2:
                continue
            out.append(
                f"stage '{stage}' spent {value / total:.0%} of its scalene samples waiting on work no Python thread "
                "of its own did (native threads, other processes): scalene cannot see that work; "
                "py-spy --native can see native threads"
            )
        return out


def normalise_profile(document: dict[str, Any], backend: str) -> CpuProfile:
    """Turn scalene's `stacks` (frames and sample counts, every thread) into hotspots in ms."""
    parsed = [
        ([_parse(text) for text in frames], int(stats.get("count", 1)))
        for frames, stats in document.get("stacks") or ()
    ]
    elapsed_s = float(document.get("elapsed_time_sec") or 0.0)
    profile = CpuProfile(HotspotBuilder(backend, "ms"), elapsed_s)
    profile.passes = sum(count for stack, count in parsed if stack and _is_clock(stack[-1]))
    # Without the clock (a profile from elsewhere), the main thread's samples are the passes' best count.
    passes = profile.passes or sum(count for stack, count in parsed if stack and not _on_thread(stack))
    interval_ms = elapsed_s * 1000.0 / passes if passes else 0.0
    for stack, count in parsed:
        if not stack or _is_clock(stack[-1]) or _hidden(stack):
            continue
        on_thread, waiting = _on_thread(stack), leaf_waits(stack[-1])
        stage = stage_of_stack(stack)[0]
        if on_thread and waiting and stage == OUTSIDE_STAGES:
            continue  # a parked thread (a pool's worker waiting for a task): not the pipeline's time
        profile.builder.add(stack, count * interval_ms, samples=count, waiting=waiting)
        profile.staged_samples += count if stage != OUTSIDE_STAGES else 0
        profile.main_samples += 0 if on_thread else count
        if on_thread and stage != OUTSIDE_STAGES:
            profile.thread_stages.add(stage)
    return profile


def normalise_memory(document: dict[str, Any], backend: str) -> HotspotBuilder:
    """Turn scalene's `memory_stacks` (sampled allocation stacks, MB) into a builder in bytes."""
    builder = HotspotBuilder(backend, "bytes")
    for frames, megabytes in document.get("memory_stacks") or ():
        stack = [Frame(f["display_name"], f.get("filename_or_module") or "", int(f.get("line") or 0)) for f in frames]
        if stack and not _hidden(stack):
            builder.add(stack, float(megabytes) * BYTES_PER_MB, samples=1, count=1, waiting=False)
    return builder


def _parse(text: str) -> Frame:
    """`/path/file.py Class.method:LINE;` → Frame."""
    body = text.rstrip(";")
    location, _, line = body.rpartition(":")
    file, _, function = location.rpartition(" ")
    return Frame(function, file, int(line) if line.isdigit() else 0)


def _is_threading(frame: Frame) -> bool:
    return frame.file.replace("\\", "/").endswith("/threading.py")


def _on_thread(stack: Sequence[Frame]) -> bool:
    """True for a stack of a thread other than the main one: it starts at `Thread._bootstrap`."""
    return stack[0].function == "Thread._bootstrap" and _is_threading(stack[0])


def _hidden(stack: Sequence[Frame]) -> bool:
    """A thread whose own code scalene left out (its own signal-queue threads): it ends in `threading`'s bootstrap."""
    return _on_thread(stack) and all(_is_threading(frame) for frame in stack)


def _is_clock(frame: Frame) -> bool:
    return frame.function == _CLOCK and frame.file.replace("\\", "/").endswith(_THIS_FILE)
