"""Leak verdicts on a robust trend (`memory.trend`: Theil-Sen) of RSS and heap per iteration.

RSS and the heap are fitted separately: allocators keep freed memory (fragmentation), so RSS
can climb while the live heap stays flat; the verdict is judged on the heap when it can be read.
A leak is *detected* when the lower end of the slope's interval is above a noise floor and the
series still grows over its second half (a cache that filled up early has stopped growing).
Its *verdict* compares the slope with the target (seed: < 0.5 MB per iteration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragperf.analysis import verdicts

if TYPE_CHECKING:
    from ragperf.memory.trend import Fit

__all__ = ["LeakVerdict", "judge"]


@dataclass(frozen=True)
class LeakVerdict:
    """Whether the basis series leaks, and how it compares with the target."""

    detected: bool
    verdict: verdicts.Verdict
    reason: str


def judge(fit: Fit, *, min_slope: float, target: float | None) -> LeakVerdict:
    """Detected: the interval is above the noise floor and the second half still grows."""
    floor = f"the {min_slope:g} MB/iter floor below which growth counts as noise"
    if fit.ci_low <= min_slope:
        if fit.slope > min_slope:
            reason = f"not significant: its interval reaches {floor}"
        elif fit.ci_low > 0:
            reason = f"a small steady growth, under {floor}"
        else:
            reason = "flat"
        detected = False
    elif fit.late_slope is not None and fit.late_slope <= min_slope:
        reason = "grew early, then stopped (a cache or pool filling up)"
        detected = False
    else:
        reason = "grows throughout"
        detected = True
    if target is None:
        return LeakVerdict(detected, "n/a", reason)
    # Growth that is not a detected leak is within any target; a leak is judged by its slope.
    return LeakVerdict(detected, verdicts.judge(fit.slope, target) if detected else "PASS", reason)
