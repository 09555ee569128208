"""Span recording: the `ragperf.stage` marker, stage metrics, and the recorder the worker installs.

When no recorder is installed (ragperf is not running the code), `stage()` and `metric()` do
almost nothing: one global read and a branch. The worker installs a `Recorder` for the measured
queries; every span (configured stage, parallel sub-stage, or user-marked block) then lands in
it with its dotted path, start, duration, error and metrics.
"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ragperf.trampoline import call_trampoline

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = [
    "OpenSpan",
    "Recorder",
    "SpanHandle",
    "SpanRecord",
    "SpanWatcher",
    "active_path",
    "child_path",
    "close_span",
    "current_span",
    "framed",
    "install",
    "metric",
    "open_span",
    "stage",
    "watch",
]

F = TypeVar("F", bound="Callable[..., Any]")


# A finished span, as a plain tuple because it is built on the hot path of every stage call:
# (dotted path, start ns from the recorder's origin, duration ns, error text or None, metrics).
SpanRecord = tuple[str, int, int, "str | None", "dict[str, float] | None"]


class OpenSpan:
    """The innermost open span of a context: its path, and metrics once metric() adds one.

    Mutable on purpose: the executor sets one per query and reuses it for each sequential
    stage (two attribute stores), because a ContextVar.set per stage would cost more than the
    rest of the span. Concurrent branches, tasks and marked blocks each get a fresh one.
    """

    __slots__ = ("metrics", "path")

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.metrics: dict[str, float] | None = None


class Recorder:
    """Collects the spans of the query being measured; the worker drains it after each query."""

    __slots__ = ("cpu", "kinds", "origin_ns", "spans")

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.cpu: list[tuple[str, int]] | None = None  # (stage path, its thread's CPU ns) when cpu_time is on
        self.origin_ns = perf_counter_ns()
        self.kinds: dict[str, str] = {}  # span path -> kind (retrieval, generation, ...) where one was given

    def drain(self) -> list[SpanRecord]:
        """Return the spans recorded so far and start a fresh list."""
        spans, self.spans = self.spans, []
        return spans

    def drain_cpu(self) -> list[tuple[str, int]]:
        """Return the stage CPU times recorded so far (none when cpu_time is off) and start afresh."""
        cpu = self.cpu
        if not cpu:
            return []
        self.cpu = []
        return cpu


class SpanWatcher(Protocol):
    """Told of every nested span's start and end while recording (the memory probe's nested peaks)."""

    def enter_span(self, span: OpenSpan) -> None:
        """`span` has just opened."""

    def exit_span(self, span: OpenSpan, path: str) -> None:
        """`span` (at `path`) is closing."""


_recorder: Recorder | None = None
_watcher: SpanWatcher | None = None
current_span: ContextVar[OpenSpan | None] = ContextVar("ragperf_current_span", default=None)


def install(recorder: Recorder | None) -> None:
    """Switch recording on (a recorder) or off (None). Called by the worker only."""
    global _recorder  # noqa: PLW0603 - one process-wide switch, read on the hot path
    _recorder = recorder


def watch(watcher: SpanWatcher | None) -> None:
    """Tell `watcher` of each nested span's start and end (None: nobody). Called by the worker only."""
    global _watcher  # noqa: PLW0603 - one process-wide switch, read only while recording
    _watcher = watcher


def active_path() -> str | None:
    """The dotted path of the innermost open span, or None outside any span."""
    span = current_span.get()
    return None if span is None else span.path


def metric(name: str, value: float) -> None:
    """Attach a number (time to first token, tokens/s, ...) to the innermost open span.

    A no-op when ragperf is not recording, or outside any span.
    """
    if _recorder is None:
        return
    span = current_span.get()
    if span is None or span.path is None:
        return
    if span.metrics is None:
        span.metrics = {}
    span.metrics[name] = float(value)


