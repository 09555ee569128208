"""What a dead worker's log says went wrong, in one line: the exception, not the decoration after it.

Python 3.11 ends a traceback with caret lines (`^^^^^^`) under the failing call, pydantic ends its
errors with a documentation link, and a worker killed mid-write leaves half a traceback; the
last line of the log is often none of what a user needs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["frame_of", "meaningful_line", "tail_of_log"]

_HEADER = "Traceback (most recent call last):"
_DECORATION = re.compile(r"^[\s^~\-=|]*$")
_NOTICES = ("For further information visit",)
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>\S+)')


def _noise(line: str) -> bool:
    return bool(_DECORATION.match(line)) or line.strip().startswith(_NOTICES)


def meaningful_line(lines: Sequence[str], *, traceback_only: bool = False) -> str | None:
    """The last traceback's exception line; else (unless `traceback_only`) the last line that is not decoration."""
    headers = [i for i, line in enumerate(lines) if line.strip() == _HEADER]
    if headers:
        # Frames are indented; the exception line is the first one at column 0 after the header.
        found = next((line for line in lines[headers[-1] + 1 :] if line[:1].strip() and not _noise(line)), None)
        if found is not None:
            return found.strip()
    if traceback_only:
        return None
    return next((line.strip() for line in reversed(lines) if not _noise(line)), None)


def frame_of(lines: Sequence[str]) -> str | None:
    """`file.py:12 in fetch` for the innermost frame of a traceback's lines, if one is there."""
    for line in reversed(lines):
        match = _FRAME.match(line)
        if match:
            name = match["file"].replace("\\", "/").rsplit("/", 1)[-1]
            return f"{name}:{match['line']} in {match['name']}"
    return None


def tail_of_log(path: Path, *, traceback_only: bool = False) -> str | None:
    """The meaningful line of a log file (None when it is missing or empty)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return meaningful_line(text.splitlines(), traceback_only=traceback_only)
