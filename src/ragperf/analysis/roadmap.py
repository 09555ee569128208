"""The optimisation roadmap: each bottleneck with its evidence, priority and advice chosen by rules.

A stage "affects" a query when it had the largest share of that query or ran over its target.
Priority follows the seed plan (P0 above 20% of queries, P1 from 10%, P2 the rest), with the
thresholds configurable. Advice comes from rules in data (`ragperf/data/roadmap_rules.toml`
plus a config's own), matched by stage kind and by what the stage's hotspots show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import ValidationError

from ragperf.analysis.bottlenecks import largest_stage
from ragperf.errors import ConfigError
from ragperf.report_rules import PLACEHOLDER, Priority, ReportConfig, Rule, builtin_rules, priority_for
from ragperf.units import BYTES_PER_MB

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ragperf.schema.memory import LeakReport
    from ragperf.schema.run import Hotspot, RunFile, StageSummary

__all__ = [
    "Character",
    "Evidence",
    "LeakItem",
    "Roadmap",
    "RoadmapItem",
    "build_roadmap",
    "library_of",
    "report_config_from",
]

Character = Literal["io", "cpu", "alloc", "threads", "unknown"]
_THREAD_WAIT_SHARE = 0.5  # "threads": at least this share of its sampled time waits on its own threads
_MIN_JUDGED_SHARE = 0.2  # the rest is judged I/O or CPU only when it is at least this share
_TOP_HOTSPOTS = 3
_MIN_HOTSPOT_SHARE = 0.01  # below 1% of a stage a function explains nothing about it


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
    parent: str | None = None  # a nested span's parent: "largest" then means longest of its siblings
    parent_share: float | None = None  # its mean as a share of its parent's


@dataclass(frozen=True, slots=True)
class RoadmapItem:
    """One span to work on: priority, evidence and the advice that fits it.

    A nested span (a sub-stage, a framework component, a marked block) is an item of its own when
    it dominates its parent item or misses its own target; it follows its parent in `Roadmap.items`
    with `depth` one more, and is never more urgent than the parent it explains.
    """

    stage: str
    kind: str
    priority: Priority
    evidence: Evidence
    advice: tuple[tuple[Rule, str], ...]
    depth: int = 0


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
    items = _items(run, None, None, config, rules) if run is not None else []
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


_ORDER = {"P0": 0, "P1": 1, "P2": 2}
# A nested span that takes less of its parent than this explains little of it, even when it is its longest child.
_MIN_PARENT_SHARE = 0.2


def _items(
    run: RunFile, parent: RoadmapItem | None, parent_path: str | None, config: ReportConfig, rules: tuple[Rule, ...]
) -> list[RoadmapItem]:
    """The items among the children of `parent_path` (top-level stages for None), each followed by its own.

    Siblings compete for "largest" (one pass over their columns). A child of an item explains it when
    it takes a real share of it; any span over its own target is an item wherever it is.
    """
    children = [info.path for info in run.stages if info.parent == parent_path]
    summaries = {s.path: s for s in run.summary.stages}
    spans = [summaries[p] for p in children if p in summaries and not summaries[p].skipped and summaries[p].n > 0]
    if not spans:
        return []
    winner = largest_stage(run.queries, children)
    found: list[tuple[RoadmapItem | None, StageSummary]] = []
    for span in spans:
        item = _item(run, span, winner == children.index(span.path), parent, config, rules)
        found.append((item, span))
    ranked = sorted(
        (item for item, _ in found if item is not None),
        key=lambda i: (_ORDER[i.priority], -i.evidence.affected_queries, -(i.evidence.share or 0.0)),
    )
    out: list[RoadmapItem] = []
    for item in ranked:
        out.append(item)
        out.extend(_items(run, item, item.stage, config, rules))
    # Spans under a child that is no item can still miss their own targets.
    for item, span in found:
        if item is None:
            out.extend(i for i in _items(run, None, span.path, config, rules) if i.evidence.over_target_queries)
    return out


def _item(
    run: RunFile,
    stage: StageSummary,
    winners: NDArray[np.bool_],
    parent: RoadmapItem | None,
    config: ReportConfig,
    rules: tuple[Rule, ...],
) -> RoadmapItem | None:
    table = run.queries
    n_ok = int(table.ok.sum())
    if not n_ok:
        return None
    nested = "." in stage.path
    if nested and (parent is None or (stage.parent_share or 0.0) < _MIN_PARENT_SHARE):
        winners = np.zeros(n_ok, dtype=bool)  # only its own target can make it an item
    spans = table.span(stage.path)[table.ok]
    over = (spans > stage.target_ms) if stage.target_ms is not None else np.zeros(n_ok, dtype=bool)
    affected = int((winners | over).sum())
    if affected == 0:
        return None
    evidence = _evidence(run, stage, config, int(winners.sum()), int(over.sum()), affected, affected / n_ok)
    context = _placeholders(stage.path, stage.kind, evidence)
    top_share = evidence.hotspots[0].share if evidence.hotspots else 0.0
    libraries = frozenset(library_of(h.file) for h in evidence.hotspots) if evidence.hotspots else None
    advice = tuple(
        (rule, _fill(rule.advice, context))
        for rule in rules
        if rule.applies(stage.kind, evidence.characters, top_share, libraries)
    )
    priority = _within_target(priority_for(evidence.fraction, config), stage, int(over.sum()))
    if parent is not None and _ORDER[priority] < _ORDER[parent.priority]:
        priority = parent.priority  # a part is never more urgent than the whole it explains
    depth = 0 if parent is None else parent.depth + 1
    return RoadmapItem(stage.path, stage.kind, priority, evidence, advice, depth=depth)


# A stage within its target is not what breaks the pipeline's: being the largest stage alone caps it.
_WELL_WITHIN = 0.5  # p95 under this share of the target: at most P2


def _within_target(priority: Priority, stage: StageSummary, over: int) -> Priority:
    """The share-based priority, capped for a stage that meets its own target: P1 within it, P2 well within."""
    if stage.target_ms is None or stage.p95 is None or (over and stage.p95 >= stage.target_ms):
        return priority
    cap: Priority = "P2" if stage.p95 < _WELL_WITHIN * stage.target_ms else "P1"
    return cap if _ORDER[priority] < _ORDER[cap] else priority


_SITE = re.compile(r"[/\\](?:site|dist)-packages[/\\]([^/\\]+)")
_STDLIB = re.compile(r"[/\\]lib[/\\]python3\.\d+[/\\]([^/\\]+)")


def library_of(file: str) -> str:
    """The package a frame's code is in: "torch", a stdlib module ("http"), "<built-in>", or "" for the user's own."""
    if file.startswith("<"):
        return "<built-in>"
    match = _SITE.search(file) or _STDLIB.search(file)
    if match is None:
        return ""
    return match.group(1).removesuffix(".py").split(".", 1)[0]


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
    # Waiting on the stage's own threads is neither I/O nor CPU: the threads' work is counted where it ran.
    # A stage that mostly waits so is judged by the rest only when the rest is a real part of it: a few
    # samples in a pool's bookkeeping would otherwise call a stage "I/O-bound" whose work is elsewhere.
    total = sum(h.self_value for h in timed)
    sampled = sum(h.self_value for h in timed if not h.on_threads)
    if total > 0 and (total - sampled) / total >= _THREAD_WAIT_SHARE:
        characters.add("threads")
    if sampled > 0 and sampled / total >= _MIN_JUDGED_SHARE:
        waiting_share = sum(h.self_value for h in timed if h.waiting and not h.on_threads) / sampled
        characters.add("io" if waiting_share >= config.io_wait_share else "cpu")
    n_ok = max(1, run.summary.n_queries - run.summary.n_failed)
    if allocs and sum(h.self_value for h in allocs) / n_ok / BYTES_PER_MB >= config.alloc_mb_per_query:
        characters.add("alloc")
    if not characters:
        characters.add("unknown")
    branch, branch_share = _slowest_branch(run, stage)
    parent = stage.path.rsplit(".", 1)[0] if "." in stage.path else None
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
        parent=parent,
        parent_share=stage.parent_share,
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
    return PLACEHOLDER.sub(lambda match: context.get(match.group(1), match.group(0)), template)
