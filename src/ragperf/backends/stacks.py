"""Folded stacks per stage, bounded for the run file: what a flame graph of each stage is drawn from.

Every backend's weighted stacks pass through `HotspotBuilder.add`, which hands each stage's own
frames here. A stack is folded by function and file (the executing line varies from sample to
sample; the frame keeps its costliest line). The run file keeps the heaviest stacks of each
stage, trimmed in depth, so its size does not grow with the number of queries or samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from ragperf.schema.run import ProfileFrame, ProfileStack, StageProfile

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MAX_DEPTH", "MAX_STACKS", "StackFolder"]

MAX_STACKS = 300  # distinct stacks kept per stage: a flame graph of more shows nothing a reader can see
MAX_DEPTH = 40  # frames kept per stack (outermost first): deeper frames fold into their ancestor

_FrameKey = tuple[str, str]  # function, file


class Frame(Protocol):
    """What a stack's frame gives here (`attribution.Frame`): named apart so this module needs no backend code."""

    @property
    def function(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...


@dataclass(slots=True)
class _Stage:
    weights: dict[tuple[tuple[_FrameKey, ...], bool], float] = field(default_factory=dict)
    lines: dict[_FrameKey, dict[int, float]] = field(default_factory=dict)
    total: float = 0.0


class StackFolder:
    """Accumulate each stage's stacks (root first, the stage's own frames) with their weights."""

    def __init__(self, backend: str, unit: Literal["ms", "bytes"]) -> None:
        self.backend = backend
        self.unit = unit
        self._stages: dict[str, _Stage] = {}

    def add(self, stage: str, own: Sequence[Frame], value: float, *, waiting: bool) -> None:
        """Count `value` for one stack of `stage`; an empty stack is the stage's own time (the trampoline)."""
        acc = self._stages.setdefault(stage, _Stage())
        acc.total += value
        keys = tuple((f.function, f.file) for f in own[:MAX_DEPTH])
        acc.weights[keys, waiting] = acc.weights.get((keys, waiting), 0.0) + value
        for frame, key in zip(own, keys, strict=False):
            lines = acc.lines.setdefault(key, {})
            lines[frame.line] = lines.get(frame.line, 0.0) + value

    def profiles(self, max_stacks: int = MAX_STACKS) -> list[StageProfile]:
        """Each stage's heaviest stacks, stages by total weight, largest first."""
        out = []
        for stage in sorted(self._stages, key=lambda s: -self._stages[s].total):
            acc = self._stages[stage]
            ranked = sorted(acc.weights.items(), key=lambda item: -item[1])
            kept = [(keys, waiting, weight) for (keys, waiting), weight in ranked[:max_stacks] if keys]
            index: dict[_FrameKey, int] = {}
            for keys, _, _ in kept:
                for key in keys:
                    index.setdefault(key, len(index))
            frames = tuple(
                ProfileFrame(function=k[0], file=k[1], line=max(acc.lines[k], key=acc.lines[k].__getitem__))
                for k in index
            )
            stacks = tuple(
                ProfileStack(frames=tuple(index[k] for k in keys), weight=weight, waiting=waiting)
                for keys, waiting, weight in kept
            )
            out.append(
                StageProfile(
                    stage=stage,
                    unit=self.unit,
                    backend=self.backend,
                    total=acc.total,
                    frames=frames,
                    stacks=stacks,
                    dropped=max(0, len(ranked) - max_stacks),
                )
            )
        return out