class stage:  # noqa: N801 - used like a function: `with ragperf.stage("rerank"):`
    """Mark a block or a function as a pipeline span.

    As a context manager: ``with ragperf.stage("rerank"): ...``.
    As a decorator: ``@ragperf.stage("rerank")`` on a sync or async function.
    Nested inside a configured stage or another span, the path becomes ``outer.name``.
    `kind` (retrieval, rerank, generation, embedding, ...) is how reports and the roadmap treat it.
    """

    __slots__ = ("_kind", "_name", "_start", "_token")

    def __init__(self, name: str, kind: str | None = None) -> None:
        self._name = name
        self._kind = kind
        self._token: Any = None
        self._start = 0

    def __enter__(self) -> stage:
        recorder = _recorder
        if recorder is not None:
            path = child_path(self._name)
            if self._kind is not None:
                recorder.kinds.setdefault(path, self._kind)
            span = OpenSpan(path)
            self._token = current_span.set(span)
            if _watcher is not None:  # before the clock starts: the watcher's readings are not the span's time
                _watcher.enter_span(span)
            self._start = perf_counter_ns()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = self._token
        if token is None:
            return
        end = perf_counter_ns()
        self._token = None
        span = current_span.get()
        if _watcher is not None and span is not None and span.path is not None:
            _watcher.exit_span(span, span.path)
        current_span.reset(token)
        recorder = _recorder
        if recorder is not None and span is not None and span.path is not None:
            error = None if exc_type is None else f"{exc_type.__name__}: {exc}"
            recorder.spans.append((span.path, self._start - recorder.origin_ns, end - self._start, error, span.metrics))

    def __call__(self, fn: F) -> F:
        """Decorate: the function runs in the span and under its trampoline, so it gets its own profile.

        (A `with` block cannot put a frame on the stack: its profile samples stay with the span around it.)
        """
        name, kind = self._name, self._kind
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _recorder is None:
                    return await fn(*args, **kwargs)
                with stage(name, kind) as opened:
                    return await call_trampoline(opened.path, is_async=True)(fn, args, kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _recorder is None:
                return fn(*args, **kwargs)
            with stage(name, kind) as opened:
                return call_trampoline(opened.path)(fn, args, kwargs)

        return wrapper  # type: ignore[return-value]

    @property
    def path(self) -> str:
        """The dotted path of the span while it is open."""
        span = current_span.get()
        return self._name if span is None or span.path is None else span.path


def child_path(name: str) -> str:
    """The path a span named `name` opened now would get: `name` under the innermost open span."""
    parent = current_span.get()
    return name if parent is None or parent.path is None else f"{parent.path}.{name}"


def framed(fn: F, name: str | None = None) -> F:
    """Wrap `fn` so that, while ragperf records, it runs under a stage trampoline profilers can see.

    Hooks (callbacks, span handlers, tracers) can open a span but cannot put a frame on the
    stack; a framework adapter wraps the component's work method with this so its samples and
    allocations land in the component's span. The trampoline is the one of `name` under the
    innermost open span (when the span opens inside `fn`, as LangChain's callbacks do), or of the
    innermost open span itself (`name=None`: the span is already open when `fn` is called).
    """

    @functools.wraps(fn)
    def framed_call(*args: Any, **kwargs: Any) -> Any:
        if _recorder is None:
            return fn(*args, **kwargs)
        path = child_path(name) if name is not None else active_path()
        if path is None:
            return fn(*args, **kwargs)
        return call_trampoline(path)(fn, args, kwargs)

    framed_call.__ragperf_framed__ = True  # type: ignore[attr-defined]
    return framed_call  # type: ignore[return-value]


class SpanHandle:
    """A span opened by `open_span`, for hooks whose start and end are separate calls (framework callbacks)."""

    __slots__ = ("previous", "span", "start", "token")

    def __init__(self, span: OpenSpan, previous: OpenSpan | None, token: Any, start: int) -> None:
        self.span = span
        self.previous = previous
        self.token = token
        self.start = start


def open_span(name: str, kind: str | None = None) -> SpanHandle | None:
    """Open a span under the innermost open one; None when ragperf is not recording.

    The counterpart of `with stage(name)` for code that sees only a start and an end event
    (LangChain callbacks, LlamaIndex span handlers, a Haystack tracer): pass the handle to
    `close_span` when the component ends. Spans opened inside it nest under it.
    """
    recorder = _recorder
    if recorder is None:
        return None
    previous = current_span.get()
    path = name if previous is None or previous.path is None else f"{previous.path}.{name}"
    if kind is not None:
        recorder.kinds.setdefault(path, kind)
    span = OpenSpan(path)
    token = current_span.set(span)
    if _watcher is not None:
        _watcher.enter_span(span)
    return SpanHandle(span, previous, token, perf_counter_ns())


def close_span(handle: SpanHandle | None, error: BaseException | str | None = None) -> None:
    """Record a span opened by `open_span` and make its parent the innermost span again."""
    if handle is None:
        return
    end = perf_counter_ns()
    if _watcher is not None and handle.span.path is not None:
        _watcher.exit_span(handle.span, handle.span.path)
    try:
        current_span.reset(handle.token)
    except ValueError:  # ended in another context than it started in (an async callback): restore by value
        current_span.set(handle.previous)
    recorder = _recorder
    if recorder is None or handle.span.path is None:
        return
    text = error if error is None or isinstance(error, str) else f"{type(error).__name__}: {error}"
    recorder.spans.append(
        (handle.span.path, handle.start - recorder.origin_ns, end - handle.start, text, handle.span.metrics)
    )
