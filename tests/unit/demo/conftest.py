"""Shared fixtures for the demo pipeline's tests: one tiny-corpus context per session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ragperf_demo import pipeline

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ragperf_demo.pipeline import DemoContext

TINY = 300


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder shared by the session, so the stdlib is collected and indexed once."""
    return tmp_path_factory.mktemp("ragperf-demo-cache")


@pytest.fixture(scope="session")
def tiny() -> int:
    """The corpus_limit of the session context; setups with the same limit hit its cache."""
    return TINY


@pytest.fixture(scope="session")
def demo_ctx(demo_cache: Path) -> Iterator[DemoContext]:
    """The pipeline set up on a 300-passage corpus, generation via the in-process simulator."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAGPERF_DEMO_CACHE", str(demo_cache))
        mp.delenv("OLLAMA_HOST", raising=False)
        ctx = pipeline.setup({"corpus_limit": TINY, "simulator": "thread"})
        try:
            yield ctx
        finally:
            pipeline.teardown(ctx)
