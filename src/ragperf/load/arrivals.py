"""Intended start times of one worker's share of an open-loop arrival stream.

Each of N workers draws its own stream at R/N, so no dispatcher sits on the hot path. Constant
streams are phase-shifted by k/R so the N streams interleave into one evenly spaced stream at R;
Poisson streams use independent seeds, and independent Poisson streams add up to a Poisson
stream at R.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Arrival", "ArrivalStream", "intended_starts"]

Arrival = Literal["constant", "poisson"]
_NS = 1_000_000_000


class ArrivalStream:
    """One worker's intended starts (ns from the common start), and how many it has not yet handed out.

    `left()` counts the arrivals a stopped or overloaded step never reached without drawing them,
    so a rate of a billion queries per second costs nothing to account for: exact for constant
    arrivals, the expected count for Poisson ones.
    """

    def __init__(self, rate: float, workers: int, index: int, duration_s: float, arrival: Arrival, seed: int) -> None:
        if not rate > 0 or workers < 1 or not 0 <= index < workers:
            msg = f"need rate > 0 and 0 <= index < workers (got rate={rate}, index={index}, workers={workers})"
            raise ValueError(msg)
        self._horizon = int(duration_s * _NS)
        self._per_worker = rate / workers
        self._arrival = arrival
        self._phase = index * _NS / rate  # the k/R phase: constant worker streams interleave evenly
        self._gap = _NS / self._per_worker
        self._draw = random.Random(f"{seed}:{index}").expovariate  # noqa: S311 - timing, not security
        self._handed = 0
        self._last = 0.0
        self._done = False

    def __iter__(self) -> Iterator[int]:
        if self._arrival == "constant":
            # Multiplied, not summed, so the count in left() matches the stream to the arrival.
            while (t := self._phase + self._handed * self._gap) < self._horizon:
                self._handed += 1
                self._last = t
                yield int(t)
            self._done = True
            return
        t = self._last + self._draw(self._per_worker) * _NS
        while t < self._horizon:
            self._handed += 1
            self._last = t
            yield int(t)
            t += self._draw(self._per_worker) * _NS
        self._done = True

    def left(self) -> int:
        """Arrivals before the horizon not handed out yet."""
        if self._done:
            return 0
        if self._arrival == "constant":
            total = max(0, math.ceil((self._horizon - self._phase) / self._gap))
            return max(0, total - self._handed)
        return max(0, round((self._horizon - self._last) / _NS * self._per_worker))


def intended_starts(
    rate: float, workers: int, index: int, duration_s: float, arrival: Arrival, seed: int = 0
) -> ArrivalStream:
    """Offsets in ns from the common start, for worker `index` of `workers`, below `duration_s`."""
    return ArrivalStream(rate, workers, index, duration_s, arrival, seed)
