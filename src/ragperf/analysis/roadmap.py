"""The optimisation roadmap: each bottleneck with its evidence, priority and advice chosen by rules.

A stage "affects" a query when it had the largest share of that query or ran over its target.
Priority follows the seed plan (P0 above 20% of queries, P1 from 10%, P2 the rest), with the
thresholds configurable. Advice comes from rules in data (`ragperf/data/roadmap_rules.toml`
plus a config's own), matched by stage kind and by what the stage's hotspots show.
"""

from __future__ import annotations

import importlib.resources
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ragperf.errors import ConfigError
from ragperf.units import BYTES_PER_MB

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from ragperf.schema.memory import LeakReport
    from ragperf.schema.v1 import Hotspot, RunFile, StageSummary

__all__ = [
    "PLACEHOLDERS",
    "Character",
    "Evidence",
    "LeakItem",
    "ReportConfig",
    "Roadmap",
    "RoadmapItem",
    "Rule",
    "build_roadmap",
    "builtin_rules",
    "priority_for",
]

Character = Literal["io", "cpu", "alloc", "unknown"]
Priority = Literal["P0", "P1", "P2"]
_TOP_HOTSPOTS = 3
_MIN_HOTSPOT_SHARE = 0.01  # below 1% of a stage a function explains nothing about it
# What a rule's advice may name in braces, filled per stage; any other brace is the rule's own text.
PLACEHOLDERS = ("stage", "kind", "top_function", "top_share", "slowest_branch")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Model):
    """One piece of advice and the stages it applies to."""

    id: str
    kinds: tuple[str, ...] = ("any",)
    character: Literal["any", "io", "cpu", "alloc", "unknown"] = "any"
    title: str
    advice: str
    effort: Literal["S", "M", "L"] = "M"
    quick_win: bool = False
    min_top_share: float = Field(default=0.0, ge=0, le=1, description="the top function's share must reach this")

    @field_validator("advice")
    @classmethod
    def _known_placeholders(cls, advice: str) -> str:
        unknown = [name for name in _PLACEHOLDER.findall(advice) if name not in PLACEHOLDERS]
        if unknown:
            valid = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
            msg = f"unknown placeholder {{{unknown[0]}}}; the advice may use {valid}"
            raise ValueError(msg)
        return advice

    def applies(self, kind: str, characters: frozenset[str], top_share: float = 0.0) -> bool:
        """True when the rule fits a stage of this kind and character (and its top function's weight)."""
        kind_ok = "any" in self.kinds or kind in self.kinds
        character_ok = self.character == "any" or self.character in characters
        return kind_ok and character_ok and top_share >= self.min_top_share


class ReportConfig(_Model):
    """The proposed `[report]` config table: priority thresholds, character thresholds, extra rules."""

    p0_fraction: float = Field(default=0.20, gt=0, le=1, description="P0 above this share of queries")
    p1_fraction: float = Field(default=0.10, gt=0, le=1, description="P1 from this share of queries")
    io_wait_share: float = Field(default=0.5, gt=0, le=1, description="I/O-bound when waits are this share")
    alloc_mb_per_query: float = Field(default=10.0, gt=0, description="allocation-heavy above this, per query")
    builtin_rules: bool = Field(default=True, description="false: use only the rules given here")
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> ReportConfig:
        if self.p1_fraction > self.p0_fraction:
            msg = "p1_fraction must not exceed p0_fraction"
            raise ValueError(msg)
        return self


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the run shows about one stage."""

    share: float | None
    queries: int
    bottleneck_queries: int
    over_target_queries: int
    affected_queries: int
    fraction: float
    p95: float | None
    target_ms: float | None
    verdict: str
    characters: frozenset[Character]
    waiting_share: float | None
    hotspots: tuple[Hotspot, ...]
    slowest_branch: str | None
    slowest_branch_share: float | None


@dataclass(frozen=True, slots=True)
class RoadmapItem:
    """One stage to work on: priority, evidence and the advice that fits it."""

    stage: str
    kind: str
    priority: Priority
    evidence: Evidence
    advice: tuple[tuple[Rule, str], ...]


@dataclass(frozen=True, slots=True)
class LeakItem:
    """A leak to fix: P0 when it breaks the leak target, P1 when it grows but within it."""

    stage: str
    kind: str
    priority: Priority
    slope: float | None
    ci: tuple[float, float] | None
    target: float | None
    verdict: str
    message: str
    site: str | None
    advice: tuple[tuple[Rule, str], ...]


@dataclass(frozen=True, slots=True)
class Roadmap:
    """Items by priority (then by queries affected), the quick wins, and the thresholds used."""

    items: tuple[RoadmapItem, ...]
    quick_wins: tuple[tuple[RoadmapItem | LeakItem, Rule, str], ...]
    config: ReportConfig
    leak: LeakItem | None = None


def priority_for(fraction: float, config: ReportConfig) -> Priority:
    """The seed's priority for a share of queries, with configurable thresholds."""
    if fraction > config.p0_fraction:
        return "P0"
    return "P1" if fraction >= config.p1_fraction else "P2"


