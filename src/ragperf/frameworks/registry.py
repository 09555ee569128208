"""Adapter discovery (entry-point group `ragperf.frameworks`) and activation in the worker.

Activation runs after the pipeline's setup, when its imports are done: every adapter whose
framework module is in `sys.modules` installs its hooks, unless the config turns it off.
Loading an adapter imports only its own module, which imports nothing of its framework.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ragperf.errors import ConfigError
from ragperf.plugins import PluginEntry, discover

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from ragperf.frameworks.base import FrameworkAdapter

__all__ = ["GROUP", "activate", "adapter_for", "available_frameworks", "deactivate", "load_adapter"]

GROUP = "ragperf.frameworks"


def available_frameworks() -> dict[str, PluginEntry]:
    """Every registered adapter by name; two distributions claiming one name is a ConfigError."""
    return discover(GROUP, "framework adapter")


def load_adapter(entry: PluginEntry) -> FrameworkAdapter:
    """Import and instantiate one adapter."""
    cls: type[FrameworkAdapter] = entry.load("framework adapter", ConfigError)
    return cls()


def activate(*, enabled: bool = True, disable: Collection[str] = ()) -> list[FrameworkAdapter]:
    """Install the hooks of every adapter not disabled whose framework the pipeline imported.

    `enabled` and `disable` are the config's `[frameworks]` table (taken apart: the config imports this module).
    """
    if not enabled:
        return []
    active = []
    for name, entry in available_frameworks().items():
        if name in disable:
            continue
        adapter = load_adapter(entry)
        if adapter.module in sys.modules:
            adapter.install()
            active.append(adapter)
    return active


def deactivate(adapters: Iterable[FrameworkAdapter]) -> None:
    """Uninstall adapters, the last installed first."""
    for adapter in reversed(list(adapters)):
        adapter.uninstall()


def adapter_for(obj: object, key: str) -> FrameworkAdapter:
    """The adapter whose framework `obj` belongs to; `key` names the config entry in the error."""
    entries = available_frameworks()
    for entry in entries.values():
        adapter = load_adapter(entry)
        if adapter.module in sys.modules and adapter.owns(obj):
            return adapter
    known = ", ".join(entries) or "none installed"
    msg = (
        f"{key}: the factory returned a {type(obj).__module__}.{type(obj).__qualname__}, which no framework "
        f"adapter runs (adapters: {known}); return a LangChain runnable, a LlamaIndex query engine or a "
        "Haystack pipeline, or list [[stages]] instead"
    )
    raise ConfigError(msg)
