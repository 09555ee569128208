"""Setup and teardown: options, the index cache, the LLM endpoint choice, the deliberate leak."""

from __future__ import annotations

import inspect
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ragperf import State
from ragperf_demo import pipeline, stages
from ragperf_demo.options import DemoOptions
from ragperf_demo.rerank import DEBUG_HISTORY
from ragperf_demo.simulator import SimulatorConfig, SimulatorProcess, SimulatorThread

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf_demo.pipeline import DemoContext


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1.0):
            return True
    except OSError:
        return False


def _refuse(*_: Any) -> Any:
    raise AssertionError("rebuilt instead of reading the cache")


@pytest.fixture
def warm_env(demo_ctx: DemoContext, demo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's cache (already filled by demo_ctx); rebuilding anything fails the test."""
    monkeypatch.setenv("RAGPERF_DEMO_CACHE", str(demo_cache))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setattr(pipeline, "build_indexes", _refuse)
    monkeypatch.setattr(pipeline, "train", _refuse)


def test_setup_takes_the_options_table_as_its_one_positional_parameter() -> None:
    # GIVEN ragperf's rule: a setup with one positional parameter receives [pipeline.options]
    params = list(inspect.signature(pipeline.setup).parameters.values())
    # THEN the demo's setup has exactly one, required
    assert len(params) == 1
    assert params[0].default is inspect.Parameter.empty


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"leak_kb": 1}, ValueError),
        ({"corpus_limit": "300"}, TypeError),
        ({"corpus_limit": True}, TypeError),
        ({"simulator": "docker"}, ValueError),
        ({"rerank_top_k": -1}, ValueError),
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any], error: type[Exception]) -> None:
    # GIVEN an options table with a typo, a wrong type or a bad value
    # WHEN validated
    # THEN setup would fail early with a clear error
    with pytest.raises(error):
        DemoOptions.from_mapping(options)


def test_int_options_are_accepted_for_float_fields() -> None:
    # GIVEN a TOML integer for a float option
    # WHEN validated
    opts = DemoOptions.from_mapping({"simulator_token_ms": 4})
    # THEN it becomes a float
    assert opts.simulator_token_ms == 4.0
    assert isinstance(opts.simulator_token_ms, float)


@pytest.mark.usefixtures("warm_env")
def test_warm_setup_reads_the_cache_and_teardown_stops_the_simulator_process(tiny: int) -> None:
    # GIVEN a filled cache and no OLLAMA_HOST
    # WHEN the pipeline is set up again with the simulator as a child process
    ctx = pipeline.setup({"corpus_limit": tiny, "simulator": "process"})
    sim = ctx.simulator
    try:
        # THEN nothing was rebuilt, and the simulator serves on a loopback port
        assert isinstance(sim, SimulatorProcess)
        assert ctx.llm_url.startswith("http://127.0.0.1:")
        assert _port_open(ctx.llm_url)
        assert len(ctx.corpus.passages) == tiny
    finally:
        pipeline.teardown(ctx)
    # AND teardown stopped it: process gone, port closed
    assert sim.proc.returncode is not None
    assert not _port_open(ctx.llm_url)


@pytest.mark.usefixtures("warm_env")
def test_ollama_host_replaces_the_simulator(monkeypatch: pytest.MonkeyPatch, tiny: int) -> None:
    # GIVEN an Ollama-compatible server already running, named by OLLAMA_HOST
    ollama = SimulatorThread(SimulatorConfig(model="qwen2.5:0.5b", prefill_ms=5.0, token_ms=0.5))
    port = urlsplit(ollama.url).port
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    try:
        # WHEN the pipeline is set up and generates an answer
        ctx = pipeline.setup({"corpus_limit": tiny, "ollama_model": "qwen2.5:0.5b"})
        try:
            state = State(query="How do I parse JSON?", ctx=ctx)
            state.outputs["rerank"] = stages.rerank(state)
            out = stages.generate(state)
        finally:
            pipeline.teardown(ctx)
    finally:
        ollama.stop()
    # THEN no simulator was started, and the answer came from that server for the configured model
    assert ctx.simulator is None
    assert ctx.llm_url == f"http://127.0.0.1:{port}"
    assert out["model"] == "qwen2.5:0.5b"
    assert out["answer"]


@pytest.mark.usefixtures("warm_env")
def test_leaky_option_retains_memory_per_rerank_until_teardown(tiny: int) -> None:
    # GIVEN the pipeline with the deliberate leak switched on at 64 KB per query
    ctx = pipeline.setup({"corpus_limit": tiny, "simulator": "thread", "leak_kb_per_query": 64})
    before = len(DEBUG_HISTORY)
    try:
        # WHEN rerank runs three times
        for query in ("parse json", "join paths", "regular expression"):
            state = State(query=query, ctx=ctx)
            state.outputs["retrieval"] = {"bm25": stages.bm25_search(state)}
            stages.rerank(state)
        # THEN three 64 KB snapshots are held in the module-level history
        assert len(DEBUG_HISTORY) == before + 3
        assert [len(e["snapshot"]) for e in DEBUG_HISTORY[before:]] == [64 * 1024] * 3
    finally:
        pipeline.teardown(ctx)
    # AND teardown dropped them
    assert DEBUG_HISTORY == []


def test_without_the_leak_option_rerank_retains_nothing(demo_ctx: DemoContext) -> None:
    # GIVEN the default options (leak_kb_per_query = 0)
    before = len(DEBUG_HISTORY)
    state = State(query="parse json", ctx=demo_ctx)
    state.outputs["retrieval"] = {"bm25": stages.bm25_search(state)}
    # WHEN rerank runs
    stages.rerank(state)
    # THEN the history did not grow
    assert len(DEBUG_HISTORY) == before
