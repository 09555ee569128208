"""LlamaIndex: every component a query runs through becomes a span, through a span handler on the root dispatcher.

LlamaIndex opens one of its spans per decorated method call (`BM25Retriever.retrieve`, then
`BM25Retriever._retrieve` inside it, ...). A component's span is the outermost of them: a
method span of the same instance nested directly in it adds nothing and is merged into it.
Spans of plain functions (no instance) are not components and open nothing. A query engine or
chat engine called directly from a ragperf stage is no span either (it is the stage): its
retriever, synthesizer and LLM sit directly under the stage. Names are the class names.

Framing: the method of a merged span (`_retrieve` inside `retrieve`, `complete` inside an
LLM's `predict`, `get_response` inside a synthesizer's `synthesize`) runs while the
component's span is open, so the handler shadows it on the instance with `ragperf.spans.framed`
the first time it sees it; later calls then run under the component's trampoline. A component
whose only span is the one LlamaIndex opens around its public method (an LLM called with
`complete()` directly) is timed, but its samples land in its caller. Async methods are not framed.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, NamedTuple

from ragperf import spans
from ragperf.errors import ConfigError
from ragperf.frameworks.base import FrameworkAdapter
from ragperf.frameworks.components import Framing, Siblings, kind_from_names, safe_name

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ragperf.state import State

__all__ = ["LlamaIndexAdapter"]

_UUID_TAIL = 37  # a span id is "<Class>.<method>-<uuid4>"


class _Open(NamedTuple):
    """A LlamaIndex span the handler is following: the ragperf span it opened (or None), and its instance."""

    handle: spans.SpanHandle | None
    instance: Any


class _Spans:
    """The span logic; `new_span` and friends of the handler class made at install time call it."""

    def __init__(self, kinds: tuple[tuple[type[Any], str], ...], engines: tuple[type[Any], ...]) -> None:
        self._kinds = kinds
        self._engines = engines
        self._open: dict[str, _Open] = {}
        self._kind_of: dict[type[Any], str] = {}
        self.siblings = Siblings()
        self.framing = Framing()

    def enter(self, id_: str, instance: Any, parent_id: str | None) -> None:
        if instance is None:
            return
        self.framing.own(instance)  # a copy of a framed instance runs its own methods, in a stage or not
        if spans.active_path() is None:
            return
        parent = None if parent_id is None else self._open.get(parent_id)
        if parent is not None and parent.instance is instance:
            self._open[id_] = _Open(None, instance)  # merged into the component's span
            self._frame(instance, id_)
            return
        if parent is None and isinstance(instance, self._engines):
            self._open[id_] = _Open(None, instance)  # the engine a stage called is the stage
            return
        cls = type(instance)
        kind = self._kind_of.get(cls)
        if kind is None:
            found = next((kind for base, kind in self._kinds if isinstance(instance, base)), None)
            kind = self._kind_of[cls] = found or kind_from_names(cls.__name__)
        handle = spans.open_span(self.siblings.name(safe_name(cls.__name__), instance), kind)
        self._open[id_] = _Open(handle, instance)

    def exit(self, id_: str, error: BaseException | None) -> None:
        found = self._open.pop(id_, None)
        if found is not None and found.handle is not None:
            self.siblings.release(found.handle.span)
            spans.close_span(found.handle, error)

    def _frame(self, instance: Any, id_: str) -> None:
        method = id_[:-_UUID_TAIL].rpartition(".")[2]
        if self.framing.has(instance, method):
            return
        function = getattr(type(instance), method, None)
        if function is not None and not inspect.iscoroutinefunction(function):
            self.framing.frame(instance, {method: spans.framed})


def _make_handler(logic: _Spans) -> Any:
    """A `BaseSpanHandler` that hands every span to `logic` and keeps none of its own.

    `logic` is a closure variable, not a pydantic private attribute: those are read through
    `__getattr__`, which would cost a few µs per span.
    """
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
    from llama_index_instrumentation.span.simple import SimpleSpan

    class RagperfSpanHandler(BaseSpanHandler[SimpleSpan]):
        @classmethod
        def class_name(cls) -> str:
            return "RagperfSpanHandler"

        def new_span(
            self,
            id_: str,
            bound_args: inspect.BoundArguments,
            instance: Any | None = None,
            parent_span_id: str | None = None,
            tags: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> SimpleSpan | None:
            logic.enter(id_, instance, parent_span_id)
            return None  # LlamaIndex keeps no span of ours: ragperf records its own

        def prepare_to_exit_span(
            self,
            id_: str,
            bound_args: inspect.BoundArguments,
            instance: Any | None = None,
            result: Any | None = None,
            **kwargs: Any,
        ) -> SimpleSpan | None:
            logic.exit(id_, None)
            return None

        def prepare_to_drop_span(
            self,
            id_: str,
            bound_args: inspect.BoundArguments,
            instance: Any | None = None,
            err: BaseException | None = None,
            **kwargs: Any,
        ) -> SimpleSpan | None:
            logic.exit(id_, err)
            return None

    return RagperfSpanHandler()


class LlamaIndexAdapter(FrameworkAdapter):
    """LlamaIndex (llama-index-core) component runs as spans, through a span handler on the root dispatcher."""

    name = "llamaindex"
    module = "llama_index.core"
    distribution = "llama-index-core"

    def __init__(self) -> None:
        self._handler: Any = None
        self._spans: _Spans | None = None

    def install(self) -> None:
        """Add the span handler to the root dispatcher, which every LlamaIndex dispatcher propagates to."""
        from llama_index.core.base.base_query_engine import BaseQueryEngine
        from llama_index.core.base.base_retriever import BaseRetriever
        from llama_index.core.base.embeddings.base import BaseEmbedding
        from llama_index.core.base.llms.base import BaseLLM
        from llama_index.core.chat_engine.types import BaseChatEngine
        from llama_index.core.postprocessor.types import BaseNodePostprocessor
        from llama_index_instrumentation import get_dispatcher

        kinds = (
            (BaseRetriever, "retrieval"),
            (BaseLLM, "generation"),
            (BaseNodePostprocessor, "rerank"),
            (BaseEmbedding, "embedding"),
        )
        self._spans = _Spans(kinds, (BaseQueryEngine, BaseChatEngine))
        self._handler = _make_handler(self._spans)
        get_dispatcher().add_span_handler(self._handler)

    def uninstall(self) -> None:
        """Remove the span handler and the framing."""
        from llama_index_instrumentation import get_dispatcher

        if self._handler is None:
            return
        handlers = get_dispatcher().span_handlers
        handlers[:] = [handler for handler in handlers if handler is not self._handler]  # pydantic's == is by value
        if self._spans is not None:
            self._spans.framing.unframe_all()
            self._spans.siblings.clear()
        self._handler = self._spans = None

    def as_stage(self, obj: Any, inputs: Mapping[str, Any]) -> Callable[[State], Any]:
        """`obj.query(state.query)` (query engines), or `obj.chat` (chat engines), `obj.retrieve` (retrievers)."""
        for method in ("query", "chat", "retrieve"):
            call = getattr(obj, method, None)
            if callable(call):
                break
        else:
            kind = type(obj).__name__
            msg = f"pipeline.app returned a LlamaIndex {kind}, which has no query, chat or retrieve method"
            raise ConfigError(msg)

        def query_engine(state: State) -> Any:
            return call(state.query)

        return query_engine
