"""Odd text from the user's side (prompts with markup, HTML, emoji codes, control characters) in every
place ragperf prints or renders it: query text, stage errors, notes, span names, then every report format."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostile.cases import Case, Keeps

if TYPE_CHECKING:
    from hostile.workspace import Workspace

TEXTS = {
    "llama prompt": "<s>[INST] what is BM25? [/INST]",
    "rich markup": "[bold red]x[/bold red] [/]",
    "closing tag": "[/x]",
    "emoji code": ":100: :snake:",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "markdown table": "a | b | c\n|---|",
    "format braces": '{"query": answer} {0} {stage.__class__}',
    "ansi escape": "\x1b[31mred\x1b[0m\x07",
    "rtl and emoji": "\u05e9\u05dc\u05d5\u05dd \U0001f9ea \u200f",
    "backslashes": "C:\\new\\table \\n \\u0000",
    "very long": "long " * 20_000,
    "nul-free control": "tab\there\rreturn\x0bvt",
}

PLACES = ("error", "note", "span", "query")
FORMATS = ("terminal", "md", "html", "json")


def cases(ws: Workspace) -> list[Case]:
    out: list[Case] = []
    for label, text in TEXTS.items():
        for place in PLACES:
            knobs: dict[str, object] = {"text": text}
            queries = "queries.txt"
            if place == "error":
                knobs["raise_on"] = "all"
            elif place == "note":
                knobs["note"] = True
            elif place == "span":
                knobs["span"] = True
            else:
                queries = _query_file(ws, text)
            config = ws.config(queries=queries, **knobs)
            output = ws.fresh("text").with_suffix(".json")
            # A failing stage exits 3; a span name that is no valid path may be refused per query (3) too.
            exits = frozenset({0, 3}) if place in {"span", "query"} else frozenset({3} if place == "error" else {0})
            out.append(
                Case(
                    "text",
                    f"run: {label} as {place}",
                    ("run", str(config), "-n", "2", "-o", str(output), "--no-progress"),
                    exits,
                    keeps=Keeps(output, 2),
                    pid_file=ws.pid_file(config),
                    group=str(output),
                )
            )
            for fmt in FORMATS:
                report = ws.fresh("report").with_suffix(".out")
                argv = ("report", str(output), "-f", fmt, "-o", str(report))
                out.append(
                    Case("text", f"report -f {fmt}: {label} as {place}", argv, frozenset({0}), group=str(output))
                )
    return out


def _query_file(ws: Workspace, text: str) -> str:
    import json

    path = ws.fresh("queries").with_suffix(".jsonl")
    path.write_text(json.dumps({"query": text, "id": "odd"}) + "\n", encoding="utf-8")
    return path.name
