"""Malformed configs and query files: each must be a one-line exit-2 error from `validate` and `run`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hostile.cases import USAGE, Case

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hostile.workspace import Workspace

STAGE_A = 'name = "a"\ncall = "hostile_pipe:a"\ntarget_ms = 50'
FAN = 'parallel = [{ name = "x", call = "hostile_pipe:b" }, { name = "y", call = "hostile_pipe:b" }]'

# (name, edit of the config text); every one is a user mistake a one-line error must name.
EDITS: list[tuple[str, Callable[[str], str]]] = [
    ("table typo", lambda t: t.replace("[pipeline]", "[pipline]")),
    ("key typo", lambda t: t.replace('name = "a"', 'nmae = "a"')),
    ("missing function", lambda t: t.replace("hostile_pipe:a", "hostile_pipe:nope")),
    ("missing module", lambda t: t.replace("hostile_pipe:a", "nosuchmodule:a")),
    ("call not an import path", lambda t: t.replace('"hostile_pipe:a"', '"not a path"')),
    ("empty call", lambda t: t.replace('"hostile_pipe:a"', '""')),
    ("negative stage target", lambda t: t.replace("target_ms = 50", "target_ms = -5")),
    ("nan stage target", lambda t: t.replace("target_ms = 50", "target_ms = nan")),
    ("inf stage target", lambda t: t.replace("target_ms = 50", "target_ms = inf")),
    ("string stage target", lambda t: t.replace("target_ms = 50", 'target_ms = "fast"')),
    ("zero queries", lambda t: t.replace("queries = 3", "queries = 0")),
    ("negative warmup", lambda t: t.replace("warmup = 0", "warmup = -1")),
    ("nan pipeline target", lambda t: t.replace("p95_ms = 1000", "p95_ms = nan")),
    ("-inf pipeline target", lambda t: t.replace("p95_ms = 1000", "p95_ms = -inf")),
    ("negative pipeline target", lambda t: t.replace("p95_ms = 1000", "p95_ms = -10")),
    ("boolean target", lambda t: t.replace("p95_ms = 1000", "p95_ms = true")),
    ("duplicate stage names", lambda t: t + f"[[stages]]\n{STAGE_A}\n"),
    ("empty parallel", lambda t: t.replace(FAN, "parallel = []")),
    ("call and parallel", lambda t: t.replace(FAN, FAN + '\ncall = "hostile_pipe:a"')),
    ("neither call nor parallel", lambda t: t.replace(FAN, 'kind = "retrieval"')),
    ("merge without parallel", lambda t: t.replace("target_ms = 50", 'target_ms = 50\nmerge = "hostile_pipe:b"')),
    ("duplicate sub-stages", lambda t: t.replace('name = "y"', 'name = "x"')),
    ("unknown kind", lambda t: t.replace("target_ms = 50", 'target_ms = 50\nkind = "llm"')),
    ("invalid stage name", lambda t: t.replace('name = "a"', 'name = "bad name!"')),
    ("stage name with a dot", lambda t: t.replace('name = "a"', 'name = "a.b"')),
    ("toml syntax error", lambda t: t.replace("warmup = 0", "warmup = ")),
    ("unterminated string", lambda t: t.replace('name = "a"', 'name = "a')),
    ("empty file", lambda _: ""),
    ("stages not a table", lambda t: t.split("[[stages]]")[0] + "stages = 5\n"),
    ("no stages", lambda t: t.split("[[stages]]")[0]),
    ("pipeline name of 100,000 characters", lambda t: t.replace('name = "hostile"', f'name = "{"n" * 100_000}"')),
    ("queries file missing", lambda t: t.replace('"queries.txt"', '"missing.txt"')),
    ("queries path a folder", lambda t: t.replace('"queries.txt"', '"."')),
    ("queries from a package not installed", lambda t: t.replace('"queries.txt"', '"nosuchpkg:q.txt"')),
    ("setup missing", lambda t: t.replace("hostile_pipe:setup", "hostile_pipe:nosetup")),
    ("unknown backend", lambda t: t + '[backend]\nname = "nosuch"\n'),
    ("unknown backend option", lambda t: t + '[backend]\nname = "timer"\noptions = { bogus = 1 }\n'),
    (
        "evaluating report rule",
        lambda t: t + '[[report.rules]]\nwhen = "p95_ms > 0"\nadvice = "{stage.__class__.__mro__}"\n',
    ),
    ("too few leak iterations", lambda t: t + "[memory]\niterations = 2\n"),
    ("zero setup timeout", lambda t: t.replace("queries = 3", "queries = 3\nsetup_timeout_s = 0")),
    ("negative query timeout", lambda t: t.replace("queries = 3", "queries = 3\nquery_timeout_s = -1")),
    ("unknown run key", lambda t: t.replace("queries = 3", "queries = 3\nrepeats = 2")),
    ("string where a table goes", lambda t: t.replace("[targets]\np95_ms = 1000", 'targets = "fast"')),
    ("array of tables for pipeline", lambda t: t.replace("[pipeline]", "[[pipeline]]", 1)),
]

# (name, query file content) — read by `run`; `validate` does not read queries, so run only.
QUERY_FILES: list[tuple[str, str, bytes]] = [
    ("empty query file", "q.txt", b""),
    ("blank lines only", "q.txt", b"\n\n   \n"),
    ("jsonl not json", "q.jsonl", b'{"query": "a"}\n{not json\n'),
    ("jsonl without query", "q.jsonl", b'{"text": "a"}\n'),
    ("jsonl query not text", "q.jsonl", b'{"query": 5}\n'),
    ("jsonl an array", "q.jsonl", b'["a"]\n'),
    ("binary garbage", "q.txt", bytes(range(256)) * 4),
    ("latin-1 bytes", "q.txt", "caf\u00e9\n".encode("latin-1")),
    ("unknown suffix", "q.csv", b"query\na\n"),
    ("duplicate ids", "q.jsonl", b'{"query": "a", "id": "x"}\n{"query": "b", "id": "x"}\n'),
]


def cases(ws: Workspace) -> list[Case]:
    base = ws.config()
    text = base.read_text(encoding="utf-8")
    out: list[Case] = []
    for name, edit in EDITS:
        path = ws.fresh("bad").with_suffix(".toml")
        path.write_text(edit(text), encoding="utf-8")
        output = ws.fresh("bad").with_suffix(".json")
        out.append(
            Case(
                "config",
                f"validate: {name}",
                ("validate", str(path)),
                frozenset({2, 4}) if "backend" in name else USAGE,
            )
        )
        exits = frozenset({2, 4}) if "backend" in name else USAGE  # 4: a backend plugin not installed here
        run_args = ("run", str(path), "-n", "1", "-o", str(output), "--no-progress")
        out.append(Case("config", f"run: {name}", run_args, exits))
    out += _special_files(ws, text)
    for name, file_name, content in QUERY_FILES:
        folder = ws.fresh("queries")
        folder.mkdir()
        (folder / file_name).write_bytes(content)
        config = folder / "ragperf.toml"
        config.write_text(text.replace('"queries.txt"', f'"{file_name}"'), encoding="utf-8")
        (folder / "hostile_pipe.py").write_text((ws.root / "hostile_pipe.py").read_text(encoding="utf-8"))
        exits = frozenset({0, 2}) if name in {"latin-1 bytes", "duplicate ids", "unknown suffix"} else USAGE
        out.append(
            Case("queries", name, ("run", str(config), "-n", "1", "-o", str(folder / "r.json"), "--no-progress"), exits)
        )
    return out


def _special_files(ws: Workspace, text: str) -> list[Case]:
    """Configs that are not text files at all."""
    folder = ws.fresh("special")
    folder.mkdir()
    not_utf8 = folder / "latin1.toml"
    not_utf8.write_bytes(text.replace("hostile", "h\u00f6stile").encode("latin-1"))
    fifo = folder / "fifo.toml"
    os.mkfifo(fifo)
    directory = folder / "dir.toml"
    directory.mkdir()
    missing: Path = folder / "missing.toml"
    return [
        Case("config", f"{command}: {name}", (command, str(path)))
        for command in ("validate", "run")
        for name, path in (("not UTF-8", not_utf8), ("a FIFO", fifo), ("a folder", directory), ("missing", missing))
    ]
