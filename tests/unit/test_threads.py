"""Work handed to other threads keeps its span: pools, threads, asyncio.to_thread, run_in_executor."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ragperf import spans, threads
from ragperf.trampoline import stage_of_filename


def _stage_on_stack() -> str | None:
    """The innermost stage trampoline on the calling thread's stack, as a profiler would find it."""
    frame = sys._getframe(1)
    while frame is not None:
        stage = stage_of_filename(frame.f_code.co_filename)
        if stage is not None:
            return stage
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _seen() -> tuple[str | None, str | None]:
    return _stage_on_stack(), spans.active_path()


@pytest.fixture
def recording():
    recorder = spans.Recorder()
    spans.install(recorder)
    threads.install()
    try:
        yield recorder
    finally:
        threads.uninstall()
        spans.install(None)


def test_pool_work_runs_under_the_submitting_span(recording):
    with ThreadPoolExecutor(max_workers=2) as pool:
        # GIVEN a span open WHEN work is submitted to a pool from inside it
        with spans.stage("retrieve"):
            inside = pool.submit(_seen).result()
        # AND the same pool is used outside any span
        outside = pool.submit(_seen).result()
    # THEN inside, the work's stack holds the span's trampoline and the span is open on that thread
    assert inside == ("retrieve", "retrieve")
    # AND outside, nothing was added
    assert outside == (None, None)


def test_spans_opened_on_the_pool_nest_under_the_submitter(recording):
    def marked() -> None:
        with spans.stage("score"):
            pass

    with ThreadPoolExecutor(max_workers=1) as pool, spans.stage("retrieve"):
        pool.submit(marked).result()
    # THEN the block marked on the pool thread is recorded under the stage that submitted it
    assert [record[0] for record in recording.drain()] == ["retrieve.score", "retrieve"]


def test_a_thread_started_in_a_span_runs_in_it_and_pool_workers_are_not_pinned(recording):
    seen: list[tuple[str | None, str | None]] = []

    class Worker(threading.Thread):
        def run(self) -> None:  # a subclass's own run is wrapped too
            seen.append(_seen())

    with spans.stage("generate"):
        plain = threading.Thread(target=lambda: seen.append(_seen()))
        plain.start()
        plain.join()
        sub = Worker()
        sub.start()
        sub.join()
        # A pool first used inside a span starts its worker threads there: they must not keep the span.
        pool = ThreadPoolExecutor(max_workers=1)
        pool.submit(lambda: None).result()
    later = pool.submit(_seen).result()
    pool.shutdown()
    assert seen == [("generate", "generate"), ("generate", "generate")]
    assert later == (None, None)


def test_to_thread_and_run_in_executor_keep_the_span(recording):
    async def main() -> list[tuple[str | None, str | None]]:
        loop = asyncio.get_running_loop()
        with spans.stage("offload"):
            first = await asyncio.to_thread(_seen)
            second = await loop.run_in_executor(None, _seen)
        return [first, second]

    assert asyncio.run(main()) == [("offload", "offload"), ("offload", "offload")]


def test_nothing_is_added_when_ragperf_does_not_record():
    # GIVEN the doors patched but no recorder (the pipeline imported outside a run)
    threads.install()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(_seen).result() == (None, None)
    finally:
        threads.uninstall()
    # AND uninstall puts the originals back
    assert not threads.installed()
    assert ThreadPoolExecutor.submit is threads._submit


def test_open_and_close_span_nest_like_stage(recording):
    # GIVEN hook-style spans (start and end as separate calls), as framework callbacks open them
    outer = spans.open_span("rag", kind="other")
    inner = spans.open_span("retriever", kind="retrieval")
    assert spans.active_path() == "rag.retriever"
    spans.close_span(inner)
    assert spans.active_path() == "rag"
    spans.close_span(outer, ValueError("boom"))
    records = recording.drain()
    # THEN both are recorded, children first, with the error text, and the kind is kept per path
    assert [(r[0], r[3]) for r in records] == [("rag.retriever", None), ("rag", "ValueError: boom")]
    assert recording.kinds == {"rag": "other", "rag.retriever": "retrieval"}
    assert spans.active_path() is None


def test_framed_runs_a_callable_under_its_span_trampoline(recording):
    framed_child = spans.framed(_stage_on_stack, name="llm")
    framed_here = spans.framed(_stage_on_stack)
    with spans.stage("rag"):
        assert framed_child() == "rag.llm"
        assert framed_here() == "rag"
    # AND outside a span or a recording, it is a plain call
    assert framed_here() is None


def test_a_daemon_thread_is_a_background_service_not_the_stage_s(recording):
    seen: list[tuple[str | None, str | None]] = []
    with spans.stage("retrieve"):
        # GIVEN a daemon thread started lazily inside a stage (tqdm's monitor, a client's keep-alive)
        service = threading.Thread(target=lambda: seen.append(_seen()), daemon=True)
        service.start()
        service.join()
    # THEN its life is not pinned to the stage that happened to start it
    assert seen == [(None, None)]


def test_a_decorated_function_runs_under_its_own_trampoline(recording):
    @spans.stage("embed", kind="embedding")
    def embed() -> tuple[str | None, str | None]:
        return _seen()

    @spans.stage("search")
    async def search() -> tuple[str | None, str | None]:
        return _seen()

    with spans.stage("retrieve"):
        assert embed() == ("retrieve.embed", "retrieve.embed")
        assert asyncio.run(search()) == ("retrieve.search", "retrieve.search")
    # AND not recording, it is the plain function
    spans.install(None)
    assert embed() == (None, None)
