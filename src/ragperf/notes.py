"""`ragperf.note(text)`: a line the pipeline wants its user to read, carried into the run file.

A pipeline says here what the numbers cannot (the demo: "generation talks to a latency
simulator"). Outside a ragperf worker a note goes nowhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["install_sink", "note"]

_sink: Callable[[str], None] | None = None


def install_sink(sink: Callable[[str], None] | None) -> None:
    """Where notes go (the worker's stream); None drops them. Called by the worker only."""
    global _sink  # noqa: PLW0603 - one process-wide destination
    _sink = sink


def note(text: str) -> None:
    """Add a line to the run's notes, shown under the summary and kept in the run file."""
    if _sink is not None:
        _sink(str(text))
