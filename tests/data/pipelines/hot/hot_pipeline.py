"""A pipeline whose stages have known, distinct hot functions: the ground truth for backend tests."""

from __future__ import annotations

import time
from typing import Any

_KEEP: list[Any] = []


def hot_a(n: int) -> int:
    """Pure-Python CPU work: the one hot function of stage `a`."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def alloc_b(n: int) -> int:
    """Allocation-heavy work: stage `b` builds and drops many lists and large buffers."""
    size = 0
    for _ in range(n):
        chunk = []
        for _ in range(8):
            chunk.append(bytearray(16384))
        size += len(chunk)
    return size


def wait_c(seconds: float) -> None:
    """A blocking wait, as on I/O: stage `c` spends its time here, not on the CPU."""
    time.sleep(seconds)


def spin_left(n: int) -> int:
    """CPU work of one fan-out branch."""
    total = 0
    for i in range(n):
        total ^= i
    return total


def stage_a(state: Any) -> int:
    return hot_a(300_000)


def stage_b(state: Any) -> int:
    return alloc_b(400)


def stage_c(state: Any) -> None:
    wait_c(0.01)


def left(state: Any) -> int:
    return spin_left(300_000)


def right(state: Any) -> None:
    wait_c(0.004)


def setup() -> None:
    """Setup does its own work, which must land outside every stage."""
    hot_a(200_000)
