"""The stdlib docstring corpus: collection in a sandboxed subprocess, passages, on-disk cache."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from ragperf_demo import cache, corpus
from ragperf_demo.corpus import Entity, build_passages, collect_entities, load_corpus
from ragperf_demo.queries import load_queries

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf_demo.pipeline import DemoContext


@pytest.fixture(scope="module")
def entities() -> list[Entity]:
    """The full collection, once for this module (about a second)."""
    return collect_entities()


def test_collection_is_large_and_skips_modules_with_side_effects(entities: list[Entity]) -> None:
    # GIVEN the entities collected from this interpreter's standard library
    modules = {e.module for e in entities}
    # THEN there are thousands of them, covering the usual modules
    assert len(entities) > 5000
    assert {"json", "os", "os.path", "collections", "asyncio", "builtins"} <= modules
    # AND nothing from modules that print, open windows or browsers, or are test suites
    forbidden = re.compile(r"^(antigravity|this|idlelib|tkinter|turtle|turtledemo|test|lib2to3|ensurepip)(\.|$)")
    assert not [m for m in modules if forbidden.match(m)]
    assert not [m for m in modules if m.endswith("__main__") or ".test" in m]


def test_collection_names_objects_as_users_know_them(entities: list[Entity]) -> None:
    # GIVEN the collected entity names
    names = {e.name for e in entities}
    # THEN re-exports use the public path and C back ends are not exposed
    assert {"asyncio.run", "os.path.join", "threading.Lock", "random.choice", "json.loads"} <= names
    assert "asyncio.runners.run" not in names
    assert not [n for n in names if n.startswith(("posix.", "posixpath.", "_"))]


def test_collection_is_deterministic(entities: list[Entity]) -> None:
    # GIVEN a first collection
    # WHEN the stdlib is collected again in a fresh subprocess
    again = collect_entities()
    # THEN the result is identical, entity for entity
    assert again == entities


def test_passages_have_unique_stable_ids(entities: list[Entity]) -> None:
    # GIVEN passages built from the full collection
    passages = build_passages(entities)
    ids = [p.id for p in passages]
    # THEN ids are unique, chunk ids extend the entity name, and the corpus is about 7,000 strong
    assert len(ids) == len(set(ids))
    assert 6000 < len(passages) < 9000
    assert all(p.id == p.entity or re.fullmatch(re.escape(p.entity) + r"#\d+", p.id) for p in passages)
    assert all(p.text.strip() for p in passages)
    assert all(len(p.text.split()) <= 2 * corpus.CHUNK_WORDS for p in passages)


def test_limit_gives_exactly_that_many_passages_from_popular_modules(demo_ctx: DemoContext) -> None:
    # GIVEN the session context built with corpus_limit=300
    passages = demo_ctx.corpus.passages
    # THEN it holds 300 passages, and the popular modules come first
    assert len(passages) == 300
    assert {"json", "os", "re", "collections"} <= {p.module for p in passages}


def test_second_load_reads_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a collection (faked: two entities) cached in an empty folder
    monkeypatch.setenv("RAGPERF_DEMO_CACHE", str(tmp_path))
    fake = [
        Entity("json", "module", "json", "", "JSON encoder and decoder."),
        Entity("json.loads", "function", "json", "(s)", "Deserialize s to a Python object."),
    ]
    monkeypatch.setattr(corpus, "collect_entities", lambda: fake)
    first = load_corpus()
    files = sorted(p.name for p in tmp_path.iterdir())

    # WHEN the corpus is loaded again while collecting would fail
    def refuse() -> list[Entity]:
        raise AssertionError("collected again instead of reading the cache")

    monkeypatch.setattr(corpus, "collect_entities", refuse)
    second = load_corpus()
    # THEN the cached copy comes back, and the folder holds one finished file, no temp files
    assert second == first
    assert [p.id for p in second.passages] == ["json", "json.loads"]
    assert len(files) == 1
    assert files[0].startswith("stdlib-")
    assert files[0].endswith(".json")


def test_cache_dir_follows_env_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no explicit cache folder but an XDG cache home
    monkeypatch.delenv("RAGPERF_DEMO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    # THEN the cache goes under it
    assert cache.cache_dir() == tmp_path / "xdg" / "ragperf-demo"
    # WHEN RAGPERF_DEMO_CACHE is set, THEN it wins
    monkeypatch.setenv("RAGPERF_DEMO_CACHE", str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"


def test_load_or_build_rebuilds_a_corrupt_entry(tmp_path: Path) -> None:
    # GIVEN a cache entry that is not a pickle
    entry = tmp_path / "thing.pkl"
    entry.write_bytes(b"garbage")
    # WHEN it is loaded
    value = cache.load_or_build(entry, lambda: {"rebuilt": True})
    # THEN it is rebuilt and rewritten, so the next load reads the new value
    assert value == {"rebuilt": True}
    assert cache.load_or_build(entry, lambda: {"rebuilt": False}) == {"rebuilt": True}


def test_shipped_queries_are_many_unique_and_answerable(entities: list[Entity]) -> None:
    # GIVEN the shipped query set and this interpreter's full corpus
    records = load_queries()
    ids = {p.id for p in build_passages(entities)}
    expected = [r["expected"] for r in records if r.get("expected")]
    # THEN there are at least 150 realistic questions, hand-written and derived, with unique ids
    assert len(records) >= 150
    assert len({r["id"] for r in records}) == len(records)
    assert {r["source"] for r in records} == {"hand", "docstring"}
    assert all(r["query"].strip().endswith("?") or r["source"] == "hand" for r in records)
    # AND (nearly) every expected passage exists here; other Python versions may lose a few
    assert sum(e in ids for e in expected) >= 0.95 * len(expected)
