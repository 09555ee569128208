"""Entry-point discovery shared by every plugin kind (backends, renderers).

Built-ins register through the same groups as third-party packages. Discovery reads metadata
only; a plugin's module is imported when it is chosen. Two distributions claiming one name is
an error that names both.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ragperf.errors import ConfigError, RagperfError

__all__ = ["PluginEntry", "discover"]


@dataclass(frozen=True, slots=True)
class PluginEntry:
    """A registered plugin before it is imported."""

    name: str
    target: str
    distribution: str | None
    version: str | None
    entry_point: EntryPoint

    def load(self, noun: str = "plugin", error: type[RagperfError] = RagperfError) -> Any:
        """Import the plugin's object; a broken install is `error` with a one-line fix."""
        try:
            return self.entry_point.load()
        except ImportError as exc:
            msg = f"{noun} '{self.name}' ({self.target}) does not import: {exc}; reinstall {self.distribution}"
            raise error(msg) from None


def discover(group: str, noun: str) -> dict[str, PluginEntry]:
    """Every plugin of `group` by name; raise ConfigError when two distributions claim one name."""
    found: dict[str, PluginEntry] = {}
    for ep in entry_points(group=group):
        dist = ep.dist
        entry = PluginEntry(ep.name, ep.value, dist.name if dist else None, dist.version if dist else None, ep)
        other = found.get(ep.name)
        if other is not None and (other.target, other.distribution) != (entry.target, entry.distribution):
            msg = (
                f"{noun} '{ep.name}' is registered twice: by {other.distribution} ({other.target}) and by "
                f"{entry.distribution} ({entry.target}); uninstall one of them"
            )
            raise ConfigError(msg)
        found[ep.name] = entry
    return dict(sorted(found.items()))
