"""Profiler backends, discovered through the `ragperf.backends` entry-point group."""

from __future__ import annotations

from ragperf.backends.base import Backend, BackendOutput, OptionSpec, shell_command
from ragperf.backends.registry import BackendEntry, available_backends, load_backend

__all__ = [
    "Backend",
    "BackendEntry",
    "BackendOutput",
    "OptionSpec",
    "available_backends",
    "load_backend",
    "shell_command",
]
