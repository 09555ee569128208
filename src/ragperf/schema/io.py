"""Read and write run files: atomic writes, version dispatch, clear refusals."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ragperf.errors import RunFileError
from ragperf.outputs import OutputError
from ragperf.schema import v1

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["atomic_write_text", "load_run", "save_run"]

# Each schema version this ragperf can read, and the model that reads it.
_READERS: dict[int, type[v1.RunFile]] = {1: v1.RunFile}


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


def load_run(path: Path) -> v1.RunFile:
    """Load any supported version of a run file; refuse anything else with a one-line reason."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file; pass the JSON file a 'ragperf run' wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path}: cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RunFileError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); the file is damaged or not a ragperf run file"
        ) from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise RunFileError(f"{path}: not a ragperf run file (no schema_version); pass a file 'ragperf run' wrote")
    version = data["schema_version"]
    reader = _READERS.get(version) if isinstance(version, int) else None
    if reader is None:
        known = ", ".join(str(v) for v in _READERS)
        raise RunFileError(
            f"{path}: schema_version {version!r} is not one this ragperf reads ({known}); upgrade ragperf to read it"
        )
    try:
        return reader.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RunFileError(f"{path}: not a valid v{version} run file: {where}: {first['msg']}") from None
