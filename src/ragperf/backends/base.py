"""The profiler backend interface: small on purpose (name, placement, availability, hooks, collect)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ragperf.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from ragperf.memory.peaks import WorkingPeaks
    from ragperf.schema.run import Artifact, Hotspot, StageInfo, StageProfile

__all__ = ["Backend", "BackendOutput", "OptionSpec", "Placement", "missing_profile", "require_module", "shell_command"]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

Placement = Literal["worker", "wrapper"]


def shell_command(*words: str | Path) -> str:
    """A command for the user to paste into a shell (an artifact's opener), each word quoted as needed."""
    return shlex.join(str(word) for word in words)


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One documented backend option: its type, default and what it does."""

    type: type[bool] | type[int] | type[float] | type[str]
    default: bool | int | float | str
    help: str


@dataclass(slots=True)
class BackendOutput:
    """What a backend adds to a run file after the worker has finished."""

    hotspots: list[Hotspot] = field(default_factory=list)
    profiles: list[StageProfile] = field(default_factory=list)  # per stage, the folded stacks with weights
    artifacts: list[Artifact] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. the profiler wrote nothing, or too few samples
    working: WorkingPeaks | None = None  # peak working memory per span execution, from the profiler's records


def missing_profile(backend: str, path: Path) -> BackendOutput:
    """What `collect` returns when the profiler left no file: no hotspots, and a warning that says so."""
    return BackendOutput(
        warnings=[
            f"{backend} wrote no profile ({path.name} is missing: the profiler failed or was stopped early, "
            f"see worker.log beside it); this run has no hotspots"
        ]
    )


class Backend:
    """A profiler backend.

    `placement = "worker"`: switched on inside the worker around the measured queries (`start`,
    `stop`). `placement = "wrapper"`: its program wraps the worker command (`wrap_command`), and it
    may still switch itself on in the worker. `collect` runs in the parent and turns the native
    artifact into schema objects. Heavy imports belong inside methods, never at module level.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    placement: ClassVar[Placement] = "worker"
    produces_profile: ClassVar[bool] = True  # False for a backend with nothing to collect (the timer)
    # A served worker (`ragperf compare`) waits between its blocks with the backend on: a profiler that samples
    # from outside (py-spy) would count those waits, so it says False and compare refuses it.
    servable: ClassVar[bool] = True
    # True: the worker marks each query and top-level stage in the profiler's record stream while it records
    # (ragperf.memory.marks), so `collect` can tell one stage execution from the next (memray's working peaks).
    marks_stages: ClassVar[bool] = False
    options_spec: ClassVar[Mapping[str, OptionSpec]] = {}

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = {key: spec.default for key, spec in self.options_spec.items()}
        for key, value in (options or {}).items():
            spec = self.options_spec.get(key)
            if spec is None:
                valid = ", ".join(self.options_spec) or "none"
                raise ConfigError(f"backend '{self.name}' has no option '{key}' (its options: {valid})")
            self.options[key] = _convert(self.name, key, value, spec)

    def check_available(self) -> None:
        """Raise BackendUnavailable (one line, with the fix) when this backend cannot run here."""

    def wrap_command(self, command: list[str], artifacts: Path) -> list[str]:  # noqa: ARG002 - for wrappers
        """The command that runs the worker; wrappers put their program in front."""
        return command

    def start(self, artifacts: Path) -> None:
        """Switch profiling on, in the worker, just before the first measured query."""

    def stop(self) -> None:
        """Switch profiling off, in the worker, just after the last measured query."""

    def collect(self, artifacts: Path, stages: Sequence[StageInfo]) -> BackendOutput:  # noqa: ARG002 - timer: nothing
        """Read the native artifact (in the parent) and normalise it; `stages` are the run's stages."""
        return BackendOutput()


def _convert(backend: str, key: str, value: Any, spec: OptionSpec) -> bool | int | float | str:
    """Give a command-line string (or a TOML value) the option's declared type."""
    if isinstance(value, spec.type) and not (spec.type is int and isinstance(value, bool)):
        return value
    text = str(value).strip().lower()
    try:
        if spec.type is bool:
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(text)
        return spec.type(value)
    except ValueError:
        kind = spec.type.__name__
        raise ConfigError(f"backend '{backend}' option '{key}' = {value!r}: expected a {kind}") from None


def require_module(module: str, distribution: str) -> None:
    """Raise BackendUnavailable, naming the pip command, when `module` is not importable here."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        msg = f"{distribution} is not installed in {sys.executable}; install it with 'pip install {distribution}'"
        raise BackendUnavailable(msg)
