"""The settings of one diff, and the comparison of a group's span paths in its schema form.

Run and load diffs both come here to compare their paths, so one rule (`compare.py`) and one family
size judge every path of a diff, whichever kind of file it came from; the two files of one `ragperf
compare` are compared paired by block (`paired.py`), beside the independent comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ragperf.analysis.compare import DEFAULT_ALPHA, DEFAULT_MIN_MS, DEFAULT_THRESHOLD, compare_stages
from ragperf.analysis.paired import compare_paired_stages
from ragperf.analysis.replicated import compare_replicated_stages
from ragperf.analysis.thresholds import split_thresholds
from ragperf.schema.diff import Evidence, MetricDelta, PathDiff

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np
    import numpy.typing as npt

    from ragperf.analysis.compare import StageComparison
    from ragperf.schema.diff import ComparabilityWarning, DiffGroup, Figure, TargetChange

    FloatArray = npt.NDArray[np.float64]

__all__ = ["DiffParts", "DiffSettings", "compare_grouped_paths", "compare_paths", "finite"]

Samples = Literal["queries", "histogram", "blocks", "processes"]


@dataclass(frozen=True)
class DiffSettings:
    """What the user asked of the diff: thresholds, the absolute floor, the significance level."""

    threshold: float = DEFAULT_THRESHOLD  # on the p50 (a p50= metric threshold overrides the default)
    gated: Mapping[str, float] = field(default_factory=dict)  # p95, p99, mean
    alpha: float = DEFAULT_ALPHA
    min_ms: float = DEFAULT_MIN_MS

    @classmethod
    def of(
        cls, threshold: float, metric_thresholds: Mapping[str, float] | None, alpha: float, min_ms: float
    ) -> DiffSettings:
        """The settings from the command's options."""
        shift, gated = split_thresholds(threshold, metric_thresholds)
        return cls(threshold=shift, gated=gated, alpha=alpha, min_ms=min_ms)


@dataclass(frozen=True)
class DiffParts:
    """What comparing two files of one kind found; `diff.py` names the verdicts and makes the report."""

    groups: tuple[DiffGroup, ...]
    family: int
    paths_compared: int
    only_in_baseline: tuple[str, ...]
    only_in_new: tuple[str, ...]
    targets: tuple[TargetChange, ...]
    warnings: tuple[ComparabilityWarning, ...]
    queries: tuple[tuple[int, int], tuple[int, int]]  # (measured, failed) of the baseline, then the new file
    only_in_baseline_groups: tuple[str, ...] = ()
    only_in_new_groups: tuple[str, ...] = ()
    capacity: tuple[Figure, ...] = ()


def compare_paths(
    old: Mapping[str, FloatArray],
    new: Mapping[str, FloatArray],
    parents: Mapping[str, str | None],
    settings: DiffSettings,
    *,
    family: int,
    samples: Literal["queries", "histogram"],
) -> list[PathDiff]:
    """Every path in both (in `old`'s order), judged at the level of the diff's whole `family`."""
    results = compare_stages(
        old,
        new,
        threshold=settings.threshold,
        alpha=settings.alpha,
        metric_thresholds=settings.gated,
        min_ms=settings.min_ms,
        family=family,
    )
    return [_path_diff(result, parents.get(result.name), samples) for result in results]


def compare_grouped_paths(
    old: Mapping[str, Sequence[FloatArray]],
    new: Mapping[str, Sequence[FloatArray]],
    parents: Mapping[str, str | None],
    settings: DiffSettings,
    *,
    family: int,
    evidence: Literal["paired", "replicated"],
    block_size: int = 1,
    cpu: Mapping[str, tuple[Sequence[FloatArray], Sequence[FloatArray]]] | None = None,
) -> list[PathDiff]:
    """Every path in both, group by group (`old[path][i]`: block pair i of a compare, or process i of a
    replicated run), at the family's level."""
    s = settings
    results = (
        compare_paired_stages(
            old, new, family=family, block_size=block_size, threshold=s.threshold, alpha=s.alpha,
            metric_thresholds=s.gated, min_ms=s.min_ms, cpu=cpu,
        )
        if evidence == "paired"
        else compare_replicated_stages(
            old, new, family=family, threshold=s.threshold, alpha=s.alpha, metric_thresholds=s.gated, min_ms=s.min_ms
        )
    )  # fmt: skip
    samples: Samples = "blocks" if evidence == "paired" else "processes"
    return [_path_diff(result, parents.get(result.name), samples) for result in results]


def finite(value: float | None) -> float | None:
    """JSON has no NaN: a statistic that could not be estimated is null."""
    return value if value is not None and math.isfinite(value) else None


def _path_diff(result: StageComparison, parent: str | None, samples: Samples) -> PathDiff:
    metrics = tuple(
        MetricDelta(
            metric=m.metric,
            old=finite(m.old),
            new=finite(m.new),
            rel_change=finite(m.rel_change),
            threshold=m.threshold,
            ci=None if m.ci is None else (m.ci[0], m.ci[1]),
            verdict=m.verdict,
        )
        for m in result.metrics
    )
    lo, hi = result.shift_ci
    evidence = Evidence(
        kind=result.kind,
        samples=samples,
        shift=finite(result.shift),
        shift_ci=None if math.isnan(lo) else (finite(lo), finite(hi)),
        ci_level=result.ci_level,
        p_value=finite(result.p_value),
        p_adjusted=finite(result.p_adjusted),
        min_detectable=result.min_detectable,
        queries_needed=result.queries_needed,
        pairs=result.pairs,
        blocks_needed=result.blocks_needed,
        processes=result.processes,
        processes_needed=result.processes_needed,
        measure=result.measure,
    )
    return PathDiff(
        path=result.name,
        parent=parent,
        n_old=result.n_old,
        n_new=result.n_new,
        metrics=metrics,
        evidence=evidence,
        verdict=result.verdict,
        threshold=result.threshold,
    )
