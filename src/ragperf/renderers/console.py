"""The one way ragperf makes a rich Console, and the styled pieces its terminal output shares.

User text (stage names, error messages holding prompts such as ``[INST] ... [/INST]``, notes,
file names) reaches every console, so no console interprets markup or ``:emoji:`` codes: text
prints as given, and ragperf's own styling goes through `rich.text.Text` and styles.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.text import Text

__all__ = ["make_console", "verdict_text"]

_TARGET_STYLE = {"PASS": "green", "FAIL": "bold red", "n/a": "dim"}


def make_console(*, stderr: bool = False, file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console that prints text literally; writing to `file` gives plain text (no colour codes)."""
    if file is None:
        return Console(stderr=stderr, width=width, markup=False, emoji=False, highlight=False)
    # Never a terminal, whatever FORCE_COLOR says: a file gets no escape codes.
    return Console(
        file=file, width=width, markup=False, emoji=False, highlight=False, force_terminal=False, color_system=None
    )


def verdict_text(verdict: str) -> Text:
    """A PASS / FAIL / n/a verdict in its colour."""
    return Text(verdict, style=_TARGET_STYLE.get(verdict, ""))
