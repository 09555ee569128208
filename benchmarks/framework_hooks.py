"""Cost per component span of ragperf's framework hooks (LangChain, LlamaIndex, Haystack), in µs.

Two numbers per framework. "hook": ragperf's own part, one span's start and end events handed
straight to the adapter's handler (LangChain callbacks fired from a runnable's method,
LlamaIndex span_enter/span_exit, a Haystack trace block), against the same loop without them;
tight loops, so it is steady on a busy machine. "end to end": runs in one process the same
pipeline of five trivial components, called
(a) with no adapter installed and (b) with the adapter installed and the recorder on, inside a
stage, as the worker runs it. The difference divided by the component spans recorded is the
price of one span: the framework's own dispatch to one more handler or tracer, ragperf's hook
(names, kind, open and close), and the framed call of the component's work. Both sides are
timed in this process's CPU time, so another process on a shared machine does not count, and
rounds alternate, so drift hits both sides alike; the median round is reported. On a busy
machine this one is noisy next to LangChain's own ~200 µs a runnable. For comparison, an
OpenTelemetry SDK span costs about 16 µs on the machine this was written on.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
from time import process_time_ns
from typing import TYPE_CHECKING, Any

from ragperf import spans

if TYPE_CHECKING:
    from collections.abc import Callable

    from ragperf.frameworks.base import FrameworkAdapter

N_COMPONENTS = 5


def langchain_pipeline() -> tuple[Callable[[str], Any], FrameworkAdapter]:
    """Five RunnableLambdas in a sequence."""
    from langchain_core.runnables import RunnableLambda

    from ragperf.frameworks.langchain import LangChainAdapter

    chain = RunnableLambda(lambda x: x)
    for _ in range(N_COMPONENTS - 1):
        chain = chain | RunnableLambda(lambda x: x)
    return chain.invoke, LangChainAdapter()


def llamaindex_pipeline() -> tuple[Callable[[str], Any], FrameworkAdapter]:
    """Five retrievers that find nothing, called one after the other."""
    from llama_index.core.retrievers import BaseRetriever

    from ragperf.frameworks.llamaindex import LlamaIndexAdapter

    class Empty(BaseRetriever):
        def _retrieve(self, query_bundle: Any) -> list[Any]:  # noqa: ARG002 - LlamaIndex's signature
            return []

    retrievers = [Empty() for _ in range(N_COMPONENTS)]

    def query(text: str) -> None:
        for retriever in retrievers:
            retriever.retrieve(text)

    return query, LlamaIndexAdapter()


def haystack_pipeline() -> tuple[Callable[[str], Any], FrameworkAdapter]:
    """Five components passing a string along."""
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    from haystack import Pipeline, component

    from ragperf.frameworks.haystack import HaystackAdapter

    @component
    class Pass:
        @component.output_types(text=str)
        def run(self, text: str) -> dict[str, str]:
            return {"text": text}

    pipeline = Pipeline()
    for i in range(N_COMPONENTS):
        pipeline.add_component(f"c{i}", Pass())
        if i:
            pipeline.connect(f"c{i - 1}.text", f"c{i}.text")
    return lambda text: pipeline.run({"c0": {"text": text}}), HaystackAdapter()


def timed(run: Callable[[str], Any], queries: int, recorder: spans.Recorder | None) -> tuple[int, int]:
    """(ns for `queries` runs inside a stage, spans recorded per query)."""
    spans.install(recorder)
    gc.collect()
    gc.disable()  # a collection landing in one side only is noise of tens of µs per query
    start = process_time_ns()
    for _ in range(queries):
        with spans.stage("rag"):
            run("what is the capital of france")
    elapsed = process_time_ns() - start
    gc.enable()
    spans.install(None)
    recorded = 0
    if recorder is not None:
        recorded = len(recorder.drain()) // queries - 1  # the stage's own span is not a component's
    return elapsed, recorded


def hook_loops() -> tuple[dict[str, Callable[[], None]], list[FrameworkAdapter]]:
    """One component span's events per call, straight into each adapter's handler."""
    import uuid

    from langchain_core.runnables import RunnableLambda
    from llama_index.core.retrievers import BaseRetriever

    from ragperf.frameworks.haystack import HaystackAdapter
    from ragperf.frameworks.langchain import LangChainAdapter
    from ragperf.frameworks.llamaindex import LlamaIndexAdapter

    langchain, llamaindex, haystack = LangChainAdapter(), LlamaIndexAdapter(), HaystackAdapter()
    for adapter in (langchain, llamaindex, haystack):
        adapter.install()
    handler, span_handler = langchain._handler, llamaindex._handler
    run_id = uuid.uuid4()

    class Fires(RunnableLambda[str, str]):
        def fire(self) -> None:  # the runnable's method the handler finds up the stack
            handler.on_chain_start(None, {}, run_id=run_id, name="lambda")  # type: ignore[union-attr]
            handler.on_chain_end({}, run_id=run_id)  # type: ignore[union-attr]

    class Empty(BaseRetriever):
        def _retrieve(self, query_bundle: Any) -> list[Any]:  # noqa: ARG002 - LlamaIndex's signature
            return []

    fires, retriever = Fires(lambda x: x), Empty()
    span_id = "Empty.retrieve-" + str(uuid.uuid4())
    bound: Any = None
    tags = {"haystack.component.name": "retriever", "haystack.component.type": "Retriever"}
    tracer = haystack._tracer

    def llama() -> None:
        span_handler.span_enter(id_=span_id, bound_args=bound, instance=retriever, parent_id=None)
        span_handler.span_exit(id_=span_id, bound_args=bound, instance=retriever, result=None)

    def hay() -> None:
        with tracer.trace("haystack.component.run", tags):
            pass

    return {"langchain": fires.fire, "llamaindex": llama, "haystack": hay}, [langchain, llamaindex, haystack]


def hook_cost(fire: Callable[[], None], n: int = 20_000) -> float:
    """µs per span: the loop firing one span's events, minus the same loop calling nothing."""
    recorder = spans.Recorder()

    def nothing() -> None:
        pass

    costs = []
    for _ in range(7):
        spent = []
        for fn in (nothing, fire):
            spans.install(recorder)
            with spans.stage("rag"):
                start = process_time_ns()
                for _ in range(n):
                    fn()
                spent.append(process_time_ns() - start)
            spans.install(None)
            recorder.drain()
        costs.append((spent[1] - spent[0]) / n / 1000)
    return statistics.median(costs)


