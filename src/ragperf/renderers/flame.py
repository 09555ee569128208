"""Flame graphs from a run's folded stacks: a call tree per stage, its hottest path, and the difference of two.

The tree merges a stage's stacks by frame (function and file), root first; a frame too narrow to
see (under `MIN_SHARE` of its stage) is left out, its weight still in its parent's. A frame is
marked waiting when most of its weight comes from stacks whose leaf was blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ragperf.renderers.content import Flame, FlameNode, Table, code, columns, inline, row, styled
from ragperf.renderers.format import fmt_amount, fmt_pct, short_path

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ragperf.schema.run import StageProfile

__all__ = [
    "MIN_SHARE",
    "PathStep",
    "describe",
    "differential",
    "flame_table",
    "hottest_path",
    "overview",
    "stage_flames",
    "tree",
]

MIN_SHARE = 0.004  # frames narrower than this share of their stage are not drawn (well under a pixel at 900 px)
_MAX_PATH = 10


@dataclass(slots=True)
class _Node:
    function: str
    file: str
    line: int
    weight: float = 0.0
    waiting: float = 0.0
    children: dict[tuple[str, str], _Node] = field(default_factory=dict)


def _merge(profile: StageProfile, scale: float, into: _Node) -> None:
    for stack in profile.stacks:
        node = into
        node.weight += stack.weight * scale
        for index in stack.frames:
            frame = profile.frames[index]
            key = (frame.function, frame.file)
            child = node.children.get(key)
            if child is None:
                child = node.children[key] = _Node(frame.function, frame.file, frame.line)
            child.weight += stack.weight * scale
            if stack.waiting:
                child.waiting += stack.weight * scale
            node = child


def _freeze(node: _Node, floor: float, before: _Node | None = None, *, diff: bool = False) -> FlameNode:
    keys = set(node.children) | (set(before.children) if before is not None else set())
    children = []
    for key in keys:
        mine = node.children.get(key)
        theirs = before.children.get(key) if before is not None else None
        if max(mine.weight if mine else 0.0, theirs.weight if theirs else 0.0) < floor:
            continue
        if mine is None:  # gone in the new run: drawn with no width, kept for the table of changes
            assert theirs is not None  # noqa: S101 - one of the two has the key
            mine = _Node(theirs.function, theirs.file, theirs.line)
        children.append(_freeze(mine, floor, theirs, diff=diff))
    children.sort(key=lambda c: (-c.weight, c.function))
    return FlameNode(
        function=node.function,
        file=node.file,
        line=node.line,
        weight=node.weight,
        waiting=node.waiting > node.weight / 2 if node.weight > 0 else False,
        children=tuple(children),
        before=(before.weight if before is not None else 0.0) if diff else None,
    )


def tree(profile: StageProfile, scale: float = 1.0) -> FlameNode:
    """A stage's call tree; the root is the stage itself, weighing the stage's whole total."""
    root = _Node(profile.stage, "", 0)
    _merge(profile, scale, root)
    root.weight = profile.total * scale  # stacks too small to keep still count in the stage
    return _freeze(root, root.weight * MIN_SHARE)


def stage_flames(profiles: Iterable[StageProfile]) -> list[Flame]:
    """A flame graph per stage that has sampled stacks (stages outside the pipeline's left out)."""
    out = []
    for profile in profiles:
        if profile.stage.startswith("<") or not profile.stacks or profile.total <= 0:
            continue
        root = tree(profile)
        what = "time" if profile.unit == "ms" else "allocated bytes"
        caption = (
            f"{profile.stage}: {fmt_amount(profile.total, profile.unit)} of sampled {what} over the measured queries "
            f"({profile.backend}); hover a frame for its function, file:line and share."
        )
        out.append(Flame(profile.stage, profile.unit, profile.total, root, caption))
    return out


def overview(profiles: Iterable[StageProfile]) -> Flame | None:
    """The whole run at a glance: every stage's time side by side under one root, each stage's tree below it."""
    timed = [p for p in profiles if p.unit == "ms" and not p.stage.startswith("<") and p.stacks and p.total > 0]
    if len(timed) < 2:
        return None
    total = sum(p.total for p in timed)
    stages = tuple(sorted((tree(p) for p in timed), key=lambda node: -node.weight))
    root = FlameNode("all stages", "", 0, total, children=stages)
    caption = (
        f"Every stage's sampled time side by side ({fmt_amount(total, 'ms')} in all); each stage's own flame "
        "graph below it. A nested stage (a sub-stage, a marked span) stands beside its parent."
    )
    return Flame("all stages", "ms", total, root, caption)


def differential(old: StageProfile | None, new: StageProfile, old_queries: int, new_queries: int) -> Flame:
    """The new run's flame graph of a stage, each frame with the baseline's weight, both per query."""
    new_root = _Node(new.stage, "", 0)
    _merge(new, 1.0 / max(new_queries, 1), new_root)
    new_root.weight = new.total / max(new_queries, 1)
    old_root = _Node(new.stage, "", 0)
    if old is not None:
        _merge(old, 1.0 / max(old_queries, 1), old_root)
        old_root.weight = old.total / max(old_queries, 1)
    floor = max(new_root.weight, old_root.weight) * MIN_SHARE
    root = _freeze(new_root, floor, old_root, diff=True)
    caption = (
        f"{new.stage}: the new run's frames, per query; red grew and blue shrank against the baseline "
        "(by time per query); hover a frame for both."
    )
    return Flame(new.stage, new.unit, new_root.weight, root, caption, differential=True)


@dataclass(frozen=True, slots=True)
class PathStep:
    """One frame of a stage's hottest path, with what its other callees take."""

    depth: int
    node: FlameNode
    share: float
    others: int
    others_share: float


def hottest_path(flame: Flame, limit: int = _MAX_PATH) -> list[PathStep]:
    """From the stage down, the heaviest callee at each level: where the stage's time (or memory) goes."""
    steps: list[PathStep] = []
    node = flame.root
    total = flame.total or 1.0
    depth = 0
    while node.children and depth < limit:
        best = node.children[0]
        rest: Sequence[FlameNode] = node.children[1:]
        steps.append(PathStep(depth, best, best.weight / total, len(rest), sum(c.weight for c in rest) / total))
        node = best
        depth += 1
    return steps


def describe(flame: Flame, node: FlameNode) -> str:
    """A frame's hover text: function, file:line, its share of the stage, and whether it waited."""
    where = f"{node.file}:{node.line}" if node.file else "the stage"
    share = fmt_pct(node.weight / flame.total) if flame.total else "-"
    text = f"{node.function} ({where}): {fmt_amount(node.weight, flame.unit)}, {share} of {flame.stage}"
    if node.before is not None:
        text += (
            f"; baseline {fmt_amount(node.before, flame.unit)}, change {_signed(node.weight - node.before, flame.unit)}"
        )
    return text + (" (waiting)" if node.waiting else "")


def _signed(value: float, unit: str) -> str:
    return ("+" if value >= 0 else "-") + fmt_amount(abs(value), unit)


def flame_table(flame: Flame) -> Table:
    """A flame graph where it cannot be drawn: its hottest path, one frame a row, each with its callers' rest."""
    cols = columns("<hottest path", "<where", "share of stage|share", "other callees|others")
    rows = []
    for step in hottest_path(flame):
        node = step.node
        lead = " " * min(step.depth - 1, 8) + "└ " if step.depth else ""
        name = inline(lead, code(node.function), styled(" waiting", "warn") if node.waiting else "")
        where = f"{short_path(node.file, 2)}:{node.line}" if node.file else ""
        change = ""
        if node.before is not None:
            change = f" ({_signed(node.weight - node.before, flame.unit)})"
        others = f"{step.others} ({fmt_pct(step.others_share)})" if step.others else ""
        rows.append(row(name, code(where, node.file), fmt_pct(step.share) + change, others))
    what = "time" if flame.unit == "ms" else "memory"
    return Table(f"{flame.stage}: where its {what} goes ({fmt_amount(flame.total, flame.unit)})", cols, tuple(rows))
