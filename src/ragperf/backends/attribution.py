"""Stack → stage attribution and hotspot building, shared by every sampling or allocation backend.

A backend turns its native output into weighted stacks (root first): a CPU sample with its time, or
an allocation with its bytes. The stage of a stack is its innermost `<exec@ragperf-stage:PATH>` frame;
a stack with none is `OUTSIDE_STAGES` (setup, warm-up harness, the event loop between tasks), kept,
not dropped. Within a stage only the frames above the trampoline count, so the stage's hotspots are
its own code. A function is one hotspot per stage (its line is its costliest line), split in two
when some of its samples were spent waiting, so waiting time is labelled as such.
"""

from __future__ import annotations

import linecache
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ragperf.backends.stacks import StackFolder
from ragperf.schema.run import OUTSIDE_STAGES, Hotspot
from ragperf.trampoline import stage_of_filename

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ragperf.schema.run import StageProfile

__all__ = [
    "BLOCKING_CALLS",
    "OUTSIDE_STAGES",
    "Frame",
    "HotspotBuilder",
    "is_blocking_call",
    "leaf_waits",
    "stage_of_stack",
    "waits_on_threads",
]

# Calls that block the calling thread without using the CPU: a sample whose leaf is one of these
# is time spent waiting (sleep, I/O, locks, the event loop's selector). Names as the profilers
# report them: pyinstrument and scalene give builtins their bare or `type.method` names, py-spy
# --native gives libc symbols.
BLOCKING_CALLS = frozenset(
    {
        "sleep",
        "select",
        "poll",
        "epoll.poll",
        "kqueue.control",
        "select.poll",
        "acquire",
        "lock.acquire",
        "wait",
        "recv",
        "recv_into",
        "recvfrom",
        "socket.recv",
        "socket.recv_into",
        "accept",
        "connect",
        "read",
        "readinto",
        "waitpid",
        "getaddrinfo",
        "nanosleep",
        "clock_nanosleep",
        "epoll_wait",
        "pthread_cond_wait",
        "pthread_cond_timedwait",
        "sem_wait",
        "sem_timedwait",
        "futex_wait",
        "__futex_abstimed_wait_common",
    }
)


# A Python line that calls something that blocks. Sampling profilers that see only Python frames
# (py-spy without --native, scalene) show a `time.sleep(...)` as the line that called it.
_WAITING_LINE = re.compile(
    r"\b(sleep|select|poll|wait|acquire|join|result|recv\w*|readline|readinto|accept|connect|urlopen)\s*\("
    r"|\.get\(\s*(block|timeout|True)|\bawait\b"
)


# Frames where a thread waits for work it handed to other threads: a future's result, a pool's
# wait, a thread's start or join. A wait under one of these is not I/O: the work goes on elsewhere, and
# (with ragperf's thread tracing) is attributed to the same stage.
_THREAD_WAIT_FILES = (  # a future's result and wait, and a pool's own handing over of work
    "concurrent/futures/_base.py",
    "concurrent/futures/thread.py",
    "concurrent\\futures\\_base.py",
    "concurrent\\futures\\thread.py",
)
_THREAD_JOINS = frozenset(
    {"join", "start", "_wait_for_tstate_lock", "Thread.join", "Thread.start", "Thread._wait_for_tstate_lock"}
)


def waits_on_threads(stack: Sequence[Frame]) -> bool:
    """True when a waiting stack is blocked on other threads' work (futures, pools, joins), not on I/O."""
    for frame in stack:
        file = frame.file
        if file.endswith(_THREAD_WAIT_FILES) or (file.endswith("threading.py") and frame.function in _THREAD_JOINS):
            return True
    return False


def is_blocking_call(function: str) -> bool:
    """True when a leaf function is a call that waits (sleep, I/O, lock) rather than computes."""
    return function in BLOCKING_CALLS or function.rsplit(".", 1)[-1] in BLOCKING_CALLS