def measure(name: str, make: Callable[[], tuple[Callable[[str], Any], FrameworkAdapter]], args: Any) -> float:
    """µs per component span of one framework's hooks."""
    run, adapter = make()
    recorder = spans.Recorder()
    per_span = []
    for _ in range(args.repeats):
        timed(run, 5, None)  # warm: the first calls build caches and frame the components
        base, _ = timed(run, args.queries, None)
        adapter.install()
        timed(run, 5, recorder)
        recorder.drain()
        hooked, recorded = timed(run, args.queries, recorder)
        adapter.uninstall()
        assert recorded == N_COMPONENTS, (name, recorded)
        per_span.append((hooked - base) / args.queries / recorded / 1000)
        ratio = hooked / base
    cost = statistics.median(per_span)
    low, high = statistics.quantiles(per_span, n=4)[0], statistics.quantiles(per_span, n=4)[2]
    print(
        f"{name:11s} {cost:6.1f} µs per component span: end to end (median of {args.repeats}, "
        f"quartiles {low:.1f}-{high:.1f}; last round {ratio:.2f}x the unhooked time)"
    )
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=101)
    args = parser.parse_args()
    loops, adapters = hook_loops()
    for name, fire in loops.items():
        print(f"{name:11s} {hook_cost(fire):6.1f} µs per component span: hook (ragperf's part)")
    for adapter in adapters:
        adapter.uninstall()
    for name, make in (
        ("langchain", langchain_pipeline),
        ("llamaindex", llamaindex_pipeline),
        ("haystack", haystack_pipeline),
    ):
        measure(name, make, args)


if __name__ == "__main__":
    main()
