"""Entity graph over the corpus (modules, classes, functions and their cross-references).

Local search links query words to entities and spreads along edges (GraphRAG "local");
global search ranks Louvain communities by their TF-IDF centroid and then the passages of the
best communities by relevance and PageRank (GraphRAG "global", without LLM summaries).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx  # type: ignore[import-untyped, unused-ignore]
import numpy as np
from scipy import sparse as sp  # type: ignore[import-untyped]

from ragperf_demo.fusion import Hit
from ragperf_demo.text import identifiers, tokenize

if TYPE_CHECKING:
    import numpy.typing as npt

    from ragperf_demo.corpus import Corpus, Entity

__all__ = ["EntityGraph", "build_graph"]

# Edge weights: containment is the strongest tie, an explicit base class next, a mention last.
W_CONTAINS = 1.0
W_INHERITS = 0.8
W_MENTIONS = 0.6
SEEDS = 6
# A name word shared by more entities than this ("read", "close") links nothing on its own.
MAX_PART_OWNERS = 150
_DOTTED = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b")
# A bare name counts as a reference only when marked as code: name(, `name`, ``name``, 'name'.
_MARKED = re.compile(r"`{1,2}([A-Za-z_][A-Za-z0-9_]*)`{1,2}|\b([A-Za-z_][A-Za-z0-9_]*)\(|'([A-Za-z_]\w*)'")
_CAMEL_CLASS = re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b")


@dataclass(slots=True)
class EntityGraph:
    """The graph plus the lookup tables its two searches need."""

    graph: Any  # nx.DiGraph: networkx ships no type hints
    passages_of: dict[str, list[int]]
    by_short: dict[str, list[str]]
    by_full: dict[str, str]
    by_part: dict[str, list[str]]
    name_parts: dict[str, frozenset[str]]
    terms: dict[str, frozenset[str]]
    passage_terms: list[frozenset[str]]
    passage_ids: list[str]
    communities: list[npt.NDArray[np.int64]]
    centroids: Any  # scipy CSR, one L2-normalized row per community
    prior: npt.NDArray[np.float32]  # per passage: PageRank of its entity, scaled to [0, 1]

    def link(self, query: str, terms: list[str]) -> dict[str, float]:
        """Entities the query names: dotted names, module names, then words of entity names."""
        scores: dict[str, float] = {}
        for ident in identifiers(query):
            low = ident.lower()
            if low in self.by_full:
                _bump(scores, self.by_full[low], 3.0)
                continue
            for name in self.by_short.get(low.rsplit(".", 1)[-1], ()):
                if name.lower().endswith("." + low):
                    _bump(scores, name, 2.0)
        term_set = set(terms)
        for term in term_set:
            if term in self.by_full:  # a module named in plain words ("json", "pathlib")
                _bump(scores, self.by_full[term], 1.5)
        # Words of an entity's own name ("temporary directory" -> TemporaryDirectory), scored by
        # how much of the name the query covers and how rare the matched words are.
        matched: dict[str, list[str]] = {}
        for term in term_set:
            owners = self.by_part.get(term, ())
            if len(owners) <= MAX_PART_OWNERS:
                for name in owners:
                    matched.setdefault(name, []).append(term)
        for name, hit_terms in matched.items():
            parts = self.name_parts[name]
            coverage = len(hit_terms) / len(parts)
            rarity = max(1.0 / math.log2(2 + len(self.by_part[t])) for t in hit_terms)
            module_named = bool(term_set.intersection(self.graph.nodes[name]["module"].split(".")))
            _bump(scores, name, 2.0 * coverage * rarity * (1.5 if module_named else 1.0))
        return scores

    def local_search(self, query: str, k: int) -> list[Hit]:
        """Linked entities and their neighbours, passages ranked by entity score and term overlap."""
        terms = tokenize(query)
        term_set = frozenset(terms)
        if not term_set:
            return []
        seeds = sorted(self.link(query, terms).items(), key=lambda kv: -kv[1])[:SEEDS]
        scores: dict[str, float] = dict(seeds)
        for name, seed_score in seeds:
            for _, nbr, data in self.graph.edges(name, data=True):
                self._spread(scores, nbr, seed_score * data["weight"], term_set)
            for nbr, _, data in self.graph.in_edges(name, data=True):
                self._spread(scores, nbr, seed_score * data["weight"], term_set)
        ranked: dict[int, float] = {}
        for name, ent_score in scores.items():
            for row in self.passages_of.get(name, ()):
                overlap = len(term_set & self.passage_terms[row]) / len(term_set)
                ranked[row] = max(ranked.get(row, 0.0), ent_score * (0.5 + overlap))
        best = sorted(ranked.items(), key=lambda kv: -kv[1])[:k]
        return [Hit(self.passage_ids[row], score) for row, score in best]

    def _spread(self, scores: dict[str, float], name: str, weight: float, term_set: frozenset[str]) -> None:
        # Neighbours only count as far as they share words with the query: modules have hundreds.
        overlap = len(term_set & self.terms.get(name, frozenset())) / len(term_set)
        if overlap > 0:
            _bump(scores, name, 0.5 * weight * overlap)

    def global_search(self, query_vec: Any, tfidf: Any, k: int, top_communities: int = 3) -> list[Hit]:
        """Best communities by centroid similarity, then their passages by similarity and PageRank."""
        if query_vec.nnz == 0 or not self.communities:
            return []
        comm_sim = (self.centroids @ query_vec.T).toarray().ravel()
        order = np.argsort(-comm_sim)[:top_communities]
        rows = np.concatenate([self.communities[c] for c in order if comm_sim[c] > 0] or [np.empty(0, np.int64)])
        if rows.size == 0:
            return []
        sims = (tfidf[rows] @ query_vec.T).toarray().ravel()
        scores = sims * (0.8 + 0.2 * self.prior[rows])
        top = np.argsort(-scores)[:k]
        return [Hit(self.passage_ids[int(rows[i])], float(scores[i])) for i in top if scores[i] > 0]


def _bump(scores: dict[str, float], name: str, value: float) -> None:
    scores[name] = scores.get(name, 0.0) + value


def _resolve(token: str, ent: Entity, names: set[str], by_short: dict[str, list[str]]) -> str | None:
    """The entity a name written inside `ent`'s docstring most likely means."""
    scopes = [ent.name, ent.name.rsplit(".", 1)[0], ent.module, "builtins"]
    for scope in scopes:
        candidate = f"{scope}.{token}"
        if candidate in names:
            return candidate
    if token in names:
        return token
    if "." in token:
        owners = by_short.get(token.rsplit(".", 1)[-1].lower(), [])
        matches = [n for n in owners if n.endswith("." + token)]
        if len(matches) == 1:
            return matches[0]
    return None


