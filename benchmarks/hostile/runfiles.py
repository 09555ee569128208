"""Damaged, foreign and hostile run files given to `report` and `diff`: a one-line exit-2 error each."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hostile.cases import USAGE, Case

if TYPE_CHECKING:
    from collections.abc import Callable

    from hostile.workspace import Workspace


def _set(path: list[Any], value: Any) -> Callable[[Any], Any]:
    def edit(data: Any) -> Any:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return data

    return edit


def _column(values: list[float], dtype: str = "<f8") -> dict[str, str]:
    import struct

    code = {"<f8": "<%dd", "<i4": "<%di"}[dtype] % len(values)
    return {
        "dtype": {"<f8": "float64", "<i4": "int32"}[dtype],
        "data": base64.b64encode(struct.pack(code, *values)).decode(),
    }


def _first_span(data: Any) -> str:
    return next(iter(data["queries"]["spans"]))


def _set_column(where: str, value: float, index: int = 0) -> Callable[[Any], Any]:
    """Put `value` at `index` of a per-query column (total_ms, or the first span's)."""

    def edit(data: Any) -> Any:
        table = data["queries"]
        column = table["total_ms"] if where == "total" else table["spans"][_first_span(data)]
        values = [float("nan")] * table["n"]
        values[index] = value
        column.update(_column(values))
        return data

    return edit


# (name, edit of the decoded run file) — each leaves valid JSON that no run file may hold.
SHARED: list[tuple[str, Callable[[Any], Any]]] = [
    ("schema_version true", _set(["schema_version"], True)),
    ("schema_version 99", _set(["schema_version"], 99)),
    ("schema_version text", _set(["schema_version"], "1")),
    ("schema_version null", _set(["schema_version"], None)),
    ("no schema_version", lambda d: {k: v for k, v in d.items() if k != "schema_version"}),
    ("a list, not an object", lambda d: [d]),
    ("a number", lambda _: 5),
    ("queries not a table", _set(["queries"], "many")),
    ("p95 NaN", _set(["summary", "total", "p95"], float("nan"))),
    ("p95 negative", _set(["summary", "total", "p95"], -3.0)),
    ("target -inf", _set(["summary", "targets", 0, "target"], float("-inf"))),
    ("unknown field", _set(["surprise"], 1)),
    ("kind unknown", _set(["kind"], "benchmark")),
    ("summary missing", lambda d: {k: v for k, v in d.items() if k != "summary"}),
    ("stages null", _set(["stages"], None)),
    ("environment a string", _set(["environment"], "laptop")),
]
# Version 2 (what this ragperf writes): the per-query columns.
COLUMNS: list[tuple[str, Callable[[Any], Any]]] = [
    ("column not base64", _set(["queries", "total_ms", "data"], "@@@@")),
    ("column of another dtype", _set(["queries", "total_ms", "dtype"], "float16")),
    ("column too short", _set(["queries", "total_ms"], _column([1.0]))),
    ("more queries claimed than held", _set(["queries", "n"], 10**9)),
    ("negative query count", _set(["queries", "n"], -1)),
    ("query total NaN", _set_column("total", float("nan"))),
    ("query total inf", _set_column("total", float("inf"))),
    ("query total negative", _set_column("total", -5.0)),
    ("span negative", _set_column("span", -1.0)),
    ("span inf", _set_column("span", float("inf"))),
    (
        "query outside the query set",
        lambda d: _set(["queries", "query"], _column([10**6] * d["queries"]["n"], "<i4"))(d),
    ),
    (
        "failure outside the queries",
        _set(["queries", "failures"], [{"index": 10**6, "error": {"stage": None, "type": "E", "message": "m"}}]),
    ),
]
# Version 1 (what earlier ragperfs wrote): one record per query.
RECORDS: list[tuple[str, Callable[[Any], Any]]] = [
    ("v1 queries not a list", _set(["queries"], "many")),
    ("v1 query total NaN", _set(["queries", 0, "total_ms"], float("nan"))),
    ("v1 query total inf", _set(["queries", 0, "total_ms"], float("inf"))),
    ("v1 query total negative", _set(["queries", 0, "total_ms"], -5.0)),
    ("v1 span negative", _set(["queries", 0, "spans", "intent"], -1.0)),
    ("v1 span a string", _set(["queries", 0, "spans", "intent"], "fast")),
]
V1_SEED = Path(__file__).resolve().parents[2] / "tests" / "data" / "runs" / "example_timer.json"


def _raw_variants(seed: str) -> list[tuple[str, bytes]]:
    """Byte-level damage: truncations at several points, binary, empty, another encoding."""
    data = seed.encode("utf-8")
    cuts = [(f"truncated at {pct}%", data[: len(data) * pct // 100]) for pct in (1, 10, 33, 50, 90, 99)]
    return [
        *cuts,
        ("empty", b""),
        ("whitespace", b"   \n"),
        ("binary", bytes(range(256)) * 16),
        ("utf-16", seed.encode("utf-16")),
        ("json with a BOM", b"\xef\xbb\xbf" + data),
        ("two documents", data + data),
        ("deep nesting raw", b"[" * 100_000 + b"]" * 100_000),
        (
            "config nested 5,000 deep",
            seed.replace('"config": ', '"config": ' + "[" * 5000 + "]" * 5000 + ', "was": ', 1).encode(),
        ),
    ]


def cases(ws: Workspace) -> list[Case]:
    seed_path = ws.saved_run("fuzz-seed")
    seed = seed_path.read_text(encoding="utf-8")
    files: list[tuple[str, str]] = []
    v1 = V1_SEED.read_text(encoding="utf-8")
    for source, mutations in ((seed, SHARED + COLUMNS), (v1, SHARED[7:] + RECORDS)):
        for name, edit in mutations:
            data = edit(json.loads(source))
            path = ws.fresh("fuzz").with_suffix(".json")
            path.write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
            files.append((name if source is seed or name.startswith("v1") else f"v1 {name}", str(path)))
    for name, content in _raw_variants(seed):
        path = ws.fresh("fuzz").with_suffix(".json")
        path.write_bytes(content)
        files.append((name, str(path)))
    special = ws.fresh("special")
    special.mkdir()
    fifo = special / "fifo.json"
    os.mkfifo(fifo)
    files += [("a FIFO", str(fifo)), ("a folder", str(special)), ("missing", str(special / "none.json"))]
    files.append(("/dev/zero", "/dev/zero"))
    other_pipeline = ws.saved_run("fuzz-other", name="another")
    leak = ws.saved_run("fuzz-leak-other", "-n", "5", "--warmup", "0", command="leak", name="third")
    out: list[Case] = []
    for name, path in files:
        exits = frozenset({0, 2}) if name.removeprefix("v1 ") in {"unknown field", "json with a BOM"} else USAGE
        out.append(Case("runfile", f"report: {name}", ("report", path, "-f", "md"), exits, timeout=30))
        out.append(Case("runfile", f"diff: {name}", ("diff", str(seed_path), path), exits, timeout=30))
    out.append(Case("runfile", "diff of two pipelines", ("diff", str(seed_path), str(other_pipeline))))
    out.append(Case("runfile", "report of two pipelines", ("report", str(seed_path), str(leak))))
    return out
