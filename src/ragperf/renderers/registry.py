"""Renderer discovery: the `ragperf.renderers` entry points, loaded lazily (see ragperf.plugins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.errors import RagperfError
from ragperf.plugins import PluginEntry, discover

if TYPE_CHECKING:
    from ragperf.renderers.base import Renderer

__all__ = ["GROUP", "RendererEntry", "RendererUnavailable", "available_renderers", "load_renderer"]

GROUP = "ragperf.renderers"
RendererEntry = PluginEntry


class RendererUnavailable(RagperfError):
    """No renderer of that name, or it does not import."""


def available_renderers() -> dict[str, RendererEntry]:
    """Every registered renderer by name; two distributions claiming one name is a ConfigError."""
    return discover(GROUP, "format")


def load_renderer(name: str) -> Renderer:
    """An instance of the renderer called `name`."""
    renderers = available_renderers()
    entry = renderers.get(name)
    if entry is None:
        known = ", ".join(renderers) or "none"
        raise RendererUnavailable(f"no report format named '{name}'; choose one of: {known}")
    cls: type[Renderer] = entry.load("format", RendererUnavailable)
    return cls()
