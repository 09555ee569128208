"""Every PASS / FAIL ragperf gives: a measurement against its target, and the verdict of the run as a whole.

One rule (`judge`) for every target, latency, memory, leak or throughput, and one list of checks
(`checks`) that the report's headline and executive summary show and every `--gate` exits on,
so no two places can disagree about whether a run met its targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ragperf.schema.run import RunFile

__all__ = ["Check", "Verdict", "checks", "judge", "overall", "worst"]

Verdict = Literal["PASS", "FAIL", "n/a"]


def judge(measured: float | None, target: float | None, *, at_least: bool = False) -> Verdict:
    """PASS when the measurement is under its target (at least it, for a rate); n/a when either is unknown.

    Under, strictly: a target reads "p95 < 40 ms", "< 0.5 MB per iteration", as the reports print it.
    """
    if measured is None or target is None:
        return "n/a"
    within = measured >= target if at_least else measured < target
    return "PASS" if within else "FAIL"


def worst(verdicts: Iterable[str]) -> Verdict:
    """FAIL if any failed, else PASS if any passed, else n/a (nothing judged)."""
    seen = set(verdicts)
    return "FAIL" if "FAIL" in seen else ("PASS" if "PASS" in seen else "n/a")


@dataclass(frozen=True, slots=True)
class Check:
    """One judged target: a pipeline target ("p95_ms"), a stage's p95 target, or a throughput target."""

    name: str  # "p95_ms", "peak_qps", or "<stage> p95"
    target: float
    measured: float | None
    unit: str
    verdict: Verdict
    stage: str | None = None  # the stage whose p95 is judged, for a stage target
    at_least: bool = False  # a floor (throughput), not a ceiling


def checks(latency: RunFile | None, files: Sequence[RunFile]) -> list[Check]:
    """Every judged target of a run and the files beside it, each name once (the first file that judged it).

    Latency targets, the pipeline's and each stage's, come from the latency run only: a memory or
    leak run's queries carry memory probes and gc, so their latency is not the pipeline's.
    """
    found: dict[str, Check] = {}
    for f in files:
        for t in f.summary.targets:
            if f is latency or t.unit != "ms":
                found.setdefault(t.name, Check(t.name, t.target, t.measured, t.unit, t.verdict))
        if f is latency:
            for s in f.summary.stages:
                if s.target_ms is not None and not s.skipped:
                    name = f"{s.path} p95"
                    found.setdefault(name, Check(name, s.target_ms, s.p95, "ms", s.verdict, stage=s.path))
        for r in f.load.verdicts if f.load is not None else ():
            found.setdefault(r.name, Check(r.name, r.target, r.measured, r.unit, r.verdict, at_least=True))
    return list(found.values())


def overall(latency: RunFile | None, files: Sequence[RunFile]) -> Verdict:
    """The verdict of a run with the files beside it: FAIL when any target failed (what `--gate` exits 1 on)."""
    return worst(check.verdict for check in checks(latency, files))
