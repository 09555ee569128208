"""A seeded mutation fuzz of real run files: every damaged file loads or is one clean line, never a traceback.

Each case takes a saved run file from tests/data/runs/, damages it one way (truncation, a wrong
type, a non-finite or negative number, a missing or extra key, deep nesting, a flipped byte) and
checks `load_run`, `ragperf report` and `ragperf diff` (the file on either side). hypothesis is
not a dependency, so the cases come from a seeded random generator: the same cases every run.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode, RunFileError
from ragperf.schema import load_run

RUNS = Path(__file__).parents[1] / "data" / "runs"
# The saved files are version 1; "@v2" is the same file written by this ragperf (columns, version 2).
SOURCES = ("example_timer", "rich_pyinstrument", "rich_memory", "rich_leak", "example_timer@v2", "rich_memory@v2")
CASES_PER_SOURCE = 40
NEST_DEPTHS = (50, 900, 5000)
# Values a field may be damaged to: wrong types, non-finite and negative numbers, odd text.
ODD_VALUES: tuple[object, ...] = (
    None,
    True,
    "",
    "[/INST] :100: {stage}",
    [],
    {},
    [1, "a"],
    {"x": {"y": None}},
    0,
    -1,
    -1e-9,
    2**70,
    "@NaN",
    "@Infinity",
    "@-Infinity",
    "@1e999",
    "x" * 10_000,
)
runner = CliRunner()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree, the root excluded."""
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    out = []
    for key, child in children:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def _encode(data: Any) -> str:
    # "@NaN" and friends become JSON's bare tokens, "@nest:N" lists N deep: json.dumps cannot write either.
    text = json.dumps(data)
    for token in ("NaN", "Infinity", "-Infinity", "1e999"):
        text = text.replace(f'"@{token}"', token)
    for depth in NEST_DEPTHS:
        text = text.replace(f'"@nest:{depth}"', "[" * depth + "]" * depth)
    return text


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """One damaged copy of a run file's text, and what was done to it."""
    data = json.loads(text)
    kinds = ["truncate", "value", "delete", "extra", "nest", "byte", "empty", "number", "number", "text"]
    kind = rng.choice(kinds)
    if kind == "truncate":
        cut = rng.randrange(len(text))
        return text[:cut], f"truncated at {cut}"
    if kind == "byte":
        at = rng.randrange(len(text))
        return text[:at] + chr(rng.randrange(32, 127)) + text[at + 1 :], f"byte {at} changed"
    paths = _paths(data)
    if kind in ("number", "text"):
        # Type-kept damage passes the schema more often, so it reaches the report and diff code.
        wanted = str if kind == "text" else (int, float)
        paths = [p for p in paths if isinstance(v := _parent(data, p)[p[-1]], wanted) and not isinstance(v, bool)]
    path = rng.choice(paths)
    parent = _parent(data, path)
    if kind == "number":
        parent[path[-1]] = rng.choice([0, 0.0, 1e-12, 1e12, 2**53, -3, parent[path[-1]] * 1000])
    elif kind == "text":
        parent[path[-1]] = rng.choice(["", "[/x] <script>|", "total", "a.b.c", "retrieval", "é" * 500])
    elif kind == "value":
        parent[path[-1]] = rng.choice(ODD_VALUES)
    elif kind == "delete":
        if isinstance(parent, list):
            parent.pop(path[-1])
        else:
            del parent[path[-1]]
    elif kind == "extra":
        target = parent if isinstance(parent, dict) else data
        target["unexpected"] = 1
    elif kind == "nest":
        parent[path[-1]] = f"@nest:{rng.choice(NEST_DEPTHS)}"
    else:  # "empty": a list or table cleared of its items
        parent[path[-1]] = [] if isinstance(parent[path[-1]], list) else {}
    return _encode(data), f"{kind} at {'.'.join(map(str, path))}"


def _cases() -> list[tuple[str, int]]:
    return [(source, seed) for source in SOURCES for seed in range(CASES_PER_SOURCE)]


def _original(source: str, folder: Path) -> Path:
    name, _, version = source.partition("@")
    saved = RUNS / f"{name}.json"
    if version != "v2":
        return saved
    from ragperf.schema import save_run

    upgraded = folder / f"{name}.v2.json"
    save_run(load_run(saved), upgraded)
    return upgraded


def _no_traceback(args: list[str]) -> None:
    result = runner.invoke(app, args)
    # CliRunner keeps an exception that escaped the command: only a deliberate exit is allowed.
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code in (ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE), (args, result.output)
    if result.exit_code == ExitCode.USAGE:
        assert result.output.count("\n") == 1, result.output


@pytest.mark.parametrize(("source", "seed"), _cases(), ids=[f"{s}-{n}" for s, n in _cases()])
def test_damaged_run_file_loads_or_is_refused_cleanly(tmp_path: Path, source: str, seed: int) -> None:
    # GIVEN a real run file damaged one way (the same way for a given seed)
    original = _original(source, tmp_path)
    text, what = mutate(original.read_text(encoding="utf-8"), random.Random(f"{source}-{seed}"))
    path = tmp_path / "damaged.json"
    path.write_text(text, encoding="utf-8")
    # WHEN it is loaded THEN it is a run file or a RunFileError, nothing else
    refusal = ""
    try:
        load_run(path)
    except RunFileError as exc:
        refusal = str(exc)
    assert "\n" not in refusal, what
    # AND report and diff (the file on either side) exit cleanly
    _no_traceback(["report", str(path)])
    _no_traceback(["report", str(path), "-f", "md"])
    _no_traceback(["diff", str(original), str(path), "--force"])
    _no_traceback(["diff", str(path), str(original), "--force", "-f", "json"])


def test_the_mutations_reach_every_kind_of_damage() -> None:
    # The fuzz is only as good as its spread: every kind of damage is among the cases.
    kinds = set()
    for source, seed in _cases():
        text = (RUNS / f"{source.partition('@')[0]}.json").read_text(encoding="utf-8")
        kinds.add(mutate(text, random.Random(f"{source}-{seed}"))[1].split(" ")[0])
    assert kinds == {"truncated", "value", "delete", "extra", "nest", "byte", "empty", "number", "text"}
