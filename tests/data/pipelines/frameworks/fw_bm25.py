"""A pure-Python BM25 index over a synthetic corpus: the known hot function (`bm25_score`) of every framework test.

Its scoring loop is all Python and allocates a score list per query, so a CPU profiler samples
it and an allocation profiler sees it, inside whichever framework component calls it.
"""

from __future__ import annotations

import math
import random

WORDS = [f"w{i}" for i in range(400)]


def make_corpus(n_docs: int = 3000, length: int = 40, seed: int = 7) -> list[str]:
    """Deterministic documents of random words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(length)) for _ in range(n_docs)]


class Index:
    """Term frequencies per document, and the statistics BM25 needs."""

    def __init__(self, docs: list[str]) -> None:
        self.docs = docs
        self.tfs: list[dict[str, int]] = []
        df: dict[str, int] = {}
        for doc in docs:
            tf: dict[str, int] = {}
            for token in doc.split():
                tf[token] = tf.get(token, 0) + 1
            self.tfs.append(tf)
            for token in tf:
                df[token] = df.get(token, 0) + 1
        self.lengths = [len(doc.split()) for doc in docs]
        self.avg = sum(self.lengths) / len(docs)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def top(self, query: str, k: int = 3, rounds: int = 1) -> list[str]:
        """The k best documents for `query`."""
        best = bm25_score(self, query.lower().split(), k, rounds)
        return [self.docs[i] for i in best]


def bm25_score(index: Index, terms: list[str], k: int, rounds: int) -> list[int]:
    """Score every document against `terms` (`rounds` times, to make the work measurable); best k first."""
    k1, b = 1.5, 0.75
    tfs, lengths, avg, idf = index.tfs, index.lengths, index.avg, index.idf
    scores = [0.0] * len(tfs)
    for _ in range(rounds):
        scores = [0.0] * len(tfs)
        for i, tf in enumerate(tfs):
            norm = k1 * (1 - b + b * lengths[i] / avg)
            total = 0.0
            for term in terms:
                f = tf.get(term)
                if f:
                    total += idf[term] * f * (k1 + 1) / (f + norm)
            scores[i] = total
    return sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:k]


def query_terms(text: str) -> str:
    """Map a natural-language query onto corpus words, so every query matches documents."""
    rng = random.Random(text)
    return " ".join(rng.choice(WORDS) for _ in range(6))
