"""Why two load files may not be comparable, beyond what a run diff checks: the load setup and the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.diff import uniform_shift
from ragperf.schema.diff import ComparabilityWarning

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.schema.diff import StepDiff
    from ragperf.schema.load import LoadStep
    from ragperf.schema.run import RunFile

__all__ = ["load_warnings"]

# A load test measures the headroom the machine has left, so start loads differing by this much of a CPU
# each are worth a warning even when neither machine counts as busy.
LOAD_GAP_PER_CPU = 0.25
_SETUP = ("engine", "mode", "arrival", "workers", "concurrency", "p95_target_ms", "error_budget")


def load_warnings(
    old: RunFile, new: RunFile, pairs: Sequence[tuple[LoadStep, LoadStep]], steps: Sequence[StepDiff], alpha: float
) -> tuple[ComparabilityWarning, ...]:
    """Differences in how the load was generated, in machine load, and rates where every stage moved at once."""
    found: list[ComparabilityWarning] = []
    if old.load is not None and new.load is not None:
        for name in _SETUP:
            was, now = getattr(old.load, name), getattr(new.load, name)
            if was != now:
                found.append(
                    ComparabilityWarning(kind="load_setup", message=f"{name} differs: baseline {was}, new {now}")
                )
    durations = sorted({(a.duration_s, b.duration_s) for a, b in pairs if a.duration_s != b.duration_s})
    if durations:
        shown = ", ".join(f"{a:g} s vs {b:g} s" for a, b in durations[:3])
        found.append(
            ComparabilityWarning(
                kind="load_setup",
                message=f"step durations differ ({shown}): a longer step sees more of a slow queue's growth",
            )
        )
    a, b = old.environment.load_avg_start, new.environment.load_avg_start
    cpus = max(old.environment.cpu_count, new.environment.cpu_count, 1)
    if a is not None and b is not None and abs(a[0] - b[0]) > LOAD_GAP_PER_CPU * cpus:
        found.append(
            ComparabilityWarning(
                kind="load",
                message=f"load average at start differs: baseline {a[0]:.2f}, new {b[0]:.2f} on {cpus} CPUs; "
                "a load test measures the headroom left, so re-run both on an equally quiet machine",
            )
        )
    for step in steps:
        for warning in uniform_shift(step.stages, alpha):
            # One is enough: the same cause shows at every rate.
            found.append(warning.model_copy(update={"message": f"at {step.offered_qps:g} qps, {warning.message}"}))
            return (*found,)
    return tuple(found)
