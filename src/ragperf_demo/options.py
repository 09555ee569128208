"""The demo's `[pipeline.options]`, validated."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["DemoOptions"]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """Every knob of the demo pipeline; TOML keys use the same names."""

    leak_kb_per_query: int = 0  # > 0: rerank retains this many KB per call (the deliberate leak)
    corpus_limit: int = 0  # 0 = the whole stdlib corpus; > 0 = that many passages (tests)
    embedder: str = "lsa"  # dense vectors: "lsa" (TF-IDF + SVD) or "minilm" (needs the demo-ml extra)
    embed_dim: int = 384  # LSA dimensions of the dense vectors
    retrieval_k: int = 20  # hits per retriever
    fused_k: int = 50  # candidates kept by reciprocal-rank fusion, all reranked
    rerank_top_k: int = 5  # passages handed to generation
    intent_cache_size: int = 256
    ollama_host: str = ""  # overrides $OLLAMA_HOST; empty and no env -> the simulator
    ollama_model: str = "llama3.2:1b"
    num_predict: int = 80  # answer length cap in tokens
    request_timeout_s: float = 120.0
    simulator: str = "process"  # "process" (own CPU, out of profiles) or "thread"
    simulator_prefill_ms: float = 60.0
    simulator_prefill_ms_per_token: float = 0.05
    simulator_token_ms: float = 3.5
    cache_dir: str = ""  # overrides $RAGPERF_DEMO_CACHE and the XDG default

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> DemoOptions:
        """Validate names and types; unknown keys are errors (a typo would silently do nothing)."""
        options = dict(options or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            msg = f"unknown ragperf_demo option(s) {unknown}; known: {sorted(known)}"
            raise ValueError(msg)
        values: dict[str, Any] = {}
        for name, raw in options.items():
            default = getattr(cls(), name)
            kind = type(default)
            value = float(raw) if kind is float and isinstance(raw, int) and not isinstance(raw, bool) else raw
            if not isinstance(value, kind) or isinstance(value, bool) != isinstance(default, bool):
                msg = f"ragperf_demo option {name!r} must be {kind.__name__}, got {value!r}"
                raise TypeError(msg)
            values[name] = value
        opts = cls(**values)
        if opts.simulator not in ("process", "thread"):
            msg = f"ragperf_demo option 'simulator' must be 'process' or 'thread', got {opts.simulator!r}"
            raise ValueError(msg)
        if opts.embedder not in ("lsa", "minilm"):
            msg = f"ragperf_demo option 'embedder' must be 'lsa' or 'minilm', got {opts.embedder!r}"
            raise ValueError(msg)
        for name in ("leak_kb_per_query", "corpus_limit", "retrieval_k", "fused_k", "rerank_top_k", "embed_dim"):
            if getattr(opts, name) < 0:
                msg = f"ragperf_demo option {name!r} must be >= 0"
                raise ValueError(msg)
        return opts