def builtin_rules() -> tuple[Rule, ...]:
    """The rules shipped in ragperf/data/roadmap_rules.toml."""
    text = importlib.resources.files("ragperf").joinpath("data/roadmap_rules.toml").read_text(encoding="utf-8")
    return tuple(Rule.model_validate(rule) for rule in tomllib.loads(text)["rule"])


def report_config_from(run: RunFile, override: ReportConfig | None = None) -> ReportConfig:
    """The run's `[report]` table (when its config has one), unless an explicit one is given."""
    if override is not None:
        return override
    table = run.config.get("report")
    if table is None:
        return ReportConfig()
    try:
        return ReportConfig.model_validate(table)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"report.{where}: {problem}; fix the [report] table of the config") from None


def build_roadmap(run: RunFile | None, config: ReportConfig | None = None, leak: LeakReport | None = None) -> Roadmap:
    """Evidence, priority and advice for every stage that was a bottleneck or missed its target, and a leak."""
    config = report_config_from(run, config) if run is not None else config or ReportConfig()
    rules = (builtin_rules() if config.builtin_rules else ()) + config.rules
    stages = _top_level(run) if run is not None else []
    items = [item for stage in stages if run is not None and (item := _item(run, stage, config, rules)) is not None]
    order = {"P0": 0, "P1": 1, "P2": 2}
    items.sort(key=lambda i: (order[i.priority], -i.evidence.affected_queries, -(i.evidence.share or 0.0)))
    leak_item = _leak_item(leak, rules) if leak is not None else None
    wins: list[tuple[RoadmapItem | LeakItem, Rule, str]] = []
    if leak_item is not None:
        wins.extend((leak_item, rule, text) for rule, text in leak_item.advice if rule.quick_win)
    for item in items:
        if item.priority == "P2":
            continue
        wins.extend((item, rule, text) for rule, text in item.advice if rule.quick_win)
    return Roadmap(items=tuple(items), quick_wins=tuple(wins), config=config, leak=leak_item)


def _leak_item(leak: LeakReport, rules: tuple[Rule, ...]) -> LeakItem | None:
    """A detected leak, with the leak rules' advice; None when nothing grows."""
    if not leak.detected:
        return None
    stage = leak.stage or "pipeline"
    site = f"{leak.sites[0].file.rsplit('/', 1)[-1]}:{leak.sites[0].line}" if leak.sites else None
    context = {"stage": stage, "kind": "leak", "top_function": site or "the growing site", "top_share": "all"}
    context["slowest_branch"] = stage
    advice = tuple((rule, _fill(rule.advice, context)) for rule in rules if "leak" in rule.kinds)
    return LeakItem(
        stage=stage,
        kind="memory leak",
        priority="P0" if leak.verdict == "FAIL" else "P1",
        slope=leak.slope,
        ci=leak.ci,
        target=leak.target,
        verdict=leak.verdict,
        message=leak.message,
        site=site,
        advice=advice,
    )


def _top_level(run: RunFile) -> list[StageSummary]:
    parents = {info.path: info.parent for info in run.stages}
    return [s for s in run.summary.stages if parents.get(s.path) is None and not s.skipped and s.n > 0]


