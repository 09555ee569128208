"""The adapters in-process (no worker): activation, configuration, names, uninstalling, copies, a user's tracer."""

from __future__ import annotations

import contextlib
import copy
import subprocess
import sys
import textwrap

import pytest
from fw_helpers import PIPELINES

from ragperf import spans
from ragperf.config import Config, load_config
from ragperf.errors import ConfigError
from ragperf.frameworks import registry
from ragperf.frameworks.components import Siblings, safe_name

pytest.importorskip("langchain_core", reason="langchain-core is not installed (pip install 'ragperf[frameworks]')")
pytest.importorskip("llama_index.core", reason="llama-index-core is not installed (pip install 'ragperf[frameworks]')")
pytest.importorskip("haystack", reason="haystack-ai is not installed (pip install 'ragperf[frameworks]')")

sys.path.insert(0, str(PIPELINES))  # the test pipelines' modules, as the worker imports them

FRAMEWORK_MODULES = ("langchain_core", "llama_index", "haystack")


@contextlib.contextmanager
def recording(stage: str = "rag"):
    """Record spans as the worker does, inside one stage; yields the recorder."""
    recorder = spans.Recorder()
    spans.install(recorder)
    try:
        with spans.stage(stage):
            yield recorder
    finally:
        spans.install(None)


def paths(recorder: spans.Recorder) -> list[str]:
    """Span paths in the order they ended."""
    return [record[0] for record in recorder.spans]


