"""What a diff reports beside the latency verdicts: hotspot shares that moved, and targets that flipped."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from ragperf.schema.diff import HotspotChange, TargetChange

if TYPE_CHECKING:
    from ragperf.schema.load import LoadReport, LoadStep
    from ragperf.schema.run import RunFile

__all__ = [
    "JudgedStage",
    "hotspot_changes",
    "rate_target_changes",
    "stage_target_change",
    "stage_target_changes",
    "target_changes",
]

# A function's share of its stage must move by at least this much (share points) to be worth showing.
MIN_SHARE_CHANGE = 0.02
HOTSPOTS_PER_STAGE = 3
# Shares listed for a stage summing to this much: the list is complete, and a function absent from it is 0%.
COMPLETE_LISTING = 0.99


def hotspot_changes(old: RunFile, new: RunFile) -> tuple[HotspotChange, ...]:
    """Per stage, the functions whose share of it moved most (time hotspots, when both runs have them)."""
    was, now = _shares(old), _shares(new)
    changes: list[HotspotChange] = []
    for stage in [s for s in was if s in now]:
        before_all, after_all = was[stage], now[stage]
        # A backend may list only a stage's top functions: one missing from a truncated list is unknown, not 0%.
        keys = [
            k
            for k in {*before_all.shares, *after_all.shares}
            if (k in before_all.shares or before_all.complete) and (k in after_all.shares or after_all.complete)
        ]

        def moved(key: tuple[str, str], b: _StageShares = before_all, a: _StageShares = after_all) -> float:
            return a.shares.get(key, 0.0) - b.shares.get(key, 0.0)

        # Rounded, then by name: equal moves (one function's share passing to another) list in a stable order.
        for key in sorted(keys, key=lambda k: (-round(abs(moved(k)), 9), k))[:HOTSPOTS_PER_STAGE]:
            if abs(moved(key)) >= MIN_SHARE_CHANGE:
                function, file = key
                changes.append(
                    HotspotChange(
                        stage=stage,
                        function=function,
                        file=file,
                        line=after_all.lines.get(key, before_all.lines.get(key, 0)),
                        old_share=before_all.shares.get(key, 0.0),
                        new_share=after_all.shares.get(key, 0.0),
                        change=moved(key),
                    )
                )
    return tuple(changes)


@dataclass
class _StageShares:
    """Self-time share of each (function, file) in one stage, and whether the list covers the whole stage."""

    shares: dict[tuple[str, str], float] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)
    complete: bool = False


def _shares(run: RunFile) -> dict[str, _StageShares]:
    stages: dict[str, _StageShares] = defaultdict(_StageShares)
    for spot in run.hotspots:
        if spot.unit != "ms":
            continue
        # Samplers report the line running when sampled, and edits above a function move it: key on name and file.
        key = (spot.function, spot.file)
        entry = stages[spot.stage]
        entry.shares[key] = entry.shares.get(key, 0.0) + spot.share
        entry.lines.setdefault(key, spot.line)
    for entry in stages.values():
        entry.complete = sum(entry.shares.values()) >= COMPLETE_LISTING
    return dict(stages)


def target_changes(old: RunFile, new: RunFile) -> tuple[TargetChange, ...]:
    """Pipeline and stage targets whose verdict changed (PASS to FAIL first)."""
    changes = []
    was = {t.name: t for t in old.summary.targets}
    for target in new.summary.targets:
        before = was.get(target.name)
        if before is not None and before.verdict != target.verdict:
            changes.append(
                TargetChange(
                    name=target.name,
                    old_verdict=before.verdict,
                    new_verdict=target.verdict,
                    old_measured=before.measured,
                    new_measured=target.measured,
                    target=target.target,
                    unit=target.unit,
                )
            )
    stages = {s.path: s for s in old.summary.stages}
    for stage in new.summary.stages:
        before_stage = stages.get(stage.path)
        change = None if before_stage is None else stage_target_change(f"{stage.path} p95", before_stage, stage)
        if change is not None:
            changes.append(change)
    return tuple(sorted(changes, key=lambda c: c.new_verdict != "FAIL"))


class JudgedStage(Protocol):
    """A stage's p95 judged against its target: a run's StageSummary or a load step's."""

    @property
    def verdict(self) -> Literal["PASS", "FAIL", "n/a"]: ...
    @property
    def p95(self) -> float | None: ...
    @property
    def target_ms(self) -> float | None: ...


def stage_target_change(name: str, before: JudgedStage, after: JudgedStage) -> TargetChange | None:
    """The change of a stage's target verdict between two runs, or None when it has no target or held."""
    if after.target_ms is None or before.verdict == after.verdict:
        return None
    return TargetChange(
        name=name,
        old_verdict=before.verdict,
        new_verdict=after.verdict,
        old_measured=before.p95,
        new_measured=after.p95,
        target=after.target_ms,
        unit="ms",
    )


def rate_target_changes(old: LoadReport, new: LoadReport) -> tuple[TargetChange, ...]:
    """sustained_qps / peak_qps targets whose verdict changed."""
    was = {v.name: v for v in old.verdicts}
    return tuple(
        TargetChange(
            name=verdict.name,
            old_verdict=was[verdict.name].verdict,
            new_verdict=verdict.verdict,
            old_measured=was[verdict.name].measured,
            new_measured=verdict.measured,
            target=verdict.target,
            unit=verdict.unit,
            gated=True,  # the capacity the load test measured: a target it no longer holds is a regression
        )
        for verdict in new.verdicts
        if verdict.name in was and was[verdict.name].verdict != verdict.verdict
    )


def stage_target_changes(old: LoadStep, new: LoadStep) -> tuple[TargetChange, ...]:
    """Per-stage (and pipeline p95) targets whose verdict changed at one offered rate."""
    was = {stage.path: stage for stage in (*old.stages, old.latency)}
    changes = []
    for stage in (*new.stages, new.latency):
        before = was.get(stage.path)
        label = "pipeline" if stage is new.latency else stage.path
        change = (
            None if before is None else stage_target_change(f"{label} p95 @ {new.offered_qps:g} qps", before, stage)
        )
        if change is not None:
            changes.append(change)
    return tuple(changes)
