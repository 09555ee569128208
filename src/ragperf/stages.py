"""The stages a run file lists: configured stages and sub-stages in order, then the spans seen running.

Spans seen running are framework components and blocks marked in code: each is listed under its
parent, siblings in the order they started in the first query they ran in.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from ragperf.schema.run import StageInfo

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ragperf.config import Config
    from ragperf.engine.events import SpanPath

__all__ = ["stage_infos", "unmatched_span_targets"]


def stage_infos(
    config: Config, seen_paths: Iterable[str] = (), seen: Mapping[str, SpanPath] | None = None
) -> list[StageInfo]:
    """Configured stages and sub-stages in order, then the spans seen running, under their parents.

    `seen` gives a seen path's kind and start (from the worker); without it, kind "other" and
    alphabetical order.
    """
    seen = seen or {}
    span_targets = config.targets.spans
    infos: list[StageInfo] = []
    for stage in config.all_stages:
        infos.append(
            StageInfo(
                path=stage.name,
                parent=None,
                kind=stage.kind,
                call=stage.call,
                target_ms=stage.target_ms or span_targets.get(stage.name),
                enabled=stage.enabled,
            )
        )
        for sub in stage.parallel or ():
            infos.append(
                StageInfo(
                    path=f"{stage.name}.{sub.name}",
                    parent=stage.name,
                    kind=stage.kind,
                    call=sub.call,
                    target_ms=sub.target_ms or span_targets.get(f"{stage.name}.{sub.name}"),
                    enabled=stage.enabled and sub.enabled,
                )
            )
        if stage.merge is not None:
            infos.append(
                StageInfo(
                    path=f"{stage.name}.merge",
                    parent=stage.name,
                    kind=stage.kind,
                    call=stage.merge,
                    target_ms=span_targets.get(f"{stage.name}.merge"),
                    enabled=stage.enabled,
                )
            )
    known = {info.path for info in infos}
    unknown = sorted(set(seen_paths) - known)
    for path in sorted(unknown, key=lambda p: seen[p].start_ns if p in seen else 0):  # stable: ties stay by name
        parent = path.rsplit(".", 1)[0] if "." in path else None
        kind = seen[path].kind if path in seen else None
        target = span_targets.get(path)
        infos.append(
            StageInfo(path=path, parent=parent, kind=kind or "other", call=None, target_ms=target, enabled=True)
        )
    return _parents_first(infos)


def _parents_first(infos: list[StageInfo]) -> list[StageInfo]:
    """Order so every span follows its parent (marked spans land under the stage they ran in)."""
    children: dict[str | None, list[StageInfo]] = {}
    for info in infos:
        children.setdefault(info.parent, []).append(info)
    ordered: list[StageInfo] = []

    def visit(parent: str | None) -> None:
        for info in children.get(parent, []):
            ordered.append(info)
            visit(info.path)

    visit(None)
    placed = {info.path for info in ordered}
    return ordered + [info for info in infos if info.path not in placed]


def unmatched_span_targets(config: Config, infos: Iterable[StageInfo]) -> list[str]:
    """A warning per `[targets.spans]` path that no span of the run has (a typo, or a span that never ran)."""
    known = [info.path for info in infos]
    out = []
    for path in config.targets.spans:
        if path in known:
            continue
        close = difflib.get_close_matches(path, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        out.append(f"targets.spans names '{path}', which no span of this run has{hint}")
    return out
