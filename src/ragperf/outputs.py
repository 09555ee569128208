"""Where results go: default run-file names, output paths checked before anything runs, and the claim
a run holds on its output so that two runs never write into one another.

A run file `X.json` has its artifacts folder `X.artifacts/` beside it (the worker's stream and
log, the profiler's native files). A run claims that folder for its whole duration with an
exclusive lock; a default name that is taken (two runs started in the same second) moves on to
`-2`, `-3`, ...; an explicit `-o` that another live run holds is refused.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ragperf.errors import RagperfError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

__all__ = [
    "ARTIFACTS_SUFFIX",
    "RUNS_FOLDER",
    "OutputError",
    "RunOutput",
    "artifacts_dir",
    "check_output",
    "default_run_file",
    "file_stamp",
    "process_artifacts",
    "safe_name",
]

RUNS_FOLDER = Path(".ragperf") / "runs"
ARTIFACTS_SUFFIX = ".artifacts"
_MARKER = "spec.json"  # every artifacts folder a run made holds the worker's spec (in each process's, for -p K)
_MAX_NAME = 60
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_TRIES = 1000


class OutputError(RagperfError):
    """An output path that cannot be written (a directory, a device, read-only, taken by another run)."""


def file_stamp() -> str:
    """The local time as default file names carry it: 20261201-215652."""
    return datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")


def safe_name(text: str) -> str:
    """A file-name part from user text (a pipeline name): no separators, no dots first, bounded length."""
    cleaned = _UNSAFE.sub("-", text).strip("-.")[:_MAX_NAME]
    return cleaned or "pipeline"


def default_run_file(pipeline: str, label: str, stamp: str | None = None) -> Path:
    """`.ragperf/runs/<time>-<pipeline>-<label>.json`; RunOutput makes it unique when claimed."""
    return RUNS_FOLDER / f"{stamp or file_stamp()}-{safe_name(pipeline)}-{safe_name(label)}.json"


def artifacts_dir(output: Path) -> Path:
    """Where the worker's stream, log and the profiler's native files go: beside the run file."""
    return output.with_name(output.stem + ARTIFACTS_SUFFIX)


def _describe(path: Path) -> str | None:
    """Why `path` cannot be a file ragperf writes, or None when it can (absent, or a regular file)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return "cannot be created: a parent of it is a file, not a folder"
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a folder"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def check_output(given: Path, *, what: str = "output", inputs: Iterable[Path] = (), special_ok: bool = False) -> Path:
    """The path to write for `-o given`, checked before any work starts; raise OutputError otherwise.

    A symlink is followed (its target is written, the link stays); an existing file that is not
    regular is refused (a run file's artifacts must go beside it), unless `special_ok` (a report
    to /dev/stdout or a pipe is written straight into it); an input is never overwritten; the
    folder must exist or be creatable, and writable.
    """
    if str(given).strip() in {"", "."}:
        raise OutputError(f"{what} path is empty; pass a file name such as results.json")
    try:
        return _checked(given, what, inputs, special_ok=special_ok)
    except OSError as exc:  # a name too long, a loop of symlinks, ...
        raise OutputError(f"{what} {given}: {exc.strerror or exc}; pass another path") from None


def _checked(given: Path, what: str, inputs: Iterable[Path], *, special_ok: bool) -> Path:
    path = Path(os.path.realpath(given)) if given.is_symlink() else given
    problem = _describe(path)
    if problem is not None and not (special_ok and path.exists() and not path.is_dir()):
        raise OutputError(f"{what} {given} {problem}; pass the path of a file to write")
    if path.suffix == ARTIFACTS_SUFFIX:
        raise OutputError(f"{what} {given}: '{ARTIFACTS_SUFFIX}' names ragperf's artifact folders; pick another name")
    for source in inputs:
        with contextlib.suppress(OSError):
            if path.exists() and path.samefile(source):
                raise OutputError(f"{what} {given} is also an input; write to another file")
    if path.exists() and not path.is_file():
        return path  # a device or pipe, allowed above: nothing to create
    _check_folder(path.parent, given, what)
    return path


def _check_folder(folder: Path, given: Path, what: str) -> None:
    """The folder exists (or is made) and accepts a new file: proven by making and removing one."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{what} {given}: a parent of it is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"{what} {given}: cannot create its folder ({exc.strerror})") from None
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".ragperf-probe-")
    except NotADirectoryError:
        raise OutputError(f"{what} {given}: a parent of it is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(f"{what} {given}: its folder {folder} is not writable ({exc.strerror})") from None
    os.close(fd)
    Path(probe).unlink()


class RunOutput:
    """A run's claim on its run file and artifacts folder, held from before the worker starts to the end.

    `with RunOutput(path, unique=...) as out:` checks the path, takes the artifacts folder with an
    exclusive lock (another live run on the same path is refused), and empties what an earlier run
    left there, so a profile the new run fails to write cannot be mistaken for its own.
    """

    def __init__(self, given: Path, *, unique: bool) -> None:
        self._given = given
        self._unique = unique
        self.path = given
        self.artifacts = given  # set once the path is checked
        self._lock: int | None = None

    def __enter__(self) -> RunOutput:
        path = check_output(self._given, what="run file")
        if self._unique:
            path = self._free_name(path)
        self.path, self.artifacts = path, artifacts_dir(path)
        self._take(self.artifacts)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing releases the flock
            self._lock = None

    @staticmethod
    def _free_name(path: Path) -> Path:
        """The first of X.json, X-2.json, ... whose artifacts folder this call creates (atomic: mkdir)."""
        for n in range(1, _MAX_TRIES):
            candidate = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
            if candidate.exists():
                continue
            try:
                artifacts_dir(candidate).mkdir()
            except FileExistsError:
                continue
            return candidate
        raise OutputError(f"no free run-file name beside {path} after {_MAX_TRIES} tries; clean {path.parent}")

    def _take(self, folder: Path) -> None:
        try:
            folder.mkdir(exist_ok=True)
        except FileExistsError:
            raise OutputError(f"{folder} exists and is not a folder; remove it or pass another -o") from None
        except OSError as exc:
            raise OutputError(f"cannot create {folder} ({exc.strerror})") from None
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                msg = f"another ragperf run is writing {self.path} right now; pass another -o, or wait for it"
                raise OutputError(msg) from None
            raise
        self._lock = fd
        _empty(folder)


def process_artifacts(artifacts: Path, index: int) -> Path:
    """The artifacts of process `index` (from 0) of a run in several processes (`--processes`)."""
    return artifacts / f"process-{index + 1}"


def _empty(folder: Path) -> None:
    """Remove an earlier run's artifacts; refuse a folder ragperf did not make."""
    entries = list(folder.iterdir())
    if entries and not ((folder / _MARKER).exists() or (process_artifacts(folder, 0) / _MARKER).exists()):
        raise OutputError(f"{folder} holds files ragperf did not write; move them, or pass another -o")
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
