"""Haystack: every component run of a pipeline becomes a span, through a `haystack.tracing.Tracer`.

The tracer is enabled with `haystack.tracing.enable_tracing`; a tracer the user already had
(OpenTelemetry, Datadog, their own) is kept and called inside ours, so their traces carry on,
and it is put back when ragperf uninstalls. Each `haystack.component.run` operation opens a span
named as the pipeline names the component (`retriever`, `prompt_builder`, `llm`); the pipeline's
own `haystack.pipeline.run` is no span, so components sit directly under the stage that ran it.

Framing: on each `haystack.pipeline.run`, the tracer takes the pipeline from the frame that
started it and shadows `run` on every component of its graph (`graph.nodes[name]["instance"]`),
which the pipeline calls once the component's span is open. The first query frames them; the
warm-up queries run before measuring. `run_async` is not framed.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

from ragperf import spans
from ragperf.errors import ConfigError
from ragperf.frameworks.base import FrameworkAdapter
from ragperf.frameworks.components import Framing, Siblings, kind_from_names, safe_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import FrameType

    from ragperf.state import State

__all__ = ["HaystackAdapter"]

_COMPONENT_RUN = "haystack.component.run"
_PIPELINE_RUN = "haystack.pipeline.run"
_QUERY = "{query}"
_QUERY_INPUTS = ("query", "question", "text")  # the inputs the query goes to when [pipeline.input] is not set
_FRAME_DEPTH = 6  # frames between the tracer and Pipeline.run (contextlib, Haystack's proxy tracer)


class _Tracer:
    """The tracing logic, mixed into `haystack.tracing.Tracer` at install time."""

    def __init__(self, inner: Any, pipeline_type: type[Any], null_span: Any) -> None:
        self._inner = inner  # the user's tracer, or None
        self._pipeline_type = pipeline_type
        self._null_span = null_span
        self.siblings = Siblings()
        self.framing = Framing()

    @contextlib.contextmanager
    def trace(self, operation_name: str, tags: dict[str, Any] | None = None, parent_span: Any = None) -> Iterator[Any]:
        """Open a ragperf span around a component run, inside the user's tracer's span if there is one."""
        handle = None
        if operation_name == _PIPELINE_RUN:  # in a stage or not: a copied component must run its own code
            self._frame_pipeline()
        elif operation_name == _COMPONENT_RUN and spans.active_path() is not None:
            handle = self._open(tags or {})
        try:
            if self._inner is None:
                yield self._null_span
            else:
                with self._inner.trace(operation_name, tags=tags, parent_span=parent_span) as span:
                    yield span
        except BaseException as exc:
            self._close(handle, exc)
            raise
        self._close(handle, None)

    def current_span(self) -> Any:
        """The user's tracer's current span (ragperf's spans are not Haystack spans)."""
        return None if self._inner is None else self._inner.current_span()

    def _open(self, tags: dict[str, Any]) -> spans.SpanHandle | None:
        name = safe_name(tags.get("haystack.component.name"))
        kind = kind_from_names(str(tags.get("haystack.component.type", "")))
        if kind == "other":
            kind = kind_from_names(str(tags.get("haystack.component.fully_qualified_type", "")))
        return spans.open_span(self.siblings.name(name, name), kind)

    def _close(self, handle: spans.SpanHandle | None, error: BaseException | None) -> None:
        if handle is not None:
            self.siblings.release(handle.span)
            spans.close_span(handle, error)

    def _frame_pipeline(self) -> None:
        frame: FrameType | None = sys._getframe(2)  # the pipeline object is only on the stack
        for _ in range(_FRAME_DEPTH):
            if frame is None:
                return
            pipeline = frame.f_locals.get("self") if frame.f_code.co_varnames[:1] == ("self",) else None
            if isinstance(pipeline, self._pipeline_type):
                frame_components(pipeline, self.framing)
                return
            frame = frame.f_back


def frame_components(pipeline: Any, framing: Framing) -> None:
    """Shadow `run` on each component of `pipeline` (done once per instance)."""
    for _, data in pipeline.graph.nodes(data=True):
        instance = data.get("instance")
        if instance is not None:
            framing.frame(instance, {"run": spans.framed})


class HaystackAdapter(FrameworkAdapter):
    """Haystack (haystack-ai) component runs as spans, through a tracer chained to the user's."""

    name = "haystack"
    module = "haystack"
    distribution = "haystack-ai"

    def __init__(self) -> None:
        self._tracer: Any = None  # a _Tracer mixed into Haystack's Tracer
        self._previous: Any = None

    def install(self) -> None:
        """Enable ragperf's tracer, calling the one that was enabled before it."""
        from haystack.core.pipeline.base import PipelineBase
        from haystack.tracing.tracer import NullSpan, NullTracer, Tracer, enable_tracing, tracer

        self._previous = tracer.actual_tracer
        inner = None if isinstance(self._previous, NullTracer) else self._previous
        cls = type("RagperfTracer", (_Tracer, Tracer), {})
        self._tracer = cls(inner, PipelineBase, NullSpan())
        enable_tracing(self._tracer)

    def uninstall(self) -> None:
        """Put the previous tracer back (unless something replaced ours since) and the components' own `run`."""
        from haystack.tracing.tracer import tracer

        ours: _Tracer | None = self._tracer
        if ours is None:
            return
        if tracer.actual_tracer is self._tracer:
            tracer.actual_tracer = self._previous
        ours.framing.unframe_all()
        ours.siblings.clear()
        self._tracer = None

    def as_stage(self, obj: Any, inputs: Mapping[str, Any]) -> Callable[[State], Any]:
        """`obj.run(data)`, the query put where `[pipeline.input]` says, "{query}" standing for it."""
        mapping = {name: dict(values) for name, values in inputs.items()} or _default_inputs(obj)
        unknown = sorted(set(mapping) - set(obj.graph.nodes))
        if unknown:
            msg = (
                f"pipeline.input names '{unknown[0]}', which is no component of the pipeline "
                f"(its components: {', '.join(obj.graph.nodes)}); fix the name"
            )
            raise ConfigError(msg)
        run = obj.run

        def run_pipeline(state: State) -> Any:
            return run(data=_fill(mapping, state.query))

        return run_pipeline


def _fill(mapping: dict[str, dict[str, Any]], query: str) -> dict[str, dict[str, Any]]:
    return {
        name: {key: value.replace(_QUERY, query) if isinstance(value, str) else value for key, value in values.items()}
        for name, values in mapping.items()
    }


def _default_inputs(pipeline: Any) -> dict[str, dict[str, Any]]:
    """The query into every open input named query, question or text; a required input left is an error."""
    mapping: dict[str, dict[str, Any]] = {}
    for name, sockets in pipeline.inputs().items():
        for socket, info in sockets.items():
            if socket in _QUERY_INPUTS:
                mapping.setdefault(name, {})[socket] = _QUERY
            elif info.get("is_mandatory"):
                msg = (
                    f"the Haystack pipeline needs input '{name}.{socket}', which ragperf cannot fill from the query; "
                    f'map it in [pipeline.input], e.g. {name} = {{ {socket} = "{_QUERY}" }}'
                )
                raise ConfigError(msg)
    if not mapping:
        msg = (
            "the Haystack pipeline has no open input named query, question or text; say where the query goes "
            'in [pipeline.input], e.g. retriever = { query = "{query}" }'
        )
        raise ConfigError(msg)
    return mapping
