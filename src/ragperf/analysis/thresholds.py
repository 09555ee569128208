"""Thresholds of `ragperf diff`: the relative one and the absolute floor; parsing "5%", "p95=10%", and which metric
each one gates."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "DEFAULT_MIN_MS",
    "DEFAULT_THRESHOLD",
    "METRICS",
    "check_threshold",
    "metric_name",
    "parse_thresholds",
    "split_thresholds",
]

DEFAULT_THRESHOLD = 0.05
# The absolute floor (ms) a p50 change must also exceed (`--min-ms`; its help repeats the value). With no code
# change a stage still moves by a wake-up's lateness when the machine's load differs between runs: a sleep or
# I/O wait returns 0.1-0.15 ms late at the median on a shared 2-core Linux VM (p95 0.2-0.7 ms; measured with
# time.sleep of 1 and 5 ms), and a 5% threshold on a 0.3 ms stage (15 us) sits far inside that. 0.25 ms is
# about twice that median. A larger floor hides real slowdowns of small stages: +10% of a 4 ms stage is
# 0.4 ms, which benchmarks/diff_validation.py detects at this floor and misses at 1 ms.
DEFAULT_MIN_MS = 0.25
METRICS = ("p50", "p95", "p99", "mean")
# "p50" thresholds the stage's median change; these spellings mean the same.
_ALIASES = {"median": "p50", "shift": "p50"}


def parse_thresholds(spec: str | Sequence[str]) -> tuple[float, dict[str, float]]:
    """Parse ``"5%"``, ``"0.05"``, ``"p95=10%"`` (comma-separated or repeated) into (default, per-metric)."""
    items = [spec] if isinstance(spec, str) else list(spec)
    default: float | None = None
    per_metric: dict[str, float] = {}
    for raw in (part.strip() for item in items for part in item.split(",")):
        if not raw:
            continue
        if "=" in raw:
            key, _, value = raw.partition("=")
            metric = metric_name(key)
            if metric in per_metric:
                raise ValueError(f"threshold for {metric} given twice: {raw!r}")
            per_metric[metric] = _parse_fraction(value)
        else:
            if default is not None:
                raise ValueError(f"default threshold given twice: {raw!r}")
            default = _parse_fraction(raw)
    return (DEFAULT_THRESHOLD if default is None else default), per_metric


def check_threshold(value: float, what: str) -> float:
    """The value as a float, if it is a finite fraction >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{what} must be a finite fraction >= 0, got {value}")
    return float(value)


def split_thresholds(threshold: float, metric_thresholds: Mapping[str, float] | None) -> tuple[float, dict[str, float]]:
    """The shift's threshold (``p50`` overrides the default) and the other gated metrics."""
    shift_threshold = check_threshold(threshold, "threshold")
    gated: dict[str, float] = {}
    for key, value in (metric_thresholds or {}).items():
        metric = metric_name(key)
        checked = check_threshold(value, f"threshold for {metric}")
        if metric == "p50":
            shift_threshold = checked
        else:
            gated[metric] = checked
    return shift_threshold, gated


def metric_name(key: str) -> str:
    """The canonical name of a metric ("median" -> "p50"); unknown names are refused."""
    metric = key.strip().lower()
    metric = _ALIASES.get(metric, metric)
    if metric not in METRICS:
        raise ValueError(f"unknown metric {key.strip()!r}; expected one of {', '.join(METRICS)}")
    return metric


def _parse_fraction(text: str) -> float:
    """``"10%"`` -> 0.10; ``"0.1"`` -> 0.1; a bare number above 1 is ambiguous (5 -> 5% or 500%?) and refused."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        value = float(raw[:-1] if percent else raw)
    except ValueError:
        raise ValueError(f"not a threshold: {text!r} (write 5% or 0.05)") from None
    if percent:
        value /= 100.0
    elif value > 1:
        raise ValueError(f"ambiguous threshold {text!r}: write {raw}% or a fraction such as 0.05")
    return check_threshold(value, f"threshold {text!r}")
