"""The demo corpus: standard-library docstrings split into passages with stable ids."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ragperf_demo import cache

__all__ = ["Corpus", "Entity", "Passage", "build_passages", "collect_entities", "load_corpus", "stdlib_entities"]

CHUNK_WORDS = 60
_COLLECT_SCRIPT = Path(__file__).with_name("collect.py")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# Modules a small corpus (corpus_limit > 0) draws from first, round robin: the ones people ask about.
PRIORITY_MODULES = (
    "builtins", "json", "os", "os.path", "re", "collections", "itertools", "functools", "pathlib",
    "datetime", "subprocess", "shutil", "sys", "time", "math", "random", "string", "typing",
    "dataclasses", "enum", "logging", "argparse", "csv", "sqlite3", "threading", "asyncio",
    "concurrent.futures", "urllib.parse", "urllib.request", "http.client", "socket", "hashlib",
    "base64", "zipfile", "tarfile", "tempfile", "glob", "io", "pickle", "copy", "heapq", "bisect",
    "statistics", "textwrap", "unittest", "contextlib", "inspect", "traceback", "uuid", "decimal",
    "fractions", "secrets", "queue", "weakref", "abc", "operator", "struct", "gzip", "configparser",
    "email.message", "xml.etree.ElementTree", "html", "shlex", "pprint", "timeit", "difflib",
    "calendar", "zoneinfo", "tomllib", "importlib", "platform", "signal", "select", "ssl",
    "multiprocessing", "array", "locale", "fnmatch", "gc", "warnings", "types", "codecs",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrievable unit: a chunk of one entity's docstring."""

    id: str
    entity: str
    title: str
    text: str
    kind: str
    module: str

    @property
    def search_text(self) -> str:
        """Title and body, the text every index sees."""
        return f"{self.title}\n{self.text}"


@dataclass(frozen=True, slots=True)
class Entity:
    """A documented module, class, function, method or property."""

    name: str
    kind: str
    module: str
    signature: str
    doc: str
    bases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Corpus:
    """Entities (graph nodes) and the passages cut from their docstrings."""

    entities: list[Entity]
    passages: list[Passage]
    digest: str = field(default="")

    def by_id(self) -> dict[str, int]:
        """Passage id -> row number."""
        return {p.id: i for i, p in enumerate(self.passages)}


def collect_entities(timeout_s: float = 300.0) -> list[Entity]:
    """Import the stdlib in an isolated subprocess (-I -S) and read back its docstrings."""
    with tempfile.TemporaryDirectory(prefix="ragperf-demo-collect-") as tmp:
        out = Path(tmp) / "entities.json"
        # cwd is the empty temp folder: some modules read or write files relative to it.
        proc = subprocess.run(  # noqa: S603 - our own interpreter and script, no shell
            [sys.executable, "-I", "-S", str(_COLLECT_SCRIPT), str(out)],
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout_s,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            detail = proc.stderr.decode(errors="replace")[-2000:]
            msg = f"stdlib docstring collection failed (exit {proc.returncode}): {detail}"
            raise RuntimeError(msg)
        raw = json.loads(out.read_text(encoding="utf-8"))
    return [_entity(rec) for rec in raw["entities"]]


def _entity(rec: dict[str, Any]) -> Entity:
    return Entity(
        name=rec["name"],
        kind=rec["kind"],
        module=rec["module"],
        signature=rec.get("signature", ""),
        doc=rec.get("doc", ""),
        bases=tuple(rec.get("bases", ())),
    )


def _chunks(doc: str) -> list[str]:
    """Greedy paragraph packing up to CHUNK_WORDS; overlong paragraphs split at sentences, then lines."""
    pieces: list[str] = []
    for raw in re.split(r"\n\s*\n", doc):
        para = raw.strip()
        if not para:
            continue
        if len(para.split()) <= CHUNK_WORDS:
            pieces.append(para)
            continue
        for sentence in _SENTENCE_END.split(para):
            if len(sentence.split()) <= CHUNK_WORDS:
                pieces.append(sentence)
                continue
            # Tables and lists have no sentence ends: cut them by lines, then by words.
            for line in sentence.splitlines():
                words = line.split()
                pieces.extend(" ".join(words[i : i + CHUNK_WORDS]) for i in range(0, len(words), CHUNK_WORDS))
    chunks: list[str] = []
    current: list[str] = []
    words = 0
    for piece in pieces:
        n = len(piece.split())
        if current and words + n > CHUNK_WORDS:
            chunks.append("\n\n".join(current))
            current, words = [], 0
        current.append(piece)
        words += n
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def _title(ent: Entity) -> str:
    if ent.kind == "module":
        return f"module {ent.name}"
    return f"{ent.kind} {ent.name}{ent.signature}"


def build_passages(entities: list[Entity]) -> list[Passage]:
    """Every entity's docstring as passages: id is the entity name, then name#1, name#2, ..."""
    passages = []
    for ent in entities:
        for i, text in enumerate(_chunks(ent.doc)):
            pid = ent.name if i == 0 else f"{ent.name}#{i}"
            passages.append(Passage(pid, ent.name, _title(ent), text, ent.kind, ent.module))
    return passages


def _limit(entities: list[Entity], limit: int) -> list[Entity]:
    """A deterministic small corpus: round robin over PRIORITY_MODULES, then over the rest."""
    by_module: dict[str, list[int]] = {}
    for i, ent in enumerate(entities):
        by_module.setdefault(ent.module, []).append(i)
    rest = [m for m in by_module if m not in PRIORITY_MODULES]
    chosen: set[int] = set()
    total = 0
    for group in ([m for m in PRIORITY_MODULES if m in by_module], rest):
        queues = [by_module[m] for m in group]
        depth = 0
        while total < limit and any(depth < len(q) for q in queues):
            for q in queues:
                if depth < len(q) and total < limit:
                    chosen.add(q[depth])
                    # Count passages, not entities, so the limit means what the option says.
                    total += len(_chunks(entities[q[depth]].doc))
            depth += 1
    return [ent for i, ent in enumerate(entities) if i in chosen]


def _read_entities(path: Path) -> list[Entity] | None:
    try:
        return [_entity(rec) for rec in json.loads(path.read_bytes())]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or corrupt: collect again


def stdlib_entities(folder: Path | None = None) -> list[Entity]:
    """Every stdlib entity, collected once per interpreter and cache folder, then read back."""
    folder = folder or cache.cache_dir()
    key = cache.fingerprint("stdlib", cache.source_digest("collect"))
    path = folder / f"stdlib-{key}.json"
    entities = _read_entities(path) if path.exists() else None
    if entities is None:
        entities = collect_entities()
        cache.atomic_write(path, json.dumps([asdict(e) for e in entities], ensure_ascii=False).encode())
    return entities


def load_corpus(limit: int = 0, folder: Path | None = None) -> Corpus:
    """The corpus for this interpreter (all of it, or `limit` passages); chunking is cheap, so uncached."""
    entities = stdlib_entities(folder)
    if limit > 0:
        entities = _limit(entities, limit)
    passages = build_passages(entities)
    if limit > 0:
        passages = passages[:limit]
    # Entities count too: the graph has nodes and edges (classes, bases) that carry no passage.
    lines = [f"{p.id}\t{p.title}\t{p.text}" for p in passages]
    lines += [f"{e.name}\t{e.kind}\t{','.join(e.bases)}" for e in entities]
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    return Corpus(entities, passages, digest)
