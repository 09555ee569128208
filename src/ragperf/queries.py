"""The query set: a .txt file (one query a line) or .jsonl records with a "query" field."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

from ragperf.errors import ConfigError

__all__ = ["Query", "load_queries", "locate_queries", "query_set_digest"]

# "package.module:relative/path" names a file shipped inside an installed package; the negative
# look-ahead keeps Windows drive paths ("C:\\...") out.
_RESOURCE = re.compile(r"^([A-Za-z_][\w.]+):(?![\\/])(.+)$")


@dataclass(frozen=True, slots=True)
class Query:
    """One query of the set; `meta` keeps the record's other fields."""

    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


def locate_queries(spec: str, config_dir: Path) -> Path:
    """Resolve `queries = ...`: a package resource, or a path relative to the config's folder."""
    match = _RESOURCE.match(spec)
    if match and not (config_dir / spec).exists():
        package, relative = match.groups()
        try:
            resource = importlib.resources.files(package).joinpath(relative)
        except ModuleNotFoundError:
            raise ConfigError(f"pipeline.queries = '{spec}': package '{package}' is not installed") from None
        return Path(str(resource))
    return (config_dir / spec).resolve()


def load_queries(path: Path) -> list[Query]:
    """Read the query file; errors name the file, the line and the fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"pipeline.queries: file not found: {path}; the path is relative to the config file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"pipeline.queries: cannot read {path} ({exc})") from None
    queries = _parse_jsonl(path, text) if path.suffix == ".jsonl" else _parse_txt(text)
    if not queries:
        raise ConfigError(f"pipeline.queries: {path} holds no queries; add one per line")
    return queries


def _parse_txt(text: str) -> list[Query]:
    lines = [line.strip() for line in text.splitlines()]
    return [
        Query(f"q{i:04d}", line) for i, line in enumerate(line for line in lines if line and not line.startswith("#"))
    ]


def _parse_jsonl(path: Path, text: str) -> list[Query]:
    queries: list[Query] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg}); one JSON object per line") from None
        if not isinstance(record, dict) or not isinstance(record.get("query"), str):
            raise ConfigError(f'{path}:{number}: expected an object with a "query" string, like {{"query": "..."}}')
        query_id = str(record.pop("id", f"q{len(queries):04d}"))
        queries.append(Query(query_id, record.pop("query"), record))
    return queries


def query_set_digest(queries: Sequence[Query]) -> str:
    """A short hash of the query texts, so a diff can tell whether two runs used the same set."""
    blob = "\n".join(q.text for q in queries).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
