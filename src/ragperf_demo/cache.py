"""On-disk cache of built indexes: where it lives, how entries are keyed, atomic writes."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["atomic_write", "cache_dir", "fingerprint", "library_versions", "load_or_build", "source_digest"]

T = TypeVar("T")
log = logging.getLogger(__name__)

# Bump when the layout or meaning of any cached artifact changes.
SCHEMA = "1"
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "bm25s", "networkx")


def cache_dir() -> Path:
    """$RAGPERF_DEMO_CACHE, else $XDG_CACHE_HOME/ragperf-demo, else ~/.cache/ragperf-demo."""
    explicit = os.environ.get("RAGPERF_DEMO_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ragperf-demo"


def library_versions() -> list[str]:
    """name==version of every library whose pickles or results the cache depends on."""
    out = []
    for name in _LIBRARIES:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}==?")
    return out


def source_digest(*modules: str) -> str:
    """Hash of this package's source files `modules` (e.g. "graph"): code changes invalidate entries."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in modules:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(*parts: str) -> str:
    """A short stable hash of the schema, the interpreter and the given parts."""
    digest = hashlib.sha256()
    for part in (SCHEMA, sys.version, sys.platform, *parts):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_build(path: Path, build: Callable[[], T]) -> T:
    """Unpickle `path` if it is there and readable, else build, store and return."""
    if path.exists():
        try:
            with path.open("rb") as fh:
                # The cache folder is the user's own and only this package writes it.
                return pickle.load(fh)  # type: ignore[no-any-return]  # noqa: S301
        except Exception as exc:  # noqa: BLE001 - a corrupt or stale entry is rebuilt
            log.warning("ragperf-demo: rebuilding unreadable cache entry %s (%s)", path, exc)
    value = build()
    try:
        atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError as exc:  # a read-only cache folder only costs speed
        log.warning("ragperf-demo: cannot write cache entry %s (%s)", path, exc)
    return value
