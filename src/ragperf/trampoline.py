"""Per-stage trampolines: a frame every profiler can see, telling which stage a sample belongs to.

Each stage is called through `ragperf_stage__<name>(fn, state)`, compiled with the file name
`<exec@ragperf-stage:<path>>`. Profilers keep the file name of a frame in their stacks (pyinstrument,
memray, py-spy, scalene, tracemalloc all do), so a backend attributes a sample to the stage of the
innermost trampoline frame on its stack. Renaming only `co_name` is not enough: py-spy and scalene
read `co_qualname`, and tracemalloc reads the file name.

Why `<exec@`: scalene drops every frame whose file name is `<...>` (not a file it could show),
except its own names for exec'd source, `<exec@...>` and `<eval@...>`, which it always keeps
(scalene_tracing.py, `should_trace`). The angle brackets keep the name what it is everywhere
else: not a file on disk (linecache, tracebacks and pyinstrument treat it so). Files captured
before the rename name trampolines `<ragperf-stage:<path>>`; `stage_of_filename` reads both.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "STAGE_FILE_PREFIX",
    "call_trampoline",
    "make_call_trampoline",
    "make_trampoline",
    "stage_filename",
    "stage_of_filename",
]

STAGE_FILE_PREFIX = "<exec@ragperf-stage:"
_LEGACY_PREFIX = "<ragperf-stage:"  # profiles captured before the trampolines were renamed
_UNSAFE = re.compile(r"\W")


def make_trampoline(path: str, *, is_async: bool) -> Callable[[Callable[[Any], Any], Any], Any]:
    """Compile `ragperf_stage__<path>(fn, state)` whose frame names the stage."""
    return _compile(path, "fn, state", "fn(state)", is_async=is_async)


def _compile(path: str, params: str, call: str, *, is_async: bool) -> Callable[..., Any]:
    """`[async] def ragperf_stage__<path>(<params>): return [await] <call>`, in the stage's file name."""
    func_name = "ragperf_stage__" + _UNSAFE.sub("_", path)
    head, body = ("async def", f"await {call}") if is_async else ("def", call)
    namespace: dict[str, Any] = {}
    source = f"{head} {func_name}({params}):\n    return {body}\n"
    exec(compile(source, stage_filename(path), "exec"), namespace)  # noqa: S102 - fixed source
    return namespace[func_name]  # type: ignore[no-any-return]


def stage_filename(path: str) -> str:
    """The file name a trampoline of stage `path` is compiled with."""
    return f"{STAGE_FILE_PREFIX}{path}>"


def stage_of_filename(filename: str) -> str | None:
    """The stage path of a trampoline frame's file name, or None for any other frame."""
    if not filename.endswith(">"):
        return None
    for prefix in (STAGE_FILE_PREFIX, _LEGACY_PREFIX):
        if filename.startswith(prefix):
            return filename[len(prefix) : -1]
    return None


def make_call_trampoline(path: str, *, is_async: bool = False) -> Callable[..., Any]:
    """Compile `ragperf_stage__<path>(fn, args, kwargs)`: the same frame, around any call.

    For work run on another thread, a framework component, a decorated function. It calls
    `fn(*args, **kwargs)` itself (awaits it when `is_async`), so no wrapper frame of ragperf's
    sits between the stage's frame and the work in a profile.
    """
    return _compile(path, "fn, args, kwargs", "fn(*args, **kwargs)", is_async=is_async)


_call_trampolines: dict[tuple[str, bool], Callable[..., Any]] = {}


def call_trampoline(path: str, *, is_async: bool = False) -> Callable[..., Any]:
    """The call trampoline of `path`, compiled once per path (and kind)."""
    key = (path, is_async)
    found = _call_trampolines.get(key)
    if found is None:
        found = _call_trampolines[key] = make_call_trampoline(path, is_async=is_async)
    return found
