"""The cProfile backend: deterministic call timing in the worker, attributed to stages by caller edges."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from ragperf.backends import Backend, BackendOutput, OptionSpec, shell_command
from ragperf.backends.attribution import OUTSIDE_STAGES, is_blocking_call
from ragperf.schema.run import Artifact, Hotspot
from ragperf.trampoline import stage_of_filename

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ragperf.schema.run import StageInfo

__all__ = ["CProfileBackend", "attribute_stats"]

PROFILE_FILE = "cprofile.prof"
_PASSES = 50  # fixed-point passes over the call graph; converges in (call depth) passes
_BUILTIN = re.compile(r"<(?:built-in method|method '([^']+)' of '([^']+)' objects)\s*([^>]*)>")

FuncKey = tuple[str, int, str]  # pstats' (file, line, function)


class CProfileBackend(Backend):
    """Every call timed by the standard library's cProfile, in the worker's main thread."""

    name = "cprofile"
    summary = "deterministic call timing (stdlib cProfile, main thread); stages via caller edges"
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {
        "builtins": OptionSpec(bool, True, "time C builtins as their own entries (cProfile builtins=)"),
    }

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._profile: Any = None
        self._artifacts: Path | None = None

    def start(self, artifacts: Path) -> None:
        """Enable cProfile on the worker's main thread."""
        import cProfile

        self._artifacts = artifacts
        self._profile = cProfile.Profile(builtins=bool(self.options["builtins"]))
        self._profile.enable()

    def stop(self) -> None:
        """Disable it and dump the pstats file beside the run file."""
        profile, self._profile = self._profile, None
        if profile is None or self._artifacts is None:
            return
        profile.disable()
        profile.dump_stats(str(self._artifacts / PROFILE_FILE))

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:  # noqa: ARG002
        """Load the pstats dump and attribute every function's time to stages."""
        path = artifacts / PROFILE_FILE
        if not path.exists():
            return BackendOutput()
        import pstats

        raw: dict[FuncKey, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
        return BackendOutput(
            hotspots=attribute_stats(raw, self.name),
            artifacts=[
                Artifact(
                    kind="cProfile stats", path=str(path), open_command=shell_command("python", "-m", "pstats", path)
                )
            ],
        )


def attribute_stats(stats: Mapping[FuncKey, Any], backend: str) -> list[Hotspot]:
    """Split each function's self and total time over stages, following caller edges (gprof's rule)."""
    weights = _stage_weights(stats)
    rows: list[tuple[str, FuncKey, float, float, int, bool]] = []
    totals: dict[str, float] = {}
    for key, (_cc, calls, self_s, total_s, _callers) in stats.items():
        if stage_of_filename(key[0]) is not None or "_lsprof.Profiler" in key[2]:
            continue  # the trampolines themselves, and cProfile's own disable()
        for stage, weight in weights[key].items():
            self_ms, total_ms = self_s * 1000.0 * weight, total_s * 1000.0 * weight
            rows.append((stage, key, self_ms, total_ms, round(calls * weight), _waits(key)))
            totals[stage] = totals.get(stage, 0.0) + self_ms
    rows.sort(key=lambda row: (-totals[row[0]], -row[2]))
    return [
        Hotspot(
            stage=stage,
            function=_function(key),
            file=key[0],
            line=key[1],
            self_value=self_ms,
            total_value=max(total_ms, self_ms),
            unit="ms",
            samples=None,
            count=None,
            share=self_ms / totals[stage] if totals[stage] > 0 else 0.0,
            waiting=waiting,
            backend=backend,
        )
        for stage, key, self_ms, total_ms, _calls, waiting in rows
        if self_ms > 0 or total_ms > 0
    ]


def _stage_weights(stats: Mapping[FuncKey, Any]) -> dict[FuncKey, dict[str, float]]:
    """Each function's fractions per stage: its callers' fractions weighted by each edge's time."""
    fixed = {key: {stage: 1.0} for key in stats if (stage := stage_of_filename(key[0])) is not None}
    weights: dict[FuncKey, dict[str, float]] = {key: {OUTSIDE_STAGES: 1.0} for key in stats}
    weights.update(fixed)
    for _ in range(_PASSES):
        changed = False
        for key, (_cc, _nc, _tt, _ct, callers) in stats.items():
            if key in fixed:
                continue
            mixed: dict[str, float] = {}
            for caller, edge in callers.items():
                if caller == key or caller not in weights:
                    continue
                carried = edge[3] if isinstance(edge, tuple) and edge[3] > 0 else _calls(edge)
                for stage, weight in weights[caller].items():
                    mixed[stage] = mixed.get(stage, 0.0) + carried * weight
            norm = sum(mixed.values())
            new = {stage: value / norm for stage, value in mixed.items()} if norm > 0 else {OUTSIDE_STAGES: 1.0}
            if new != weights[key]:
                weights[key], changed = new, True
        if not changed:
            break
    return weights


def _calls(edge: Any) -> float:
    return float(edge[1] if isinstance(edge, tuple) else edge)


def _function(key: FuncKey) -> str:
    """pstats names builtins `<built-in method time.sleep>`; give them their plain dotted name."""
    match = _BUILTIN.fullmatch(key[2])
    if match is None:
        return key[2]
    if match.group(1):
        return f"{match.group(2)}.{match.group(1)}"
    return match.group(3).strip()


def _waits(key: FuncKey) -> bool:
    return key[0] == "~" and is_blocking_call(_function(key))
