"""A mergeable log-linear histogram of non-negative integers (nanoseconds), HdrHistogram-style.

Values below 2**SUB_BITS land in exact unit buckets; above that, each power of two is split
into 2**(SUB_BITS-1) equal buckets, so a bucket is never wider than 1/128 of the values in it
(relative error under 0.4% when a bucket reports its midpoint). Bucket indices depend only on
the value, never on the data seen, so histograms from different workers merge by adding counts
with no loss of precision. Recording is a handful of integer operations and one list store,
cheap enough for the load generator's hot path (the `hdrhistogram` package's record_value is
several pure-Python calls deep, which is why this module exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["SUB_BITS", "Histogram", "bucket_bounds", "bucket_index"]

SUB_BITS = 8
_HALF = 1 << (SUB_BITS - 1)
_INITIAL = 1 << 12  # covers up to ~2**38 ns (4.6 minutes) before the list has to grow


def bucket_index(value: int) -> int:
    """The bucket of a non-negative integer."""
    bits = value.bit_length()
    if bits <= SUB_BITS:
        return value
    shift = bits - SUB_BITS
    return (shift << (SUB_BITS - 1)) + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The half-open value range [low, high) that a bucket index covers."""
    if index < (1 << SUB_BITS):
        return index, index + 1
    shift = (index >> (SUB_BITS - 1)) - 1
    mantissa = index - (shift << (SUB_BITS - 1))
    low = mantissa << shift
    return low, low + (1 << shift)


class Histogram:
    """Counts per log-linear bucket, plus the exact count, sum, min and max."""

    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts: list[int] = [0] * _INITIAL
        self.count = 0
        self.total = 0
        self.min = -1
        self.max = -1

    def record(self, value: int) -> None:
        """Add one value (negative values count as 0: a clock can step back by a tick)."""
        if value < 0:  # noqa: PLR1730 - hot path: a compare is cheaper than a max() call
            value = 0
        bits = value.bit_length()
        index = value if bits <= SUB_BITS else ((bits - SUB_BITS) << (SUB_BITS - 1)) + (value >> (bits - SUB_BITS))
        counts = self.counts
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1
        self.count += 1
        self.total += value
        if value > self.max:  # noqa: PLR1730 - hot path, as above
            self.max = value
        if value < self.min or self.min < 0:
            self.min = value

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts into this one (exact: both use the same buckets)."""
        if other.count == 0:
            return
        if len(other.counts) > len(self.counts):
            self.counts.extend([0] * (len(other.counts) - len(self.counts)))
        counts = self.counts
        for index, n in enumerate(other.counts):
            if n:
                counts[index] += n
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)
        self.min = other.min if self.min < 0 else min(self.min, other.min)

    def mean(self) -> float | None:
        """The exact mean, or None when empty."""
        return None if self.count == 0 else self.total / self.count

    def quantile(self, q: float) -> float | None:
        """The value at quantile q (0..1): the midpoint of the bucket holding that rank, clamped to [min, max]."""
        if self.count == 0:
            return None
        rank = max(1, min(self.count, int(q * self.count + 0.999999999)))
        seen = 0
        for index, n in enumerate(self.counts):
            if n:
                seen += n
                if seen >= rank:
                    low, high = bucket_bounds(index)
                    mid = (low + high - 1) / 2
                    return float(min(max(mid, self.min), self.max))
        return float(self.max)  # pragma: no cover - the counts always reach count

    def stdev(self) -> float | None:
        """The standard deviation from bucket midpoints (within the buckets' relative error)."""
        mean = self.mean()
        if mean is None:
            return None
        if self.count < 2:
            return 0.0
        acc = 0.0
        for index, n in self.items():
            low, high = bucket_bounds(index)
            acc += n * ((low + high - 1) / 2 - mean) ** 2
        return float((acc / (self.count - 1)) ** 0.5)

    def items(self) -> Iterator[tuple[int, int]]:
        """(bucket index, count) for every non-empty bucket."""
        return ((i, n) for i, n in enumerate(self.counts) if n)

    def to_dict(self) -> dict[str, object]:
        """A compact JSON-ready form: sparse counts plus the exact aggregates."""
        return {
            "sub_bits": SUB_BITS,
            "count": self.count,
            "total": self.total,
            "min": self.min,
            "max": self.max,
            "buckets": {str(i): n for i, n in self.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Histogram:
        """Rebuild a histogram written by to_dict (refusing another bucket layout)."""
        if data.get("sub_bits") != SUB_BITS:
            msg = f"histogram with sub_bits={data.get('sub_bits')!r}; this ragperf uses {SUB_BITS}"
            raise ValueError(msg)
        hist = cls()
        buckets = data["buckets"]
        if not isinstance(buckets, dict):
            msg = "histogram buckets must be a mapping"
            raise TypeError(msg)
        for key, n in buckets.items():
            index = int(key)
            if index >= len(hist.counts):
                hist.counts.extend([0] * (index + 1 - len(hist.counts)))
            hist.counts[index] += int(n)
        hist.count = _int(data["count"])
        hist.total = _int(data["total"])
        hist.min = _int(data["min"])
        hist.max = _int(data["max"])
        return hist

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        """A new histogram holding the sum of several."""
        out = cls()
        for part in parts:
            out.merge(part)
        return out


def _int(value: object) -> int:
    if not isinstance(value, int):
        msg = f"expected an integer, got {value!r}"
        raise TypeError(msg)
    return value
