"""The shipped query set: hand-written questions plus questions derived from docstrings.

`python -m ragperf_demo.queries` rewrites data/queries.jsonl: it keeps the hand-written records
(source "hand") and re-derives the rest from the current interpreter's corpus.
"""

from __future__ import annotations

import json
import random
import re
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragperf_demo.corpus import Corpus

__all__ = ["QUERIES", "derive_queries", "load_queries", "main"]

QUERIES = "queries.jsonl"
DERIVED_COUNT = 60
SEED = 20240611
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(\s|$)", re.DOTALL)
# Leading docstring verb -> question template; {rest} is the sentence after the verb.
_TEMPLATES = (
    ("Return True if ", "How can I check if {rest}?"),
    ("Return true if ", "How can I check if {rest}?"),
    ("Returns True if ", "How can I check if {rest}?"),
    ("Test whether ", "How can I test whether {rest}?"),
    ("Return ", "How do I get {rest}?"),
    ("Returns ", "How do I get {rest}?"),
    ("Get ", "How do I get {rest}?"),
    ("Create ", "How can I create {rest}?"),
    ("Convert ", "How do I convert {rest}?"),
    ("Compute ", "How do I compute {rest}?"),
    ("Remove ", "How do I remove {rest}?"),
    ("Read ", "How do I read {rest}?"),
    ("Write ", "How do I write {rest}?"),
    ("Open ", "How do I open {rest}?"),
    ("Parse ", "How do I parse {rest}?"),
    ("Encode ", "How do I encode {rest}?"),
    ("Decode ", "How do I decode {rest}?"),
    ("Set ", "How do I set {rest}?"),
    ("Send ", "How do I send {rest}?"),
    ("Wait ", "How do I wait {rest}?"),
    ("Change ", "How do I change {rest}?"),
    ("Copy ", "How do I copy {rest}?"),
    ("Make ", "How do I make {rest}?"),
    ("Format ", "How do I format {rest}?"),
    ("Split ", "How do I split {rest}?"),
)


def load_queries() -> list[dict[str, Any]]:
    """The shipped query records: {"id", "query", "expected"?, "source"}."""
    raw = resources.files("ragperf_demo").joinpath("data").joinpath(QUERIES).read_text(encoding="utf-8")
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _question(sentence: str) -> str | None:
    for prefix, template in _TEMPLATES:
        if sentence.startswith(prefix):
            rest = sentence[len(prefix) :].rstrip(".!? ")
            return template.format(rest=rest)
    return None


def derive_queries(corpus: Corpus, count: int, seed: int = SEED, skip: set[str] | None = None) -> list[dict[str, str]]:
    """Questions made from first sentences of function/method docstrings in popular modules."""
    from ragperf_demo.corpus import PRIORITY_MODULES

    skip = skip or set()
    popular = set(PRIORITY_MODULES)
    sentences: dict[str, int] = {}
    candidates: list[tuple[str, str, str]] = []
    for p in corpus.passages:
        if p.id != p.entity or p.kind not in ("function", "method") or p.module not in popular:
            continue
        match = _FIRST_SENTENCE.match(" ".join(p.text.split()))
        if not match:
            continue
        sentence = match.group(1)
        sentences[sentence] = sentences.get(sentence, 0) + 1
        words = sentence.split()
        # Plain prose only: markup, call syntax and self-references make unnatural questions.
        if not 6 <= len(words) <= 18 or any(ch in sentence for ch in "`()[]{}*=<>|+") or "self" in words:
            continue
        question = _question(sentence)
        if question and p.id not in skip:
            candidates.append((p.id, question, sentence))
    # A sentence shared by several entities has no single right answer.
    unique = [(pid, q) for pid, q, sentence in candidates if sentences[sentence] == 1]
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    picked = rng.sample(unique, min(count, len(unique)))
    picked.sort()
    return [{"query": q, "expected": pid, "source": "docstring"} for pid, q in picked]


def main(argv: list[str] | None = None) -> int:
    """Regenerate data/queries.jsonl next to this module (hand-written records are kept)."""
    from ragperf_demo.corpus import load_corpus

    argv = sys.argv[1:] if argv is None else argv
    path = Path(__file__).with_name("data") / QUERIES
    hand = [r for r in load_queries() if r.get("source") == "hand"]
    corpus = load_corpus()
    derived = derive_queries(corpus, DERIVED_COUNT, skip={str(r.get("expected")) for r in hand})
    records = [{k: v for k, v in r.items() if k != "id"} for r in hand] + derived
    lines = [json.dumps({"id": f"q{i:03d}", **r}, ensure_ascii=False) for i, r in enumerate(records, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} queries ({len(hand)} hand-written) to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
