"""Stop signals at every moment of a run and a leak check: what was measured is written, the worker
is gone, the exit code is 128 + the signal."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from hostile.cases import Case, Keeps, streamed, wait_for

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path

    from hostile.workspace import Workspace

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}


def _send(process: subprocess.Popen[str], signum: int, *, group: bool) -> None:
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)


def _after(condition: Callable[[], bool], signums: tuple[int, ...], *, group: bool, gap: float = 0.2):
    def trigger(process: subprocess.Popen[str]) -> None:
        wait_for(condition, 60)
        for i, signum in enumerate(signums):
            if i:
                time.sleep(gap)
            _send(process, signum, group=group)

    return trigger


def cases(ws: Workspace) -> list[Case]:
    out: list[Case] = []
    for command in ("run", "leak"):
        for name, signum in SIGNALS.items():
            for group in (False, True):
                target = "the process group" if group else "ragperf"
                for moment in ("setup", "measuring"):
                    config = ws.config(ms=20, setup_hangs=moment == "setup")
                    output = ws.fresh("signal").with_suffix(".json")
                    pid_file = ws.pid_file(config)
                    if moment == "setup":
                        condition: Callable[[], bool] = pid_file.exists
                        keeps = None
                    else:
                        condition = _streamed_at_least(output, 5)
                        keeps = Keeps(output, 5)
                    argv = _argv(command, config, output)
                    out.append(
                        Case(
                            "signal",
                            f"{command}: {name} to {target} during {moment}",
                            argv,
                            frozenset({128 + signum}),
                            trigger=_after(condition, (signum,), group=group),
                            keeps=keeps,
                            pid_file=pid_file,
                        )
                    )
        for gap in (0.05, 0.5):
            config = ws.config(ms=300)
            output = ws.fresh("signal").with_suffix(".json")
            out.append(
                Case(
                    "signal",
                    f"{command}: Ctrl-C twice, {gap} s apart",
                    _argv(command, config, output),
                    frozenset({130}),
                    trigger=_after(_streamed_at_least(output, 2), (signal.SIGINT, signal.SIGINT), group=False, gap=gap),
                    keeps=Keeps(output, 2),
                    pid_file=ws.pid_file(config),
                )
            )
    return out


def _argv(command: str, config: Path, output: Path) -> tuple[str, ...]:
    if command == "leak":
        return ("leak", str(config), "-n", "2000", "--warmup", "0", "-o", str(output), "--no-progress")
    return ("run", str(config), "-n", "2000", "-o", str(output), "--no-progress")


def _streamed_at_least(output: Path, n: int) -> Callable[[], bool]:
    return lambda: streamed(output) >= n