def _mentions(ent: Entity, names: set[str], by_short: dict[str, list[str]], classes: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for token in _DOTTED.findall(ent.doc):
        target = _resolve(token, ent, names, by_short)
        if target:
            found.add(target)
    for groups in _MARKED.findall(ent.doc):
        token = next(g for g in groups if g)
        target = _resolve(token, ent, names, by_short)
        if target:
            found.add(target)
    for word in _CAMEL_CLASS.findall(ent.doc):
        target = classes.get(word)
        if target:
            found.add(target)
    found.discard(ent.name)
    return found


def _add_edge(graph: Any, src: str, dst: str, weight: float, kind: str) -> None:
    # Parallel reasons for one edge keep the strongest weight.
    if graph.has_edge(src, dst) and graph[src][dst]["weight"] >= weight:
        return
    graph.add_edge(src, dst, weight=weight, kind=kind)


def build_graph(corpus: Corpus, tfidf: Any, seed: int = 0) -> EntityGraph:
    """Nodes are entities; edges are containment, inheritance and docstring cross-references."""
    entities = corpus.entities
    names = {e.name for e in entities}
    by_short: dict[str, list[str]] = {}
    for e in entities:
        by_short.setdefault(e.name.rsplit(".", 1)[-1].lower(), []).append(e.name)
    shorts = [e.name.rsplit(".", 1)[-1] for e in entities if e.kind == "class"]
    unique_classes = {
        s: e.name
        for e, s in zip([e for e in entities if e.kind == "class"], shorts, strict=True)
        if len(by_short[s.lower()]) == 1
    }
    graph = nx.DiGraph()
    for e in entities:
        graph.add_node(e.name, kind=e.kind, module=e.module)
    for e in entities:
        parent = e.name.rsplit(".", 1)[0]
        if parent in names and parent != e.name:
            _add_edge(graph, parent, e.name, W_CONTAINS, "contains")
        for base in e.bases:
            target = base if base in names else _resolve(base.rsplit(".", 1)[-1], e, names, by_short)
            if target and target != e.name:
                _add_edge(graph, e.name, target, W_INHERITS, "inherits")
        for target in _mentions(e, names, by_short, unique_classes):
            _add_edge(graph, e.name, target, W_MENTIONS, "mentions")

    passages_of: dict[str, list[int]] = {}
    passage_terms: list[frozenset[str]] = []
    for row, p in enumerate(corpus.passages):
        passages_of.setdefault(p.entity, []).append(row)
        passage_terms.append(frozenset(tokenize(p.search_text)))
    terms = {e.name: frozenset(tokenize(e.name + " " + " ".join(e.doc.split()[:60]))) for e in entities}
    name_parts: dict[str, frozenset[str]] = {}
    by_part: dict[str, list[str]] = {}
    for e in entities:
        # Words of the last name component only: "os.path.join" is about joining, not about os.
        last = e.name.rsplit(".", 1)[-1]
        words = set(tokenize(last.replace("_", " ")))
        if len(words) > 1:
            words.discard(last.lower())  # CamelCase: keep the pieces, not the joined word
        parts = frozenset(words) or frozenset({last.lower()})
        name_parts[e.name] = parts
        for part in parts:
            by_part.setdefault(part, []).append(e.name)
    undirected = graph.to_undirected()
    groups = nx.community.louvain_communities(undirected, weight="weight", seed=seed)
    pagerank = nx.pagerank(graph, weight="weight")
    communities, centroids = _community_rows(sorted(groups, key=min), passages_of, tfidf)
    prior = np.zeros(len(corpus.passages), dtype=np.float32)
    top = max(pagerank.values(), default=1.0)
    for name, rows in passages_of.items():
        prior[rows] = pagerank.get(name, 0.0) / top
    return EntityGraph(
        graph=graph,
        passages_of=passages_of,
        by_short=by_short,
        by_full={n.lower(): n for n in names},
        by_part=by_part,
        name_parts=name_parts,
        terms=terms,
        passage_terms=passage_terms,
        passage_ids=[p.id for p in corpus.passages],
        communities=communities,
        centroids=centroids,
        prior=prior,
    )


def _community_rows(
    groups: list[set[str]], passages_of: dict[str, list[int]], tfidf: Any
) -> tuple[list[npt.NDArray[np.int64]], Any]:
    """Passage rows per community and the communities' L2-normalized TF-IDF centroids."""
    communities: list[npt.NDArray[np.int64]] = []
    centroid_rows = []
    for group in groups:
        rows = sorted(r for name in group for r in passages_of.get(name, ()))
        if not rows:
            continue
        arr = np.asarray(rows, dtype=np.int64)
        communities.append(arr)
        centroid = np.asarray(tfidf[arr].mean(axis=0)).ravel()
        norm = np.linalg.norm(centroid)
        centroid_rows.append(centroid / norm if norm else centroid)
    if not centroid_rows:
        return [], sp.csr_matrix((0, tfidf.shape[1]), dtype=np.float32)
    return communities, sp.csr_matrix(np.vstack(centroid_rows).astype(np.float32))
