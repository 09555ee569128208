"""The bounds of a load test's numbers, checked before anything starts, each refused in one line.

NaN slips through every comparison and infinity through most, so each number is checked to be
finite first. The upper bounds are what this generator can honour: arrivals are scheduled to
the nanosecond (so at most 10^9 per second), and worker processes only add throughput up to the
cores, past which each one costs its interpreter's memory (~35 MB) for nothing.
"""

from __future__ import annotations

import math
import os

from ragperf.errors import ConfigError

__all__ = [
    "MAX_DURATION_S",
    "MAX_LANES",
    "MAX_RATE_QPS",
    "MAX_STEPS",
    "WORKERS_PER_CPU",
    "check_budget",
    "check_duration",
    "check_lanes",
    "check_rate",
    "check_workers",
    "max_workers",
]

MAX_DURATION_S = 3600.0
MIN_DURATION_S = 0.1
MAX_RATE_QPS = 1e9
MAX_STEPS = 16
MAX_LANES = 1024
WORKERS_PER_CPU = 2
_MIN_WORKER_LIMIT = 4


def _finite(flag: str, value: float, hint: str) -> float:
    if not math.isfinite(value):
        raise ConfigError(f"{flag} {value}: need a finite number, {hint}")
    return value


def check_rate(flag: str, value: float, hint: str = "") -> float:
    """An offered rate in queries/s: finite, above 0, at most MAX_RATE_QPS."""
    hint = hint or f"e.g. {flag} 50"
    _finite(flag, value, hint)
    if value <= 0:
        raise ConfigError(f"{flag} {value:g}: need a rate above 0 queries/s, {hint}")
    if value > MAX_RATE_QPS:
        raise ConfigError(
            f"{flag} {value:g} is over the {MAX_RATE_QPS:g} queries/s limit (arrivals are scheduled to the nanosecond)"
        )
    return value


def check_duration(value: float, *, force: bool) -> float:
    """Seconds per step: finite, at least MIN_DURATION_S, at most an hour unless forced."""
    _finite("--duration", value, "e.g. --duration 10")
    if value < MIN_DURATION_S:
        raise ConfigError(f"--duration {value:g}: need at least {MIN_DURATION_S:g} s, e.g. --duration 10")
    if value > MAX_DURATION_S and not force:
        raise ConfigError(f"--duration {value:g} s is over the {MAX_DURATION_S:.0f} s limit; add --force to allow it")
    return value


def check_budget(value: float) -> float:
    """The error budget: a share between 0 and 1."""
    _finite("--error-budget", value, "e.g. --error-budget 0.01")
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"--error-budget {value:g}: need a share from 0 to 1, e.g. --error-budget 0.01")
    return value


def max_workers() -> int:
    """The most worker processes worth starting here: WORKERS_PER_CPU per CPU (at least a few)."""
    return max(_MIN_WORKER_LIMIT, WORKERS_PER_CPU * (os.cpu_count() or 1))


def check_workers(value: int, flag: str = "--workers") -> int:
    """Worker processes: at least 1, at most `max_workers()`; past that, lanes are the way to concurrency."""
    limit, cpus = max_workers(), os.cpu_count() or 1
    if value < 1:
        raise ConfigError(f"{flag} {value}: need at least 1 worker process")
    if value > limit:
        raise ConfigError(
            f"{flag} {value} is over this machine's limit of {limit} worker processes ({WORKERS_PER_CPU} per CPU): "
            f"processes add throughput only up to the cores; for more queries in flight, use -c LANES "
            f"(threads in each worker), e.g. {flag} {cpus} -c {math.ceil(value / cpus)}"
        )
    return value


def check_lanes(value: int) -> int:
    """Lanes (queries in flight) per worker: 1 to MAX_LANES threads."""
    if not 1 <= value <= MAX_LANES:
        raise ConfigError(f"-c {value}: need 1 to {MAX_LANES} lanes (queries in flight) per worker")
    return value
