"""The two flat retrievers: dense vectors in Qdrant (local, in-process) and BM25 via bm25s."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import bm25s  # type: ignore[import-untyped, unused-ignore]
from qdrant_client import QdrantClient, models

from ragperf_demo.fusion import Hit
from ragperf_demo.text import tokenize

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

__all__ = ["Bm25Index", "VectorIndex"]

# bm25s logs every index/retrieve call at DEBUG on its own logger; keep profiles and logs clean.
logging.getLogger("bm25s").setLevel(logging.WARNING)


class VectorIndex:
    """Cosine search over passage vectors in a Qdrant collection run in-process (local mode)."""

    def __init__(self, ids: Sequence[str], vectors: npt.NDArray[np.float32], location: str = ":memory:") -> None:
        self.ids = list(ids)
        self.client = QdrantClient(location=location) if location == ":memory:" else QdrantClient(path=location)
        self.collection = "passages"
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=int(vectors.shape[1]), distance=models.Distance.COSINE),
        )
        # Point ids are row numbers; the passage id is looked up locally instead of via payload.
        self.client.upload_collection(self.collection, vectors=vectors, ids=list(range(len(self.ids))))

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[Hit]:
        """The k nearest passages to `vector`."""
        result = self.client.query_points(
            self.collection, query=vector.tolist(), limit=k, with_payload=False, with_vectors=False
        )
        return [Hit(self.ids[int(p.id)], float(p.score)) for p in result.points]

    def close(self) -> None:
        """Release the client."""
        self.client.close()


class Bm25Index:
    """Okapi BM25 (bm25s, sparse precomputed scores) over the shared tokenizer's terms."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        self.ids = list(ids)
        self.retriever = bm25s.BM25()
        self.retriever.index([tokenize(t) for t in texts], show_progress=False)

    def search(self, query: str, k: int) -> list[Hit]:
        """The k best BM25 matches for `query` (empty when no query term is in the corpus)."""
        terms = [t for t in tokenize(query) if t in self.retriever.vocab_dict]
        if not terms:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.retriever.retrieve([terms], k=k, show_progress=False, n_threads=0)
        return [Hit(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]
