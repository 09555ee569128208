"""Cheap process memory readings: RSS, the live heap, and the peak RSS since the last reset.

Each reading costs microseconds, so they can bracket every stage without tracemalloc's
x8.7-x60 cost. Measured: RSS ~3 µs, peak ~10 µs, heap ~20 µs on a 30 MB heap and ~0.6 ms on
the demo's 230 MB one (pymalloc's statistics walk every pool). The worker leaves this time out
of the spans and the query totals.

- RSS: `/proc/self/statm` (Linux); elsewhere RSS is not read (None), and leaks are judged on the heap.
- Heap: the bytes in live allocations, as opposed to RSS, which keeps freed memory the
  allocators hold on to (fragmentation): pymalloc's allocated blocks
  (`_PyObject_DebugMallocStats`, written into a memory stream) plus glibc's in-use malloc bytes
  (`mallinfo2`: `uordblks + hblkhd`). pymalloc's arenas are mmapped, so the two never overlap.
- Peak: `VmHWM` in `/proc/self/status`, which Linux resets to the current RSS when "5" is
  written to `/proc/self/clear_refs`: a per-stage high-water mark at no sampling cost (~10 µs).
  Not `ru_maxrss`: it also keeps the high-water mark of any thread that has exited.

glibc raises its mmap threshold (up to 32 MB) each time a large block is freed, after which such
blocks come from the heap and are kept on free for the next one: RSS then never rises for an
allocation made and freed inside a stage. `return_freed_memory()` fixes the thresholds, so
blocks of 256 KiB and more are mapped and unmapped; then the high-water mark shows them (the
peak working memory of docs/memory.md). Measured: no change on the demo's latency; a stage that
builds and frees 30 MB a query pays its page faults each time (2 -> 20 ms on a busy VM).
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from typing import TYPE_CHECKING

try:
    import resource
except ImportError:  # pragma: no cover - Windows has no getrusage
    resource = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MemoryReader", "return_freed_memory"]

_PYMALLOC_LINE = re.compile(rb"# bytes in allocated blocks\s*=\s*([\d,]+)")
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_RETURN_AT = 256 << 10


class _MallInfo2(ctypes.Structure):
    _fields_ = [  # the ctypes layout of glibc's struct mallinfo2
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


class MemoryReader:
    """Reads RSS, heap and peak RSS in bytes; a reading that is not available here is None."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._statm = _open("/proc/self/statm", os.O_RDONLY)
        self._status = _open("/proc/self/status", os.O_RDONLY)
        self._clear_refs = _open("/proc/self/clear_refs", os.O_WRONLY)
        self._malloc_in_use = _mallinfo2()
        self._pymalloc_in_use = _pymalloc_stats()
        sources = [name for name, fn in (("pymalloc", self._pymalloc_in_use), ("malloc", self._malloc_in_use)) if fn]
        self.heap_source = " + ".join(sources) if sources else None
        self.peak_resets = self._status is not None and self._clear_refs is not None and self._reset_works()

    def close(self) -> None:
        """Close the /proc files."""
        for fd in (self._statm, self._status, self._clear_refs):
            if fd is not None:
                os.close(fd)
        self._statm = self._status = self._clear_refs = None

    def rss(self) -> int | None:
        """Resident set size now."""
        if self._statm is None:
            return None
        return int(os.pread(self._statm, 128, 0).split()[1]) * self._page

    def heap(self) -> int | None:
        """Bytes in live allocations (pymalloc blocks + malloc in-use), None when neither is readable."""
        if self.heap_source is None:
            return None
        total = 0
        if self._pymalloc_in_use is not None:
            total += self._pymalloc_in_use()
        if self._malloc_in_use is not None:
            total += self._malloc_in_use()
        return total

    def peak(self) -> int:
        """The highest RSS since the last reset_peak() (or since the process started)."""
        if self._status is not None:
            status = os.pread(self._status, 4096, 0)
            start = status.find(b"VmHWM:")
            if start >= 0:
                return int(status[start + 6 : status.index(b"kB", start)]) * 1024
        if resource is None:  # pragma: no cover - Windows
            return self.rss() or 0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT

    def reset_peak(self) -> None:
        """Start a new high-water mark at the current RSS (no-op where the kernel cannot)."""
        if self.peak_resets and self._clear_refs is not None:
            os.write(self._clear_refs, b"5")

    def _reset_works(self) -> bool:
        # Writing is allowed for one's own process, but some sandboxes refuse it.
        try:
            os.write(self._clear_refs, b"5")  # type: ignore[arg-type]
        except OSError:
            return False
        return True


def return_freed_memory() -> bool:
    """Make glibc map large blocks and unmap them on free, so RSS follows them; False elsewhere."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _RETURN_AT)) and bool(mallopt(_M_TRIM_THRESHOLD, _RETURN_AT))


def _open(path: str, flags: int) -> int | None:
    try:
        return os.open(path, flags)
    except OSError:
        return None


def _mallinfo2() -> Callable[[], int] | None:
    """glibc's in-use malloc bytes (glibc >= 2.33), or None elsewhere."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    fn.argtypes = []

    def in_use() -> int:
        info = fn()
        return int(info.uordblks + info.hblkhd)

    return in_use


def _pymalloc_stats() -> Callable[[], int] | None:
    """pymalloc's bytes in allocated blocks, read from its statistics without touching stderr."""
    try:
        libc = ctypes.CDLL(None)
        stats = ctypes.pythonapi._PyObject_DebugMallocStats  # PyDLL: called with the GIL held
        open_memstream, fclose, free = libc.open_memstream, libc.fclose, libc.free
    except (OSError, AttributeError):
        return None
    stats.argtypes, stats.restype = [ctypes.c_void_p], ctypes.c_int
    open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
    open_memstream.restype = ctypes.c_void_p
    fclose.argtypes, free.argtypes = [ctypes.c_void_p], [ctypes.c_void_p]

    def in_use() -> int:
        buf, size = ctypes.c_char_p(), ctypes.c_size_t()
        stream = open_memstream(ctypes.byref(buf), ctypes.byref(size))
        if not stream:
            return 0
        stats(stream)
        fclose(stream)
        text = ctypes.string_at(buf, size.value)
        free(buf)
        # No line when Python runs without pymalloc (PYTHONMALLOC=malloc): malloc then holds it all.
        match = _PYMALLOC_LINE.search(text)
        return int(match.group(1).replace(b",", b"")) if match else 0

    return in_use
