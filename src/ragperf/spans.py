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
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["OpenSpan", "Recorder", "SpanRecord", "active_path", "current_span", "install", "metric", "stage"]

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

    __slots__ = ("origin_ns", "spans")

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.origin_ns = perf_counter_ns()

    def drain(self) -> list[SpanRecord]:
        """Return the spans recorded so far and start a fresh list."""
        spans, self.spans = self.spans, []
        return spans


_recorder: Recorder | None = None
current_span: ContextVar[OpenSpan | None] = ContextVar("ragperf_current_span", default=None)


def install(recorder: Recorder | None) -> None:
    """Switch recording on (a recorder) or off (None). Called by the worker only."""
    global _recorder  # noqa: PLW0603 - one process-wide switch, read on the hot path
    _recorder = recorder


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
    """

    __slots__ = ("_name", "_start", "_token")

    def __init__(self, name: str) -> None:
        self._name = name
        self._token: Any = None
        self._start = 0

    def __enter__(self) -> stage:
        if _recorder is not None:
            parent = current_span.get()
            path = self._name if parent is None or parent.path is None else f"{parent.path}.{self._name}"
            self._token = current_span.set(OpenSpan(path))
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
        current_span.reset(token)
        recorder = _recorder
        if recorder is not None and span is not None and span.path is not None:
            error = None if exc_type is None else f"{exc_type.__name__}: {exc}"
            recorder.spans.append((span.path, self._start - recorder.origin_ns, end - self._start, error, span.metrics))

    def __call__(self, fn: F) -> F:
        name = self._name
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _recorder is None:
                    return await fn(*args, **kwargs)
                with stage(name):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _recorder is None:
                return fn(*args, **kwargs)
            with stage(name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
