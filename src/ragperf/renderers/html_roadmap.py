"""The HTML roadmap: one card per item (evidence, then advice), P0 first, then the quick wins."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from ragperf.renderers.format import fmt_ms, fmt_pct
from ragperf.renderers.sections import PRIORITY_TITLES, character_text, largest_text

if TYPE_CHECKING:
    from ragperf.analysis.roadmap import LeakItem, Roadmap, RoadmapItem

__all__ = ["badge", "roadmap_html"]


def badge(verdict: str) -> str:
    """A coloured PASS/FAIL/n/a label."""
    css = "na" if verdict == "n/a" else verdict
    return f'<span class="badge {css}">{escape(verdict)}</span>'


def roadmap_html(roadmap: Roadmap) -> str:
    """The roadmap as cards, by priority, with the quick wins after them."""
    if not roadmap.items and roadmap.leak is None:
        return "<p>Nothing to fix: no stage was a bottleneck or over its target.</p>"
    cfg = roadmap.config
    out = [
        f'<p class="note">A stage affects a query when it was the largest stage or over its target. P0: more than '
        f"{fmt_pct(cfg.p0_fraction)} of queries; P1: from {fmt_pct(cfg.p1_fraction)}; P2: the rest.</p>"
    ]
    order = {"P0": 0, "P1": 1, "P2": 2}
    cards = [(order[item.priority], 1, _item(item)) for item in roadmap.items]
    if roadmap.leak is not None:
        cards.append((order[roadmap.leak.priority], 0, _leak_item(roadmap.leak)))
    out += [card for _, _, card in sorted(cards, key=lambda c: (c[0], c[1]))]
    if roadmap.quick_wins:
        wins = "".join(
            f"<li><strong>{escape(rule.title)}</strong> ({escape(item.stage)}, {item.priority}): {escape(text)}</li>"
            for item, rule, text in roadmap.quick_wins
        )
        out.append(f"<h3>Quick wins</h3><ul>{wins}</ul>")
    return "".join(out)


def _item(item: RoadmapItem) -> str:
    e = item.evidence
    target = (
        f"p95 {fmt_ms(e.p95)} ms against {fmt_ms(e.target_ms)} ms {badge(e.verdict)}, over target in "
        f"{e.over_target_queries} queries"
        if e.target_ms is not None
        else f"p95 {fmt_ms(e.p95)} ms (no target)"
    )
    facts = [
        f"{fmt_pct(e.fraction)} of queries affected; {escape(largest_text(e))}",
        f"{fmt_pct(e.share)} of the mean pipeline time",
        target,
        f"character: {escape(character_text(e))}",
    ]
    if e.slowest_branch is not None:
        facts.append(f"slowest branch: {escape(e.slowest_branch)} ({fmt_pct(e.slowest_branch_share)} of the stage)")
    if e.hotspots:
        facts.append(
            "hotspots: " + ", ".join(f"<code>{escape(h.function)}</code> {fmt_pct(h.share)}" for h in e.hotspots)
        )
    return _card(item, facts)


def _leak_item(item: LeakItem) -> str:
    target = "" if item.target is None else f" against {item.target:g} MB/iter {badge(item.verdict)}"
    slope = "-" if item.slope is None else f"{item.slope:+.3f}"
    facts = [f"{escape(item.message.rstrip('.'))}", f"slope {slope} MB per query{target}"]
    if item.site is not None:
        facts.append(f"growing allocation site: <code>{escape(item.site)}</code>")
    return _card(item, facts)


def _card(item: RoadmapItem | LeakItem, facts: list[str]) -> str:
    """A roadmap card: priority, stage, the facts behind it, and the advice."""
    advice = "".join(
        f"<li><strong>{escape(rule.title)}</strong> <small>(effort {rule.effort})</small>: {escape(text)}</li>"
        for rule, text in item.advice
    )
    title = f"{_badge_prio(item.priority)} {escape(item.stage)} <small>({escape(item.kind)})</small>"
    return (
        f'<div class="item {item.priority}"><h3>{title}</h3><ul>'
        + "".join(f"<li>{f}</li>" for f in facts)
        + f"</ul><strong>Advice</strong><ul>{advice}</ul></div>"
    )


def _badge_prio(priority: str) -> str:
    return f'<span class="badge {priority}">{priority}</span> <small>{PRIORITY_TITLES[priority]}</small>'
