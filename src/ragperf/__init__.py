"""ragperf: per-stage latency, hotspots, memory and throughput for RAG pipelines."""

from __future__ import annotations

from ragperf.notes import note
from ragperf.spans import metric, stage
from ragperf.state import State

__version__ = "0.1.0"

__all__ = ["State", "__version__", "metric", "note", "stage"]
