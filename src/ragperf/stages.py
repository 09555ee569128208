"""The stages a run file lists: configured stages and sub-stages in order, then spans marked in code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.schema.run import StageInfo

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ragperf.config import Config

__all__ = ["stage_infos"]


def stage_infos(config: Config, seen_paths: Iterable[str] = ()) -> list[StageInfo]:
    """Configured stages and sub-stages in order, then spans marked in user code under them."""
    infos: list[StageInfo] = []
    for stage in config.stages:
        infos.append(
            StageInfo(
                path=stage.name,
                parent=None,
                kind=stage.kind,
                call=stage.call,
                target_ms=stage.target_ms,
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
                    target_ms=None,
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
                    target_ms=None,
                    enabled=stage.enabled,
                )
            )
    known = {info.path for info in infos}
    for path in sorted(set(seen_paths) - known):
        parent = path.rsplit(".", 1)[0] if "." in path else None
        infos.append(StageInfo(path=path, parent=parent, kind="other", call=None, target_ms=None, enabled=True))
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
