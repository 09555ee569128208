"""Memory units: every figure ragperf calls "MB" is a MiB (2**20 bytes), as RSS tools report it.

The run file, the terminal and every report use this one convention (docs: README, "Units").
"""

from __future__ import annotations

__all__ = ["BYTES_PER_MB", "to_mb"]

BYTES_PER_MB = float(1 << 20)


def to_mb(value: float | None) -> float | None:
    """Bytes as MB (MiB), keeping None."""
    return None if value is None else value / BYTES_PER_MB
