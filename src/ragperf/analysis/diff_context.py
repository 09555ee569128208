"""What a diff reports beside the latency verdicts: comparability, hotspot shares, memory, target flips."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from ragperf.schema.diff import ComparabilityWarning, HotspotChange, TargetChange

if TYPE_CHECKING:
    from ragperf.schema.run import Environment, RunFile

__all__ = ["JudgedStage", "comparability_warnings", "hotspot_changes", "stage_target_change", "target_changes"]

# A function's share of its stage must move by at least this much (share points) to be worth showing.
MIN_SHARE_CHANGE = 0.02
HOTSPOTS_PER_STAGE = 3
MAX_CONFIG_CHANGES = 4
# Shares listed for a stage summing to this much: the list is complete, and a function absent from it is 0%.
COMPLETE_LISTING = 0.99
# 1-minute load average over this fraction of the CPUs when a run started: something else was running.
BUSY_AT_START = 0.5
# At the end the run's own worker is part of the load; above one per CPU, others competed with it.
BUSY_AT_END = 1.0


def comparability_warnings(old: RunFile, new: RunFile) -> tuple[ComparabilityWarning, ...]:
    """Every way the two runs' conditions differ, or either ran on a busy machine."""
    a, b = old.environment, new.environment
    checks = [
        ("python", f"{a.implementation} {a.python}", f"{b.implementation} {b.python}"),
        ("platform", a.platform, b.platform),
        ("cpu", a.cpu_model, b.cpu_model),
        ("cpu_count", str(a.cpu_count), str(b.cpu_count)),
        ("backend", _backend(old), _backend(new)),
        ("config", old.config_digest, new.config_digest),
        ("queries", old.queries_digest, new.queries_digest),
        ("warmup", str(old.warmup), str(new.warmup)),
    ]
    warnings = [
        ComparabilityWarning(
            kind=kind,
            message=_config_message(old, new) if kind == "config" else f"{kind} differs: baseline {was}, new {now}",
        )
        for kind, was, now in checks
        if was != now
    ]
    for side, run in (("baseline", old), ("new", new)):
        warnings += _load_warnings(side, run.environment)
        if not run.complete:
            warnings.append(
                ComparabilityWarning(kind="incomplete", message=f"{side} run incomplete: {run.incomplete_reason}")
            )
        if run.summary.n_failed:
            warnings.append(
                ComparabilityWarning(
                    kind="failures",
                    message=f"{side} run: {run.summary.n_failed} queries failed and are left out of the comparison",
                )
            )
    return tuple(warnings)


def _config_message(old: RunFile, new: RunFile) -> str:
    """Which config keys changed; digests alone tell the user nothing."""
    changed = _config_changes(old.config, new.config)
    shown = "; ".join(changed[:MAX_CONFIG_CHANGES]) + ("; ..." if len(changed) > MAX_CONFIG_CHANGES else "")
    return f"config differs: {shown or f'digest {old.config_digest} vs {new.config_digest}'}"


def _config_changes(old: dict[str, object], new: dict[str, object]) -> list[str]:
    """The config keys whose values differ, as `key: old -> new`."""
    flat_old, flat_new = _flat_config("", old), _flat_config("", new)
    return [
        f"{key}: {flat_old.get(key, '(absent)')} -> {flat_new.get(key, '(absent)')}"
        for key in [*flat_old, *(k for k in flat_new if k not in flat_old)]
        if flat_old.get(key) != flat_new.get(key)
    ]


def _flat_config(prefix: str, value: object) -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            # Stages are a list, but read by name: "stages.rerank.call" survives a stage being inserted.
            out.update(_flat_config(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    if isinstance(value, list) and all(isinstance(item, dict) and "name" in item for item in value):
        return {k: v for item in value for k, v in _flat_config(f"{prefix}.{item['name']}", item).items()}
    return {prefix: repr(value) if isinstance(value, str) else str(value)}


def _backend(run: RunFile) -> str:
    options = ", ".join(f"{k}={v}" for k, v in sorted(run.backend.options.items()))
    return f"{run.backend.name} {run.backend.version or ''}".strip() + (f" ({options})" if options else "")


def _load_warnings(side: str, env: Environment) -> list[ComparabilityWarning]:
    found = []
    if env.load_avg_start is not None and env.load_avg_start[0] > BUSY_AT_START * env.cpu_count:
        found.append(
            ComparabilityWarning(
                kind="load",
                message=f"{side} run started on a busy machine: load average {env.load_avg_start[0]:.2f} "
                f"on {env.cpu_count} CPUs",
            )
        )
    if env.load_avg_end is not None and env.load_avg_end[0] > BUSY_AT_END * env.cpu_count:
        found.append(
            ComparabilityWarning(
                kind="load",
                message=f"{side} run ended with load average {env.load_avg_end[0]:.2f} on {env.cpu_count} CPUs: "
                "other work competed with it",
            )
        )
    return found


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
