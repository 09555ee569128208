"""Stop signals, handled the same way everywhere: Ctrl-C, SIGTERM and SIGHUP mean "stop, keep what was measured".

CI runners, `timeout` and container stops send SIGTERM; a closed terminal sends SIGHUP. Python's
default for both is to die at once, losing everything the parent has not written yet. Two tools
here: `stops_raise()` turns them into `Interrupted` (a KeyboardInterrupt, so every `except
KeyboardInterrupt` path that keeps data for Ctrl-C keeps it for them too), and `SignalLatch`
counts them instead of raising, for a loop that supervises a child and decides itself what a
first and a second signal mean.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

__all__ = ["STOP_SIGNALS", "Interrupted", "SignalLatch", "exit_code_for", "signal_name", "stops_raise"]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; `signum` says which (SIGINT for Ctrl-C)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int) -> str:
    """'SIGTERM' for 15, and so on."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code_for(exc: BaseException) -> int:
    """The shell's convention, 128 + the signal: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def stops_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `Interrupted` in the main thread, as Ctrl-C raises."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS if sig != signal.SIGINT}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class SignalLatch:
    """Counts stop signals while active and calls `on_signal(signum, count)`; nothing is raised.

    A supervising loop polls `count`: the first signal asks the child to stop after its current
    query, a second one ends it at once, and in both cases the parent still writes what the
    child recorded.
    """

    def __init__(self, on_signal: Callable[[int, int], None] | None = None) -> None:
        self.count = 0
        self.signum: int | None = None
        self._on_signal = on_signal
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> SignalLatch:
        if _main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        if self._on_signal is not None:
            self._on_signal(signum, self.count)

    def interrupted(self) -> Interrupted | None:
        """The first signal as an exception to raise or record, or None when none arrived."""
        return None if self.signum is None else Interrupted(self.signum)
