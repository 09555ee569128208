"""Backend discovery: entry points, loaded lazily; two plugins claiming one name is an error."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from ragperf.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ragperf.backends.base import Backend

__all__ = ["GROUP", "BackendEntry", "available_backends", "load_backend"]

GROUP = "ragperf.backends"


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """A registered backend before it is imported."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    entry_point: EntryPoint

    def load(self) -> type[Backend]:
        """Import the backend class (its profiler is imported later, when it starts)."""
        try:
            cls: type[Backend] = self.entry_point.load()
        except ImportError as exc:
            msg = f"backend '{self.name}' ({self.target}) does not import: {exc}; reinstall {self.distribution}"
            raise BackendUnavailable(msg) from None
        return cls


def available_backends() -> dict[str, BackendEntry]:
    """Every registered backend by name; raise ConfigError when two distributions claim one name."""
    found: dict[str, BackendEntry] = {}
    for ep in entry_points(group=GROUP):
        dist = ep.dist
        entry = BackendEntry(ep.name, ep.value, dist.name if dist else None, dist.version if dist else None, ep)
        other = found.get(ep.name)
        if other is not None and (other.target, other.distribution) != (entry.target, entry.distribution):
            msg = (
                f"backend '{ep.name}' is registered twice: by {other.distribution} ({other.target}) and by "
                f"{entry.distribution} ({entry.target}); uninstall one of them"
            )
            raise ConfigError(msg)
        found[ep.name] = entry
    return dict(sorted(found.items()))


def load_backend(name: str, options: Mapping[str, Any] | None = None) -> tuple[Backend, BackendEntry]:
    """Instantiate the backend called `name` with its options."""
    backends = available_backends()
    entry = backends.get(name)
    if entry is None:
        known = ", ".join(backends) or "none"
        msg = f"no backend named '{name}' (installed: {known}); run 'ragperf backends' to see what each needs"
        raise BackendUnavailable(msg)
    return entry.load()(options), entry
