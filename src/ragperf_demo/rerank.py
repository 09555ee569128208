"""Feature-based reranking in pure Python: the pipeline's deliberate CPU hotspot.

Each fused candidate is re-tokenized and scored on term coverage (IDF-weighted), typo-tolerant
coverage (edit distance), term proximity (smallest window holding the matched terms), query
bigrams, title matches and its fused rank; the top k are then picked by maximal marginal
relevance so near-duplicate chunks do not crowd the context.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from ragperf_demo.fusion import Hit
from ragperf_demo.text import tokenize

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ragperf_demo.corpus import Passage

__all__ = ["DEBUG_HISTORY", "Features", "Reranker", "edit_distance", "min_window"]

# THE DELIBERATE LEAK (option leak_kb_per_query > 0): a "debug history" of every rerank call that
# nothing ever trims, the kind of cache someone adds to chase a ranking bug and forgets.
DEBUG_HISTORY: list[dict[str, Any]] = []

FUZZY_MIN_SIMILARITY = 0.75
# MMR: 1.0 is pure relevance; lower values push near-duplicate chunks out of the top k.
MMR_TRADE_OFF = 0.8
WEIGHTS = {"coverage": 2.0, "fuzzy": 0.8, "proximity": 1.0, "bigrams": 0.6, "title": 1.2, "prior": 0.8}


@dataclass(slots=True)
class Features:
    """Per-candidate features, each in [0, 1]."""

    coverage: float = 0.0
    fuzzy: float = 0.0
    proximity: float = 0.0
    bigrams: float = 0.0
    title: float = 0.0
    prior: float = 0.0

    def score(self) -> float:
        """The weighted sum used for ranking."""
        return float(sum(weight * getattr(self, name) for name, weight in WEIGHTS.items()))


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, giving up (returning limit + 1) once every cell of a row exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def min_window(positions: Mapping[str, Sequence[int]]) -> int:
    """Length of the smallest token window containing every term in `positions` (0 if none)."""
    need = len(positions)
    if need == 0:
        return 0
    events = sorted((pos, term) for term, plist in positions.items() for pos in plist)
    counts: dict[str, int] = {}
    best = events[-1][0] - events[0][0] + 1
    left = 0
    for pos, term in events:
        counts[term] = counts.get(term, 0) + 1
        while len(counts) == need:
            best = min(best, pos - events[left][0] + 1)
            left_term = events[left][1]
            counts[left_term] -= 1
            if counts[left_term] == 0:
                del counts[left_term]
            left += 1
    return best


def _jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


class Reranker:
    """Scores the fused candidates and keeps the best `top_k`."""

    def __init__(self, passages: Mapping[str, Passage], idf: Mapping[str, float], leak_kb_per_query: int = 0) -> None:
        self.passages = passages
        self.idf = idf
        self.default_idf = max(idf.values(), default=1.0)
        self.leak_bytes = max(0, int(leak_kb_per_query)) * 1024

    def features(self, terms: Sequence[str], weights: Sequence[float], passage: Passage, rank: int) -> Features:
        """Compute one candidate's features against the (deduplicated) query terms."""
        tokens = tokenize(passage.search_text)
        title_terms = set(tokenize(passage.title))
        vocab = set(tokens)
        total = sum(weights) or 1.0
        wanted = set(terms)
        positions: dict[str, list[int]] = {}
        for pos, tok in enumerate(tokens):
            if tok in wanted:
                positions.setdefault(tok, []).append(pos)
        feats = Features(prior=1.0 / (1.0 + rank))
        fuzzy = 0.0
        for term, weight in zip(terms, weights, strict=True):
            if term in positions:
                feats.coverage += weight / total
            elif len(term) >= 4:
                # Typo and inflection tolerance: the closest word of the passage, if close enough.
                limit = max(1, len(term) // 4)
                best = min((edit_distance(term, word, limit) for word in vocab), default=limit + 1)
                if best <= limit:
                    similarity = 1.0 - best / len(term)
                    if similarity >= FUZZY_MIN_SIMILARITY:
                        fuzzy += similarity * weight / total
            if term in title_terms:
                feats.title += weight / total
        feats.fuzzy = fuzzy
        if len(positions) >= 2:
            span = min_window(positions)
            feats.proximity = len(positions) / span if span else 0.0
        elif positions:
            feats.proximity = 0.5
        pairs = list(pairwise(terms))
        if pairs:
            adjacent = set(pairwise(tokens))
            feats.bigrams = sum(1 for pair in pairs if pair in adjacent) / len(pairs)
        return feats

    def __call__(self, query: str, candidates: Sequence[Hit], top_k: int) -> list[Hit]:
        """The top_k candidates by feature score (ties broken by fused order)."""
        terms = list(dict.fromkeys(tokenize(query)))
        weights = [self.idf.get(t, self.default_idf) for t in terms]
        scored: list[tuple[float, int, Hit]] = []
        for rank, hit in enumerate(candidates):
            passage = self.passages.get(hit.pid)
            if passage is None:
                continue
            feats = self.features(terms, weights, passage, rank)
            scored.append((feats.score(), rank, Hit(hit.pid, round(feats.score(), 6))))
        scored.sort(key=lambda item: (-item[0], item[1]))
        result = self.diversify([hit for _, _, hit in scored], top_k)
        if self.leak_bytes:
            self._remember(query, candidates, result)
        return result

    def diversify(self, ranked: Sequence[Hit], top_k: int, trade_off: float = MMR_TRADE_OFF) -> list[Hit]:
        """Maximal marginal relevance: greedily trade score against overlap with passages already kept."""
        if len(ranked) <= 1:
            return list(ranked[:top_k])
        top = ranked[0].score or 1.0
        terms = {h.pid: set(tokenize(self.passages[h.pid].search_text)) for h in ranked}
        chosen: list[Hit] = []
        pool = list(ranked)
        while pool and len(chosen) < top_k:
            best_index, best_value = 0, float("-inf")
            for index, hit in enumerate(pool):
                overlap = max((_jaccard(terms[hit.pid], terms[c.pid]) for c in chosen), default=0.0)
                value = trade_off * hit.score / top - (1.0 - trade_off) * overlap
                if value > best_value:
                    best_index, best_value = index, value
            chosen.append(pool.pop(best_index))
        return chosen

    def _remember(self, query: str, candidates: Sequence[Hit], result: list[Hit]) -> None:
        # Keeps a snapshot of the candidate texts, padded to the configured size, forever.
        text = "\n".join(self.passages[h.pid].text for h in candidates if h.pid in self.passages) or query
        blob = text.encode()
        snapshot = (blob * (self.leak_bytes // max(1, len(blob)) + 1))[: self.leak_bytes]
        DEBUG_HISTORY.append({"query": query, "result": list(result), "snapshot": snapshot})
