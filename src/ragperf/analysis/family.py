"""The multiple-comparison family of one diff: how many hypotheses it tests, and the level each is read at.

One number for the whole diff, whatever its groups: every tested path's shift and gated metrics, plus the
other checks (a load step's throughput figures). Bonferroni over it, so comparing more stages or more
rates does not raise the chance that the gate fails on noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MIN_SAMPLES", "Family", "family_size", "tested"]

MIN_SAMPLES = 5  # queries each side needs before a path is tested at all
_STD_NORMAL = NormalDist()


@dataclass(frozen=True)
class Family:
    """The significance level every check of one diff shares: ``alpha``, Bonferroni over ``size`` hypotheses."""

    alpha: float
    size: int

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.size < 1:
            raise ValueError(f"a family holds at least one hypothesis, got {self.size}")

    @property
    def level_alpha(self) -> float:
        """The per-test level: alpha / size."""
        return self.alpha / self.size

    @property
    def z_crit(self) -> float:
        """The two-sided normal quantile of the per-test level."""
        return _STD_NORMAL.inv_cdf(1.0 - self.level_alpha / 2.0)

    def adjust(self, p_value: float) -> float:
        """Bonferroni: the p-value times the family size, at most 1."""
        return min(1.0, p_value * self.size)


def family_size(paths_tested: int, gated_metrics: int, other_checks: int = 0) -> int:
    """The hypotheses of one diff: each tested path's shift and gated metrics, plus other checks (figures).

    A path with too few queries (``too_few``) tests nothing and is not counted, so it does not dilute the
    others' level. Never below 1.
    """
    return max(1, paths_tested * (1 + gated_metrics) + other_checks)


def tested(sizes: Sequence[tuple[int, int]]) -> int:
    """How many of these (old, new) sample sizes are large enough to be tested."""
    return sum(1 for n_old, n_new in sizes if min(n_old, n_new) >= MIN_SAMPLES)