def leaf_waits(frame: Frame) -> bool:
    """True when a sample's leaf frame is waiting: a blocking call, or a line that calls one."""
    if is_blocking_call(frame.function):
        return True
    line = linecache.getline(frame.file, frame.line) if frame.line > 0 else ""
    return bool(_WAITING_LINE.search(line))


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a sampled stack: function name, file and the line executing in it."""

    function: str
    file: str
    line: int


def stage_of_stack(stack: Sequence[Frame]) -> tuple[str, int]:
    """The stage of a root-first stack and the index of its first frame inside the stage.

    Returns (OUTSIDE_STAGES, 0) when no trampoline frame is on the stack.
    """
    for index in range(len(stack) - 1, -1, -1):
        stage = stage_of_filename(stack[index].file)
        if stage is not None:
            return stage, index + 1
    return OUTSIDE_STAGES, 0


@dataclass(slots=True)
class _Acc:
    self_value: float = 0.0
    total_value: float = 0.0
    samples: int = 0
    count: int = 0
    line_self: dict[int, float] = field(default_factory=dict)
    first_line: int = 0


_Key = tuple[str, str, str, bool, bool]  # stage, function, file, waiting, waiting on threads
# Under this many samples a stage's ranking is mostly chance (a 10% function gets 0-10 of 50).
MIN_STAGE_SAMPLES = 50


class HotspotBuilder:
    """Accumulate weighted stacks, then emit per-stage hotspots with shares of the stage."""

    def __init__(self, backend: str, unit: Literal["ms", "bytes"]) -> None:
        self.backend = backend
        self.unit = unit
        self._acc: dict[_Key, _Acc] = {}
        self.stage_totals: dict[str, float] = {}
        self.stage_samples: dict[str, int] = {}
        self.idle_samples = 0  # samples of idle background threads, left out
        self.stacks = StackFolder(backend, unit)  # the same stacks, folded for each stage's flame graph

    def add(
        self,
        stack: Sequence[Frame],
        value: float,
        *,
        samples: int = 1,
        count: int = 0,
        waiting: bool | None = None,
        background: bool = False,
    ) -> str:
        """Add one stack (root first) costing `value`; return the stage it was attributed to.

        `waiting=None` decides from the leaf: a blocking call (sleep, select, lock) is waiting.
        `background`: the stack is of a thread other than the main one (where the backend knows).
        """
        stage, first = stage_of_stack(stack)
        own = stack[first:]
        if waiting is None:
            waiting = bool(own) and is_blocking_call(own[-1].function)
        if waiting and background and stage == OUTSIDE_STAGES:
            # A thread other than the main one, waiting outside any stage, is idle: a pool thread
            # between tasks, a library's monitor thread. Its samples say nothing about the pipeline.
            self.idle_samples += samples
            return stage
        on_threads = waiting and waits_on_threads(own)
        self.stage_totals[stage] = self.stage_totals.get(stage, 0.0) + value
        self.stage_samples[stage] = self.stage_samples.get(stage, 0) + samples
        self.stacks.add(stage, own, value, waiting=waiting)
        if not own:
            return stage
        seen: set[_Key] = set()
        for frame in own:
            key = (stage, frame.function, frame.file, waiting, on_threads)
            if key in seen:  # recursion: a function's total counts once per stack
                continue
            seen.add(key)
            acc = self._acc.get(key)
            if acc is None:
                acc = self._acc[key] = _Acc(first_line=frame.line)
            acc.total_value += value
        leaf = own[-1]
        acc = self._acc[(stage, leaf.function, leaf.file, waiting, on_threads)]
        acc.self_value += value
        acc.samples += samples
        acc.count += count
        acc.line_self[leaf.line] = acc.line_self.get(leaf.line, 0.0) + value
        return stage

    def sample_warnings(self, minimum: int = MIN_STAGE_SAMPLES) -> list[str]:
        """A warning per stage whose profile rests on too few samples to rank its functions."""
        return [
            f"stage '{stage}': only {n} {self.backend} samples, too few to rank its functions; "
            "raise the sampling rate (--rate) or the number of queries (-n)"
            for stage, n in self.stage_samples.items()
            if n < minimum and not stage.startswith("<")
        ]

    def unseen_thread_warnings(self, share: float = 0.2) -> list[str]:
        """For a backend that samples one thread: a warning per stage that mostly waited on threads it cannot see."""
        waited: dict[str, float] = {}
        for (stage, _, _, _, on_threads), acc in self._acc.items():
            if on_threads:
                waited[stage] = waited.get(stage, 0.0) + acc.self_value
        out = []
        for stage, value in waited.items():
            total = self.stage_totals.get(stage, 0.0)
            if total > 0 and value / total >= share and not stage.startswith("<"):
                out.append(
                    f"stage '{stage}' spent {value / total:.0%} of its time waiting on its own threads, which "
                    f"{self.backend} does not sample (it sees the main thread only); "
                    "to see that work, run with --backend py-spy (or memray, scalene)"
                )
        return out

    def hotspots(self, per_stage: int | None = 50) -> list[Hotspot]:
        """Hotspots ranked by self value within each stage (stages by total, largest first)."""
        by_stage: dict[str, list[tuple[_Key, _Acc]]] = {}
        for key, acc in self._acc.items():
            by_stage.setdefault(key[0], []).append((key, acc))
        out: list[Hotspot] = []
        for stage in sorted(by_stage, key=lambda s: -self.stage_totals.get(s, 0.0)):
            ranked = sorted(by_stage[stage], key=lambda item: (-item[1].self_value, -item[1].total_value))
            out.extend(self._hotspot(key, acc) for key, acc in ranked[:per_stage])
        return out

    def profiles(self) -> list[StageProfile]:
        """Each stage's folded stacks, bounded, for its flame graph."""
        return self.stacks.profiles()

    def _hotspot(self, key: _Key, acc: _Acc) -> Hotspot:
        stage, function, file, waiting, on_threads = key
        total = self.stage_totals.get(stage, 0.0)
        line = max(acc.line_self, key=acc.line_self.__getitem__) if acc.line_self else acc.first_line
        return Hotspot(
            stage=stage,
            function=function,
            file=file,
            line=line,
            self_value=acc.self_value,
            total_value=acc.total_value,
            unit=self.unit,
            samples=acc.samples,
            count=acc.count if self.unit == "bytes" else None,
            share=acc.self_value / total if total > 0 else 0.0,
            waiting=waiting,
            on_threads=on_threads,
            backend=self.backend,
        )


def stage_sample_shares(hotspots: Iterable[Hotspot]) -> dict[str, float]:
    """Each stage's share of all self value in a list of hotspots (for checks and summaries)."""
    totals: dict[str, float] = {}
    for spot in hotspots:
        totals[spot.stage] = totals.get(spot.stage, 0.0) + spot.self_value
    grand = sum(totals.values())
    return {stage: value / grand for stage, value in totals.items()} if grand > 0 else {}
