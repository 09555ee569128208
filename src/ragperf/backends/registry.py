"""Backend discovery: the `ragperf.backends` entry points, loaded lazily (see ragperf.plugins)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from ragperf.errors import BackendUnavailable
from ragperf.plugins import PluginEntry, discover

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ragperf.backends.base import Backend

__all__ = ["GROUP", "BackendEntry", "UnknownBackend", "available_backends", "load_backend"]

GROUP = "ragperf.backends"
BackendEntry = PluginEntry


class UnknownBackend(BackendUnavailable):
    """No backend is registered under that name (a typo, or a plugin not installed)."""


def available_backends() -> dict[str, BackendEntry]:
    """Every registered backend by name; two distributions claiming one name is a ConfigError."""
    return discover(GROUP, "backend")


def load_backend(name: str, options: Mapping[str, Any] | None = None) -> tuple[Backend, BackendEntry]:
    """Instantiate the backend called `name` with its options."""
    backends = available_backends()
    entry = backends.get(name)
    if entry is None:
        known = ", ".join(backends) or "none"
        close = difflib.get_close_matches(name, backends, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        msg = f"no backend named '{name}' (installed: {known}); {hint}run 'ragperf backends' to see what each needs"
        raise UnknownBackend(msg)
    cls: type[Backend] = entry.load("backend", BackendUnavailable)
    return cls(options), entry
