"""Percentiles with bootstrap confidence intervals (p99 of 100 queries is mostly noise: say so)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MIN_FOR_CI", "bootstrap_ci", "percentile"]

MIN_FOR_CI = 10
_RESAMPLES = 2000


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between order statistics."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def bootstrap_ci(
    values: Sequence[float], q: float, *, level: float = 0.95, seed: int = 0
) -> tuple[float, float] | None:
    """A percentile-bootstrap interval for the q-th percentile; None below MIN_FOR_CI samples."""
    data = np.asarray(values, dtype=float)
    if data.size < MIN_FOR_CI:
        return None
    rng = np.random.default_rng(seed)
    samples = rng.choice(data, size=(_RESAMPLES, data.size), replace=True)
    estimates = np.percentile(samples, q, axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)
