"""The roadmap's content: one card per item with the evidence behind it, P0 first, the leak merged in.

The analysis (`analysis/roadmap.py`) decides each item's priority and advice; this lays its
evidence out in words, once, for every format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.content import Card, ListBlock, Para, Section, Sub, badge, code, inline, strong, styled
from ragperf.renderers.format import fmt_ms, fmt_pct

if TYPE_CHECKING:
    from ragperf.analysis.roadmap import Evidence, LeakItem, Roadmap, RoadmapItem
    from ragperf.renderers.content import Block, Inline, Span
    from ragperf.report_rules import Rule

__all__ = ["PRIORITY_TITLES", "character", "leak_card", "roadmap_section"]

PRIORITY_TITLES = {"P0": "must fix", "P1": "should fix", "P2": "nice to have"}
_PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2}


def _slope(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def roadmap_section(roadmap: Roadmap) -> Section:
    """The roadmap: one card per item, P0 first (a leak first within its priority), then the quick wins."""
    cfg = roadmap.config
    intro = Para(
        inline(
            "A stage affects a query when it had the largest share of the query's time or ran over its target. "
            f"P0: more than {fmt_pct(cfg.p0_fraction)} of queries; P1: {fmt_pct(cfg.p1_fraction)} to "
            f"{fmt_pct(cfg.p0_fraction)}; P2: the rest. A stage within its own target is at most P1, "
            "under half of it P2."
        ),
        "note",
    )
    if not roadmap.items and roadmap.leak is None:
        return Section(
            "roadmap",
            "Optimisation roadmap",
            (
                intro,
                Para(inline("Nothing to fix: no stage was a bottleneck or over its target.")),
            ),
        )
    cards = [(_PRIORITY_ORDER[i.priority], 1, n, _card(i)) for n, i in enumerate(roadmap.items)]
    if roadmap.leak is not None:
        cards.append((_PRIORITY_ORDER[roadmap.leak.priority], 0, 0, leak_card(roadmap.leak)))
    blocks: list[Block] = [intro]
    ordered = [card for *_, card in sorted(cards, key=lambda c: c[:3])]
    for priority in ("P0", "P1", "P2"):
        mine = tuple(card for card in ordered if card.priority == priority)
        if mine:
            blocks.append(Sub(f"{priority}: {PRIORITY_TITLES[priority]}", mine))
    wins = tuple(
        inline(badge(item.priority), " ", item.stage, ": ", strong(rule.title), f": {text}")
        for item, rule, text in roadmap.quick_wins
    )
    blocks.append(
        Sub(
            "Quick wins",
            (ListBlock(wins),)
            if wins
            else (Para(inline("None: no small-effort advice applies to a P0 or P1 stage.")),),
        )
    )
    return Section("roadmap", "Optimisation roadmap", tuple(blocks))


def _largest(e: Evidence) -> str:
    if e.parent is None:
        return f"largest stage in {e.bottleneck_queries} of {e.queries} queries"
    return (
        f"longest part of {e.parent} in {e.bottleneck_queries} of {e.queries} queries, "
        f"{fmt_pct(e.parent_share)} of its time"
    )


def character(e: Evidence) -> str:
    """What the stage's profile says it does: waits, computes, allocates; unknown only without a profile."""
    parts = []
    if "io" in e.characters:
        parts.append(f"waits on I/O ({fmt_pct(e.waiting_share)} of its sampled time spent waiting)")
    if "cpu" in e.characters:
        parts.append(f"computes ({fmt_pct(e.waiting_share)} of its sampled time waiting)")
    if "alloc" in e.characters:
        parts.append("allocation-heavy")
    if "threads" in e.characters:
        parts.append("mostly waits on its own threads (the work runs on them)")
    if parts:
        return ", ".join(parts)
    if e.hotspots and all(h.unit == "bytes" for h in e.hotspots):
        return "allocates moderately; a memory profile only, so waiting or computing is not known"
    if e.hotspots:
        return "too few samples of its own time to tell waiting from computing"
    return "unknown (no function-level profile for this stage: run with a profiling backend)"


def _card(item: RoadmapItem) -> Card:
    e = item.evidence
    target: Inline = (
        inline(
            f"p95 {fmt_ms(e.p95)} ms against a {fmt_ms(e.target_ms)} ms target ",
            badge(e.verdict),
            f"; over target in {e.over_target_queries} queries",
        )
        if e.target_ms is not None
        else inline(f"p95 {fmt_ms(e.p95)} ms, no target set")
    )
    facts = [
        inline(f"{e.affected_queries} of {e.queries} queries affected ({fmt_pct(e.fraction)}); {_largest(e)}"),
        inline(f"{fmt_pct(e.share)} of the mean pipeline time"),
        target,
        inline(f"What it does: {character(e)}"),
    ]
    if e.slowest_branch is not None:
        facts.append(inline(f"Slowest branch: {e.slowest_branch} ({fmt_pct(e.slowest_branch_share)} of the stage)"))
    if e.hotspots:
        spots: list[Span | str] = ["Hottest functions: "]
        for n, h in enumerate(e.hotspots):
            spots += [", " if n else "", code(h.function), f" {fmt_pct(h.share)}"]
        facts.append(inline(*spots))
    title = inline(("↳ " if item.depth else "") + item.stage, styled(f" ({item.kind})", "dim"))
    return Card(item.priority, title, tuple(facts), _advice(item.advice), item.depth)


def leak_card(item: LeakItem) -> Card:
    """The leak as a roadmap card."""
    target = (
        inline(f"against a target of {item.target:g} MB/iter ", badge(item.verdict))
        if item.target is not None
        else inline("no leak target set")
    )
    facts = [inline(item.message.rstrip(".")), inline(f"grows {_slope(item.slope)} MB per query, ", target)]
    if item.site is not None:
        facts.append(inline("Growing allocation site: ", code(item.site)))
    title = inline(item.stage, styled(f" ({item.kind})", "dim"))
    return Card(item.priority, title, tuple(facts), _advice(item.advice))


def _advice(advice: tuple[tuple[Rule, str], ...]) -> tuple[Inline, ...]:
    # A rule's title and text may come from the user's own [report] rules: spans, escaped by every format.
    return tuple(
        inline(strong(rule.title), styled(f" (effort {rule.effort})", "dim"), f": {text}") for rule, text in advice
    )
