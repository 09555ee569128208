"""The built-in timer backend: stage spans only, the reference for every other backend's overhead."""

from __future__ import annotations

from ragperf.backends.base import Backend

__all__ = ["TimerBackend"]


class TimerBackend(Backend):
    """Stage and sub-stage wall-clock spans from `perf_counter_ns`; no function-level detail."""

    name = "timer"
    summary = "stage spans only (perf_counter_ns); the lowest overhead"
    produces_profile = False
