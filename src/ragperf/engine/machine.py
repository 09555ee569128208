"""What the machine was doing while queries were measured: the noise, measured rather than guessed.

Per query the worker reads its own CPU time and involuntary context switches (`getrusage`, one
call before and one after: about 1.3 µs a query). Per block of queries (each `QueryBatch`) it
reads `/proc/stat`: the CPU time every process used, less its own, is what other processes took,
and `procs_running` is the run queue. A load average lags by a minute; these do not.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter_ns
from typing import NamedTuple

__all__ = ["MachineSampler", "QueryUsage", "usage_now"]

_STAT = Path("/proc/stat")
_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


class QueryUsage(NamedTuple):
    """The worker's CPU time (ns, all its threads) and involuntary context switches so far."""

    cpu_ns: int
    preempted: int


if sys.platform != "win32":
    import resource

    _SELF = resource.RUSAGE_SELF

    def usage_now() -> QueryUsage | None:
        """This process's CPU time and involuntary context switches so far."""
        usage = resource.getrusage(_SELF)
        return QueryUsage(round((usage.ru_utime + usage.ru_stime) * 1e9), usage.ru_nivcsw)

else:  # pragma: no cover - no getrusage on Windows

    def usage_now() -> QueryUsage | None:
        """Not available here."""
        return None


@dataclass(frozen=True, slots=True)
class _Stat:
    busy_ticks: int
    running: int
    own_cpu_ns: int
    at_ns: int


class MachineSampler:
    """Other processes' CPU use and the run queue between two readings (Linux; None elsewhere)."""

    def __init__(self) -> None:
        self._last = _read()

    def sample(self) -> tuple[float, float, int] | None:
        """(CPUs busy in all, CPUs used by other processes, run queue) since the last sample."""
        now = _read()
        last, self._last = self._last, now
        if now is None or last is None or now.at_ns <= last.at_ns:
            return None
        seconds = (now.at_ns - last.at_ns) / 1e9
        busy = (now.busy_ticks - last.busy_ticks) / _HZ / seconds
        own = (now.own_cpu_ns - last.own_cpu_ns) / 1e9 / seconds
        return busy, max(0.0, busy - own), now.running


def _read() -> _Stat | None:
    try:
        text = _STAT.read_text(encoding="ascii")
    except OSError:
        return None
    busy = running = None
    for line in text.splitlines():
        if line.startswith("cpu "):
            # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait
            fields = [int(v) for v in line.split()[1:]]
            busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)
        elif line.startswith("procs_running "):
            running = int(line.split()[1])
    usage = usage_now()
    if busy is None or running is None or usage is None:
        return None
    return _Stat(busy, running, usage.cpu_ns, perf_counter_ns())
