"""Read and write run files: atomic writes, version dispatch, clear refusals."""

from __future__ import annotations

import binascii
import json
import math
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from ragperf.errors import RunFileError
from ragperf.outputs import OutputError
from ragperf.schema import v1, v2, v3
from ragperf.schema.run import RunFile

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import BaseModel

__all__ = ["atomic_write_text", "load_run", "save_run"]

# Each schema version this ragperf can read: the model that reads it, and how it becomes the current one.
_READERS: dict[int, tuple[type[BaseModel], Callable[[Any], RunFile]]] = {
    1: (v1.RunFileV1, v1.upgrade),
    2: (v2.RunFileV2, v2.upgrade),
    3: (v3.RunFileV3, v3.upgrade),
    4: (RunFile, lambda run: run),
}


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file.

    An existing target that is not a regular file (/dev/stdout, a pipe) is written into, never
    replaced. A failed write (a full disk) leaves the old file as it was and raises OutputError.
    """
    try:
        if path.exists() and not path.is_file() and not path.is_dir():
            with path.open("w", encoding="utf-8") as handle:
                handle.write(text)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file owner-only; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_run(run: BaseModel, path: Path) -> None:
    """Write a run file atomically."""
    atomic_write_text(path, run.model_dump_json(indent=1) + "\n")


def load_run(path: Path) -> RunFile:
    """Load any supported version of a run file; refuse anything else with a one-line reason."""
    data = _parse(path, _read_regular(path))
    if not isinstance(data, dict) or "schema_version" not in data:
        raise RunFileError(f"{path}: not a ragperf run file (no schema_version); pass a file 'ragperf run' wrote")
    version = data["schema_version"]
    # type() and not isinstance(): JSON's true is a Python bool, and a bool is an int equal to 1.
    reader = _READERS.get(version) if type(version) is int else None
    if reader is None:
        known = ", ".join(str(v) for v in _READERS)
        raise RunFileError(
            f"{path}: schema_version {version!r} is not one this ragperf reads ({known}); upgrade ragperf to read it"
        )
    bad = _first_non_finite(data)
    if bad is not None:
        raise RunFileError(f"{path}: not a valid v{version} run file: {bad}; a figure must be a finite number")
    model, upgrade = reader
    try:
        run = upgrade(model.model_validate(data))
        negative = _first_bad_query_figure(run)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RunFileError(f"{path}: not a valid v{version} run file: {where}: {first['msg']}") from None
    except (ValueError, binascii.Error) as exc:  # a column whose bytes are not what its dtype says
        raise RunFileError(f"{path}: not a valid v{version} run file: a per-query column is damaged ({exc})") from None
    if negative is not None:
        raise RunFileError(f"{path}: not a valid v{version} run file: {negative}: a duration cannot be negative")
    return run


def _read_regular(path: Path) -> str:
    """The text of a regular file; a FIFO, device or folder is refused without blocking on it."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file; pass the JSON file a 'ragperf run' wrote") from None
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read it ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunFileError(f"{path}: not a regular file; pass the JSON file a 'ragperf run' wrote")
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RunFileError(f"{path}: cannot read it ({exc})") from None


def _parse(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFileError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); the file is damaged or not a ragperf run file"
        ) from None
    except RecursionError:
        msg = f"{path}: nested too deeply to be a ragperf run file; pass a file 'ragperf run' wrote"
        raise RunFileError(msg) from None


def _first_non_finite(data: object) -> str | None:
    """Where the first NaN or infinity is (JSON's NaN, Infinity, or 1e999), and what it is."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:  # a loop, not recursion: the parser already bounds the depth, this keeps it cheap
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return f"{where or 'file'} is {value}"
        if isinstance(value, dict):
            stack.extend((f"{where}.{key}" if where else str(key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}" if where else str(i), item) for i, item in enumerate(value))
    return None


def _first_bad_query_figure(run: RunFile) -> str | None:  # noqa: PLR0911 - one return per kind of damage
    """Where the first impossible latency figure is: per-query columns (negative, infinite, or the
    wrong length), then the stage summaries and the ms targets."""
    table = run.queries
    columns = [("queries.total_ms", table.total_ms, False), ("queries.query", table.query, False)]
    columns += [(f"queries.spans.{path}", column, True) for path, column in table.spans.items()]
    columns += [(f"queries.metrics.{p}.{m}", c, True) for p, named in table.metrics.items() for m, c in named.items()]
    usage = (("cpu_ms", table.cpu_ms), ("preempted", table.preempted))
    columns += [(f"queries.{name}", column, True) for name, column in usage if column is not None]
    columns += [(f"queries.cpu_spans.{path}", column, True) for path, column in table.cpu_spans.items()]
    for where, column, missing_ok in columns:
        values = column.values
        if values.shape != (table.n,):
            return f"{where} holds {values.size} values for {table.n} queries"
        if column.dtype == "int32":
            if table.n and (values.min() < 0 or values.max() >= len(table.query_set)):
                return f"{where} refers to a query outside query_set"
            continue
        bad = ~np.isfinite(values) if not missing_ok else np.isinf(values)
        if ".metrics." not in where:
            bad |= values < 0
        if bad.any():
            return f"{where} at query {int(np.argmax(bad))} is {float(values[np.argmax(bad)])}"
    if any(not 0 <= f.index < table.n for f in table.failures):
        return "queries.failures: an index outside the measured queries"
    summaries = [(f"summary.stages.{i}", stage) for i, stage in enumerate(run.summary.stages)]
    for where, stage in [*summaries, ("summary.total", run.summary.total)]:
        figures = (stage.mean, stage.stdev, stage.min, stage.p50, stage.p90, stage.p95, stage.p99, stage.max)
        bounds = (*(stage.p95_ci or ()), *(stage.p99_ci or ()), stage.target_ms)
        if any(value is not None and value < 0 for value in (*figures, *bounds)):
            return f"{where} ({stage.path})"
    for i, target in enumerate(run.summary.targets):
        if target.unit == "ms" and any(v is not None and v < 0 for v in (target.target, target.measured)):
            return f"summary.targets.{i} ({target.name})"
    return None
