"""User text in Markdown: names, notes, messages and paths stay text, never HTML, links or broken tables.

Stage and span names, notes, file names and rule text come from the user's pipeline and config;
a Markdown report is read on code hosts and in PR comments, so `<script>`, `[x](javascript:...)`
or a stray `|` must not become markup there.
"""

from __future__ import annotations

import re

__all__ = ["md_code", "md_text"]

# Backslash first so the escapes added here are not themselves escaped; & < > as entities (no raw HTML).
_ESCAPES = str.maketrans({"\\": "\\\\", "[": "\\[", "]": "\\]", "`": "\\`", "&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BACKTICKS = re.compile(r"`+")
_LINE_BREAK = re.compile(r"\s*[\r\n]+\s*")


def md_text(text: str) -> str:
    """User text as Markdown that shows it literally, on one line (tables escape their pipes themselves)."""
    return _LINE_BREAK.sub(" ", text).translate(_ESCAPES)


def md_code(text: str) -> str:
    """User text as a code span whose fence is longer than any run of backticks inside it."""
    text = _LINE_BREAK.sub(" ", text)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