def test_activation_imports_no_framework_the_pipeline_did_not():
    # GIVEN a process that imported no framework WHEN the worker's activation runs
    code = textwrap.dedent(
        f"""
        import sys
        from ragperf.frameworks import registry
        active = registry.activate()
        print(len(registry.available_frameworks()), [a.name for a in active],
              sorted({{m.split(".")[0] for m in sys.modules if m.startswith({FRAMEWORK_MODULES!r})}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(" ", 1)
    # THEN every adapter was looked at, none installed, and no framework module was imported
    assert out == ["3", "[] []\n"]


def test_activation_installs_what_is_imported_except_what_is_disabled():
    # GIVEN all three frameworks imported (this process) WHEN activation runs with langchain disabled
    import haystack  # noqa: F401
    import langchain_core  # noqa: F401
    import llama_index.core  # noqa: F401

    active = registry.activate(disable=("langchain",))
    try:
        # THEN the other two are installed
        assert [a.name for a in active] == ["haystack", "llamaindex"]
    finally:
        registry.deactivate(active)
    # AND with enabled = false none is
    assert registry.activate(enabled=False) == []


def _config_error(tmp_path, text: str) -> str:
    path = tmp_path / "ragperf.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_config_mistakes_are_one_line_with_the_fix(tmp_path):
    # GIVEN a misspelt adapter name THEN the error names the valid ones
    message = _config_error(tmp_path, '[pipeline]\napp = "m:f"\n[frameworks]\ndisable = ["langchian"]\n')
    assert "no framework adapter named 'langchian'; valid names: haystack, langchain, llamaindex" in message
    # AND neither stages nor an app, both, or app with setup each say what to do, on one line
    assert "or set [pipeline] app" in _config_error(tmp_path, '[pipeline]\nname = "x"\n')
    both = '[pipeline]\napp = "m:f"\n[[stages]]\nname = "a"\ncall = "m:g"\n'
    assert "remove it or the [[stages]] entries" in _config_error(tmp_path, both)
    assert "not both" in _config_error(tmp_path, '[pipeline]\napp = "m:f"\nsetup = "m:s"\n')
    assert "set 'app' too" in _config_error(
        tmp_path, '[pipeline.input]\nr = { query = "{query}" }\n[[stages]]\nname = "a"\ncall = "m:g"\n'
    )
    for text in (message, _config_error(tmp_path, '[pipeline]\nname = "x"\n')):
        assert "\n" not in text


def test_app_stage_is_named_after_the_pipeline_or_app():
    # GIVEN [pipeline] app with and without a name THEN its one stage is named after it, or "app"
    named = Config.model_validate({"pipeline": {"app": "m:f", "name": "my-rag"}})
    assert [(s.name, s.call) for s in named.all_stages] == [("my-rag", "m:f")]
    assert [s.name for s in Config.model_validate({"pipeline": {"app": "m:f"}}).all_stages] == ["app"]
    assert [s.name for s in Config.model_validate({"pipeline": {"app": "m:f", "name": "a b"}}).all_stages] == ["app"]


def test_names_are_safe_for_a_path_and_distinct_per_parent_run():
    # GIVEN names a framework may give THEN dots, spaces and brackets become one '_'
    assert safe_name("llm.openai v2") == "llm_openai_v2"
    assert safe_name("RunnableParallel<context,question>") == "RunnableParallel_context_question"
    assert safe_name("...") == "component"
    # AND under one parent run two components of one name differ, one component twice keeps its name
    siblings, a, b = Siblings(), object(), object()
    recorder = spans.Recorder()
    spans.install(recorder)
    try:
        for _ in range(2):  # two queries: the same names each time
            with spans.stage("rag"):
                assert [siblings.name("Retriever", id(x)) for x in (a, b, a)] == [
                    "Retriever",
                    "Retriever_2",
                    "Retriever",
                ]
    finally:
        spans.install(None)


def test_langchain_uninstall_leaves_langchain_as_it_was():
    # GIVEN the LangChain adapter installed and a chain run once in a stage
    from langchain_core.tracers import context
    from lc_pipeline import make_chain

    from ragperf.frameworks.langchain import LangChainAdapter

    chain = make_chain({"rounds": 1})
    hooks = list(context._configure_hooks)
    adapter = LangChainAdapter()
    adapter.install()
    with recording() as recorder:
        chain.invoke("what is w1")
    retriever = chain.first.steps__["context"].first
    assert "_get_relevant_documents" in vars(retriever)
    assert "rag.RunnableParallel_context_question.context.BM25Retriever" in paths(recorder)
    # WHEN it is uninstalled
    adapter.uninstall()
    # THEN the configure hook is gone and the retriever runs its own method again
    assert context._configure_hooks == hooks
    assert "_get_relevant_documents" not in vars(retriever)
    with recording() as recorder:
        chain.invoke("what is w1")
    assert paths(recorder) == ["rag"]


def test_a_copy_of_a_framed_component_runs_its_own_method():
    # GIVEN a LangChain retriever framed by a first run
    from fw_bm25 import Index, make_corpus
    from lc_pipeline import BM25Retriever

    from ragperf.frameworks.langchain import LangChainAdapter

    retriever = BM25Retriever(index=Index(make_corpus(200)), k=3, rounds=1)
    adapter = LangChainAdapter()
    adapter.install()
    try:
        with recording():
            retriever.invoke("w1 w2")
        # WHEN it is copied with another k (pydantic copies the instance's attributes, framed ones too)
        for clone in (retriever.model_copy(update={"k": 1}), copy.deepcopy(retriever).model_copy(update={"k": 1})):
            # THEN the copy returns its own k documents, in a stage or outside any
            with recording():
                assert len(clone.invoke("w1 w2")) == 1
            assert len(clone.invoke("w1 w2")) == 1
    finally:
        adapter.uninstall()


def test_llamaindex_handler_is_removed_by_uninstall():
    # GIVEN the LlamaIndex adapter installed and a query run in a stage
    from li_pipeline import make_engine
    from llama_index_instrumentation import get_dispatcher

    from ragperf.frameworks.llamaindex import LlamaIndexAdapter

    engine = make_engine({"rounds": 1})
    before = list(get_dispatcher().span_handlers)
    adapter = LlamaIndexAdapter()
    adapter.install()
    with recording() as recorder:
        engine.query("what is w1")
    assert paths(recorder)[0] == "rag.BM25Retriever"
    # WHEN it is uninstalled THEN the dispatcher has its own handlers only, and the retriever its own method
    adapter.uninstall()
    assert [id(h) for h in get_dispatcher().span_handlers] == [id(h) for h in before]
    assert "_retrieve" not in vars(engine.retriever)


def test_haystack_tracer_chains_to_the_users_and_gives_it_back():
    # GIVEN a user's own Haystack tracer, enabled before ragperf's
    from haystack.tracing import tracer as proxy
    from haystack.tracing.tracer import NullSpan, Tracer, enable_tracing
    from hs_pipeline import make_pipeline

    from ragperf.frameworks.haystack import HaystackAdapter

    class UserTracer(Tracer):
        def __init__(self) -> None:
            self.operations: list[str] = []

        @contextlib.contextmanager
        def trace(self, operation_name, tags=None, parent_span=None):  # noqa: ARG002 - Haystack's signature
            self.operations.append(operation_name)
            yield NullSpan()

        def current_span(self):
            return None

    previous = proxy.actual_tracer
    user = UserTracer()
    enable_tracing(user)
    adapter = HaystackAdapter()
    adapter.install()
    try:
        pipeline = make_pipeline({"rounds": 1})
        # WHEN the pipeline runs in a stage
        with recording() as recorder:
            pipeline.run({"retriever": {"query": "w1"}, "prompt_builder": {"question": "w1"}})
        # THEN ragperf recorded the components and the user's tracer still saw every operation
        assert paths(recorder) == ["rag.retriever", "rag.prompt_builder", "rag.llm", "rag"]
        assert user.operations == ["haystack.pipeline.run"] + ["haystack.component.run"] * 3
    finally:
        adapter.uninstall()
        # AND uninstalling puts the user's tracer back
        assert proxy.actual_tracer is user
        proxy.actual_tracer = previous


def test_haystack_app_input_defaults_to_query_inputs_or_names_the_fix():
    # GIVEN a Haystack pipeline as [pipeline] app without [pipeline.input]
    from haystack import Pipeline, component
    from hs_pipeline import make_pipeline

    from ragperf.frameworks.haystack import HaystackAdapter
    from ragperf.state import State

    adapter = HaystackAdapter()
    # THEN the query goes to its open inputs named query and question
    result = adapter.as_stage(make_pipeline({"rounds": 1}), {})(State("what is w1"))
    assert result["llm"]["replies"][0].startswith("Answer from the context.")

    # AND a required input ragperf cannot fill is an error with the TOML that fixes it
    @component
    class Needs:
        @component.output_types(out=str)
        def run(self, filters: dict) -> dict:  # type: ignore[type-arg]  # noqa: ARG002 - an input it needs
            return {"out": ""}

    odd = Pipeline()
    odd.add_component("store", Needs())
    with pytest.raises(ConfigError, match=r"map it in \[pipeline.input\], e.g. store = \{ filters = \"\{query\}\" \}"):
        adapter.as_stage(odd, {})
    # AND a mapping naming no component says which there are
    with pytest.raises(ConfigError, match="its components: store"):
        adapter.as_stage(odd, {"retriver": {"query": "{query}"}})
