"""LangChain: every runnable, retriever, model and tool run becomes a span, through LangChain's callbacks.

The hook is a callback handler that langchain-core adds to every run it configures
(`register_configure_hook` with a context variable whose default is the handler, so threads
that start with an empty context see it too). Each start event opens a span under the
innermost open one, keyed by `run_id`; the matching end or error event closes it.

Names are LangChain's run names (`run_name` from `with_config`, else the class or function
name); a branch of a `RunnableParallel` is named by its key. A `RunnableSequence` with its
default name is no span: its steps are the components, one level up.

Framing: LangChain's events carry no instance, so the handler takes it from the frame that
fired the event (the `self` of `Runnable.invoke`, `BaseRetriever.invoke`,
`BaseChatModel.generate`, ...). It then shadows, on that instance, the method that does the
component's work after its span is open: `_get_relevant_documents` (retrievers), `_generate`
(chat models and LLMs), `_run` (tools), or `_call_with_config` for the other runnables (prompts,
parsers, lambdas), whose work function it frames on each call.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ragperf import spans
from ragperf.frameworks.base import FrameworkAdapter
from ragperf.frameworks.components import Framing, Siblings, kind_from_names, safe_name

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import CodeType, FrameType
    from uuid import UUID

    from ragperf.state import State

__all__ = ["LangChainAdapter"]

_BRANCH_TAG = "map:key:"  # the tag RunnableParallel gives each branch's run
_SEQUENCE = "RunnableSequence"
_FRAME_DEPTH = 8  # frames between the handler and the runnable that fired the event
_hook: ContextVar[Any] | None = None  # registered with langchain-core once per process


def _frame_work(call_with_config: Callable[..., Any]) -> Callable[..., Any]:
    """Shadow `Runnable._call_with_config`: the work function it runs inside the run's span, framed.

    The work function is mostly the same bound method each call (`self._invoke`): its framed
    wrapper is kept, with its signature, which LangChain inspects on every call.
    """
    last: list[Any] = [None, None]  # the work function, its framed wrapper

    def shadow(func: Callable[..., Any], input_: Any, config: Any, *args: Any, **kwargs: Any) -> Any:
        if func != last[0]:
            wrapper = spans.framed(func)
            with contextlib.suppress(TypeError, ValueError):  # no signature to copy: inspect follows __wrapped__
                wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
            last[:] = [func, wrapper]
        return call_with_config(last[1], input_, config, *args, **kwargs)

    return shadow


class _Handler:
    """The callback logic, mixed into `BaseCallbackHandler` at install time."""

    run_inline = True  # async managers then call it in the run's own context, where its span must open
    raise_error = False

    def __init__(self, runnable: type[Any], work: Mapping[type[Any], str]) -> None:
        super().__init__()
        self._runnable = runnable
        self._passed: set[CodeType] = set()  # code up the stack that is never a component's
        self._work = tuple(work.items())
        self._runs: dict[UUID, spans.SpanHandle] = {}
        self.siblings = Siblings()
        self.framing = Framing()

    def _component(self) -> Any:
        """The runnable whose method fired the event: the first `self` up the stack that is one."""
        frame: FrameType | None = sys._getframe(2)  # the instance is only on the stack
        passed = self._passed
        for _ in range(_FRAME_DEPTH):
            if frame is None:
                return None
            code = frame.f_code
            if code not in passed:
                obj = frame.f_locals.get("self") if code.co_argcount and code.co_varnames[0] == "self" else None
                if isinstance(obj, self._runnable):
                    return obj
                passed.add(code)  # LangChain's dispatch (handle_event, the run managers): never a component's code
            frame = frame.f_back
        return None

    def _frame(self, instance: Any) -> None:
        for cls, method in self._work:
            if isinstance(instance, cls):
                self.framing.frame(instance, {method: spans.framed})
                return
        self.framing.frame(instance, {"_call_with_config": _frame_work})

    def _start(self, run_id: UUID, name: str | None, tags: list[str] | None, kind: str | None) -> None:
        instance = self._component()
        if spans.active_path() is None:  # outside a ragperf stage (teardown): no span, but a copy runs its own code
            if instance is not None:
                self.framing.own(instance)
            return
        branch = next((tag[len(_BRANCH_TAG) :] for tag in tags or () if tag.startswith(_BRANCH_TAG)), None)
        if branch is None and name == _SEQUENCE:
            return
        if instance is not None:
            self._frame(instance)
        label = branch or name or (type(instance).__name__ if instance is not None else None)
        handle = spans.open_span(self.siblings.name(safe_name(label), instance), kind or kind_from_names(label or ""))
        if handle is not None:
            self._runs[run_id] = handle

    def _end(self, run_id: UUID, error: BaseException | None = None) -> None:
        handle = self._runs.pop(run_id, None)
        if handle is not None:
            self.siblings.release(handle.span)
            spans.close_span(handle, error)

    def on_chain_start(
        self, serialized: Any, inputs: Any, *, run_id: UUID, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        """A runnable started (sequence, parallel, prompt, lambda, parser, ...)."""
        self._start(run_id, kwargs.get("name"), tags, None)

    def on_retriever_start(
        self, serialized: Any, query: str, *, run_id: UUID, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        """A retriever started."""
        self._start(run_id, kwargs.get("name"), tags, "retrieval")

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        """A chat model started."""
        self._start(run_id, kwargs.get("name"), tags, "generation")

    def on_llm_start(
        self, serialized: Any, prompts: Any, *, run_id: UUID, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        """A text-completion model started."""
        self._start(run_id, kwargs.get("name"), tags, "generation")

    def on_tool_start(
        self, serialized: Any, input_str: str, *, run_id: UUID, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        """A tool started."""
        self._start(run_id, kwargs.get("name"), tags, None)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A runnable ended."""
        self._end(run_id)

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A retriever ended."""
        self._end(run_id)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A model ended (chat models end with this event too)."""
        self._end(run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool ended."""
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A runnable raised."""
        self._end(run_id, error)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A retriever raised."""
        self._end(run_id, error)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A model raised."""
        self._end(run_id, error)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool raised."""
        self._end(run_id, error)


class LangChainAdapter(FrameworkAdapter):
    """LangChain (langchain-core) runs as spans, through a callback handler on every run."""

    name = "langchain"
    module = "langchain_core"
    distribution = "langchain-core"

    def __init__(self) -> None:
        self._handler: _Handler | None = None

    def install(self) -> None:
        """Make a handler and have langchain-core add it to every run it configures."""
        from langchain_core.callbacks import BaseCallbackHandler
        from langchain_core.language_models import BaseChatModel, BaseLLM
        from langchain_core.retrievers import BaseRetriever
        from langchain_core.runnables import Runnable
        from langchain_core.tools import BaseTool
        from langchain_core.tracers import context

        global _hook  # noqa: PLW0603 - langchain-core keeps its configure hooks for the process
        cls = type("RagperfCallbackHandler", (_Handler, BaseCallbackHandler), {})
        work = {BaseRetriever: "_get_relevant_documents", BaseChatModel: "_generate", BaseLLM: "_generate"}
        self._handler = cls(Runnable, {**work, BaseTool: "_run"})
        _hook = ContextVar("ragperf_langchain_handler", default=self._handler)
        context.register_configure_hook(_hook, inheritable=True)

    def uninstall(self) -> None:
        """Drop the configure hook (langchain-core has no call for it) and the framing."""
        from langchain_core.tracers import context

        global _hook  # noqa: PLW0603
        context._configure_hooks[:] = [hook for hook in context._configure_hooks if hook[0] is not _hook]
        _hook = None
        if self._handler is not None:
            self._handler.framing.unframe_all()
            self._handler.siblings.clear()
            self._handler = None

    def as_stage(self, obj: Any, inputs: Mapping[str, Any]) -> Callable[[State], Any]:
        """`obj.invoke(state.query)`."""
        invoke = obj.invoke

        def invoke_chain(state: State) -> Any:
            return invoke(state.query)

        return invoke_chain