def _item(run: RunFile, stage: StageSummary, config: ReportConfig, rules: tuple[Rule, ...]) -> RoadmapItem | None:
    ok = [q for q in run.queries if q.error is None]
    if not ok:
        return None
    winners = {id(q) for q in ok if _largest(q.spans, run) == stage.path}
    over = {id(q) for q in ok if stage.target_ms is not None and q.spans.get(stage.path, 0.0) > stage.target_ms}
    affected = len(winners | over)
    if affected == 0:
        return None
    evidence = _evidence(run, stage, config, len(winners), len(over), affected, affected / len(ok))
    context = _placeholders(stage.path, stage.kind, evidence)
    top_share = evidence.hotspots[0].share if evidence.hotspots else 0.0
    advice = tuple(
        (rule, _fill(rule.advice, context))
        for rule in rules
        if rule.applies(stage.kind, evidence.characters, top_share)
    )
    return RoadmapItem(stage.path, stage.kind, priority_for(evidence.fraction, config), evidence, advice)


def _largest(spans: dict[str, float], run: RunFile) -> str | None:
    top = [(spans[info.path], info.path) for info in run.stages if info.parent is None and info.path in spans]
    return max(top)[1] if top else None


def _evidence(
    run: RunFile,
    stage: StageSummary,
    config: ReportConfig,
    winners: int,
    over: int,
    affected: int,
    fraction: float,
) -> Evidence:
    mine = [h for h in run.hotspots if h.stage == stage.path or h.stage.startswith(stage.path + ".")]
    timed = sorted((h for h in mine if h.unit == "ms"), key=lambda h: -h.self_value)
    allocs = sorted((h for h in mine if h.unit == "bytes"), key=lambda h: -h.self_value)
    characters: set[Character] = set()
    waiting_share = None
    sampled = sum(h.self_value for h in timed)
    if sampled > 0:
        waiting_share = sum(h.self_value for h in timed if h.waiting) / sampled
        characters.add("io" if waiting_share >= config.io_wait_share else "cpu")
    n_ok = max(1, run.summary.n_queries - run.summary.n_failed)
    if allocs and sum(h.self_value for h in allocs) / n_ok / BYTES_PER_MB >= config.alloc_mb_per_query:
        characters.add("alloc")
    if not characters:
        characters.add("unknown")
    branch, branch_share = _slowest_branch(run, stage)
    return Evidence(
        share=stage.share,
        queries=n_ok,
        bottleneck_queries=winners,
        over_target_queries=over,
        affected_queries=affected,
        fraction=fraction,
        p95=stage.p95,
        target_ms=stage.target_ms,
        verdict=stage.verdict,
        characters=frozenset(characters),
        waiting_share=waiting_share,
        hotspots=tuple(h for h in (timed or allocs)[:_TOP_HOTSPOTS] if h.share >= _MIN_HOTSPOT_SHARE),
        slowest_branch=branch,
        slowest_branch_share=branch_share,
    )


def _slowest_branch(run: RunFile, stage: StageSummary) -> tuple[str | None, float | None]:
    """The child span with the largest mean, and its mean as a share of the stage's mean."""
    children = {info.path for info in run.stages if info.parent == stage.path}
    spans = [s for s in run.summary.stages if s.path in children and s.mean is not None]
    if not spans or not stage.mean:
        return None, None
    slowest = max(spans, key=lambda s: s.mean or 0.0)
    return slowest.path, (slowest.mean or 0.0) / stage.mean


def _placeholders(stage: str, kind: str, evidence: Evidence) -> dict[str, str]:
    top = evidence.hotspots[0] if evidence.hotspots else None
    return {
        "stage": stage,
        "kind": kind,
        "top_function": top.function if top else "the top function",
        "top_share": f"{top.share * 100:.0f}%" if top else "most",
        "slowest_branch": evidence.slowest_branch or stage,
    }


def _fill(template: str, context: dict[str, str]) -> str:
    # Plain substitution, never str.format: a rule's text is user input ('{"query": x}', '{stage.__class__}').
    return _PLACEHOLDER.sub(lambda match: context.get(match.group(1), match.group(0)), template)
