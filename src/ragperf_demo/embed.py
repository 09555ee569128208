"""A light dense embedder that needs no model download: TF-IDF reduced by truncated SVD (LSA)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from sklearn.decomposition import TruncatedSVD  # type: ignore[import-untyped, unused-ignore]
from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped, unused-ignore]

from ragperf_demo.text import tokenize

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

__all__ = ["Encoder", "LsaEmbedder"]


class Encoder(Protocol):
    """Anything that turns texts into unit-length float32 rows (LSA here, MiniLM in minilm.py)."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One unit vector per text."""
        ...


class LsaEmbedder:
    """Fit once on the corpus; `encode` maps any text to a unit vector of `dim` floats."""

    def __init__(self, dim: int = 384, seed: int = 0) -> None:
        self.dim = dim
        self.seed = seed
        # The shared tokenizer keeps dotted names ("json.loads") as single features.
        self.tfidf = TfidfVectorizer(
            tokenizer=tokenize,
            lowercase=False,
            token_pattern=None,
            sublinear_tf=True,
            min_df=2,
            max_df=0.5,
            dtype=np.float32,
        )
        self.svd: TruncatedSVD | None = None

    def fit(self, texts: Sequence[str]) -> tuple[csr_matrix, npt.NDArray[np.float32]]:
        """Fit TF-IDF and SVD; return the corpus TF-IDF matrix and its dense vectors."""
        sparse = self.tfidf.fit_transform(texts)
        # SVD needs fewer components than either side of the matrix (tiny test corpora).
        n_components = max(2, min(self.dim, sparse.shape[0] - 1, sparse.shape[1] - 1))
        # Three power iterations: more cost several seconds and did not improve recall here.
        self.svd = TruncatedSVD(n_components=n_components, random_state=self.seed, n_iter=3)
        dense = self.svd.fit_transform(sparse)
        self.dim = n_components
        return sparse.tocsr(), _normalize(dense)

    def sparse(self, texts: Sequence[str]) -> csr_matrix:
        """TF-IDF rows (L2-normalized) for `texts`."""
        return self.tfidf.transform(texts).tocsr()

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length dense vectors, one row per text."""
        if self.svd is None:
            msg = "LsaEmbedder.encode before fit"
            raise RuntimeError(msg)
        return _normalize(self.svd.transform(self.sparse(texts)))

    def idf(self) -> dict[str, float]:
        """Inverse document frequency per term, for weighting query terms downstream."""
        vocab: dict[str, int] = self.tfidf.vocabulary_
        weights = self.tfidf.idf_
        return {term: float(weights[col]) for term, col in vocab.items()}


def _normalize(matrix: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: npt.NDArray[np.float32] = (matrix / norms).astype(np.float32)
    return unit
