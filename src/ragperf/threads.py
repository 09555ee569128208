"""Work a span hands to another thread stays the span's: thread pools, threads, `to_thread`, `run_in_executor`.

Profilers attribute a sample to the innermost stage trampoline on its thread's stack, and a
thread's stack starts empty. While the worker records, `install()` patches the two doors work
takes to another thread: `ThreadPoolExecutor.submit` (which `loop.run_in_executor`,
`asyncio.to_thread` and LangChain's `ContextThreadPoolExecutor` all go through) and
`threading.Thread.start` (non-daemon threads). Called inside an open span, each runs the work
through that span's trampoline, with the span open on the new thread too, so py-spy, memray and
scalene see the work under the stage, and spans opened there (a framework's components,
`ragperf.stage`) nest under it. Outside any span, and when nothing records, both cost one
ContextVar read.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, thread
from typing import TYPE_CHECKING, Any

from ragperf import spans
from ragperf.trampoline import call_trampoline

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

__all__ = ["install", "installed", "uninstall"]

_submit = ThreadPoolExecutor.submit
_start = threading.Thread.start


def _open_path() -> str | None:
    """The innermost open span's path when ragperf records, else None."""
    if spans._recorder is None:
        return None
    span = spans.current_span.get()
    return None if span is None else span.path


def _in_span(path: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run `fn` on this thread inside `path`: its trampoline on the stack, its span open."""
    token = spans.current_span.set(spans.OpenSpan(path))
    try:
        return call_trampoline(path)(fn, args, kwargs)
    finally:
        spans.current_span.reset(token)


def _traced_submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    path = _open_path()
    if path is None:
        return _submit(self, fn, *args, **kwargs)
    return _submit(self, _in_span, path, fn, args, kwargs)


def _traced_start(self: threading.Thread) -> None:
    path = _open_path()
    # A pool's own worker threads serve every later caller: their tasks are traced by submit instead.
    # A daemon thread is a background service started lazily by whichever stage came first (tqdm's
    # monitor, a client's keep-alive): pinning its whole life to that stage would be wrong.
    if path is not None and not self.daemon and getattr(self, "_target", None) is not thread._worker:
        run = self.run  # the subclass's run, or Thread.run calling the target
        self.run = lambda: _in_span(path, run, (), {})  # type: ignore[method-assign]
    _start(self)


def install() -> None:
    """Patch the thread doors (idempotent); the worker calls it once it records."""
    ThreadPoolExecutor.submit = _traced_submit  # type: ignore[method-assign,assignment]
    threading.Thread.start = _traced_start  # type: ignore[method-assign]


def uninstall() -> None:
    """Put the originals back."""
    ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign]
    threading.Thread.start = _start  # type: ignore[method-assign]


def installed() -> bool:
    """True while the doors are patched."""
    return ThreadPoolExecutor.submit is _traced_submit
