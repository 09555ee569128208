"""Query rewriting: normalization plus abbreviation and synonym expansion from a shipped table."""

from __future__ import annotations

import json
import re
from importlib import resources

__all__ = ["QueryRewriter", "load_synonyms"]

SYNONYMS = "synonyms.json"
_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*")


def load_synonyms() -> dict[str, list[str]]:
    """The shipped expansion table: lowercase term -> extra terms to add."""
    raw = resources.files("ragperf_demo").joinpath("data").joinpath(SYNONYMS).read_text(encoding="utf-8")
    table: dict[str, list[str]] = json.loads(raw)
    return {k.lower(): v for k, v in table.items()}


class QueryRewriter:
    """Appends expansions for known abbreviations/synonyms; the original words stay first."""

    def __init__(self, synonyms: dict[str, list[str]]) -> None:
        self.synonyms = synonyms

    def __call__(self, query: str) -> str:
        """The query, whitespace-normalized, followed by the expansions it triggers (deduplicated)."""
        words = " ".join(query.split())
        seen = {w.lower() for w in _TERM.findall(words)}
        extra: list[str] = []
        for word in _TERM.findall(words):
            for expansion in self.synonyms.get(word.lower().rstrip(".-+"), ()):
                if expansion.lower() not in seen:
                    seen.add(expansion.lower())
                    extra.append(expansion)
        return words if not extra else f"{words} ({' '.join(extra)})"
