"""Intended start times of one worker's share of an open-loop arrival stream.

Each of N workers draws its own stream at R/N, so no dispatcher sits on the hot path. Constant
streams are phase-shifted by k/R so the N streams interleave into one evenly spaced stream at R;
Poisson streams use independent seeds, and independent Poisson streams add up to a Poisson
stream at R.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Arrival", "intended_starts"]

Arrival = Literal["constant", "poisson"]
_NS = 1_000_000_000


def intended_starts(
    rate: float, workers: int, index: int, duration_s: float, arrival: Arrival, seed: int = 0
) -> Iterator[int]:
    """Offsets in ns from the common start, for worker `index` of `workers`, below `duration_s`."""
    if rate <= 0 or workers < 1 or not 0 <= index < workers:
        msg = f"need rate > 0 and 0 <= index < workers (got rate={rate}, index={index}, workers={workers})"
        raise ValueError(msg)
    horizon = int(duration_s * _NS)
    per_worker = rate / workers
    if arrival == "constant":
        gap = _NS / per_worker
        t = index * _NS / rate  # the k/R phase: worker streams interleave evenly
        while t < horizon:
            yield int(t)
            t += gap
        return
    # Poisson: a worker-specific stream, so two workers never draw the same gaps.
    draw = random.Random(f"{seed}:{index}").expovariate  # noqa: S311 - timing, not security
    t = draw(per_worker) * _NS
    while t < horizon:
        yield int(t)
        t += draw(per_worker) * _NS
