"""The one tokenizer every component shares, tuned for Python API text."""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "identifiers", "tokenize"]

# Dotted identifiers stay whole ("os.path.join") and are also split into their parts.
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS = frozenset(
    {
        "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at",
        "be", "been", "being", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "done",
        "each", "else", "for", "from", "get", "gets", "had", "has", "have", "having", "how", "i", "if",
        "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not",
        "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same",
        "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these",
        "they", "this", "those", "through", "to", "too", "under", "until", "up", "use", "used", "uses",
        "using", "very", "want", "was", "way", "we", "were", "what", "when", "where", "which", "while",
        "who", "whom", "why", "will", "with", "would", "you", "your", "python"
    }
)  # fmt: skip


def _plural(word: str) -> str:
    # Plural folding only: full stemming mangles identifiers ("process" -> "proces").
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lowercased terms: words, identifier parts, and whole dotted names, minus stopwords."""
    out: list[str] = []
    for match in _WORD.finditer(text):
        raw = match.group()
        parts = raw.split(".")
        if len(parts) > 1:
            out.append(raw.lower())
        for part in parts:
            lower = part.lower()
            pieces = [p for p in lower.split("_") if p]
            if len(pieces) > 1:
                out.append(lower)
            elif part != lower and not part.isupper():
                camel = [c.lower() for c in _CAMEL.findall(part)]
                if len(camel) > 1:
                    out.append(lower)
                    pieces = camel
            for piece in pieces:
                if len(piece) > 1 and piece not in STOPWORDS:
                    out.append(_plural(piece))
    return out


def identifiers(text: str) -> list[str]:
    """Dotted or underscored identifiers as written ("json.loads", "os.path", "ensure_ascii")."""
    return [m.group() for m in _WORD.finditer(text) if "." in m.group() or "_" in m.group()]
