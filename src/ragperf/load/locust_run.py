"""`ragperf load --engine locust`: run Locust headless on this machine with the ragperf User."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ragperf.errors import BackendUnavailable, ExitCode, RagperfError

__all__ = ["locust_arguments", "run_locust"]

USERS_PER_PROCESS = 4


def locust_arguments(
    config: Path, output: Path, qps: float | None, duration_s: float, processes: int, warmup: int
) -> list[str]:
    """The locust command line: headless, master bound to loopback, ragperf's locustfile."""
    # The path only: importing the locustfile would import locust, which gevent-patches this process.
    locustfile = Path(__file__).with_name("locustfile.py")
    users = processes * USERS_PER_PROCESS
    args = [
        "-f", str(locustfile.resolve()),
        "--headless", "-u", str(users), "-r", str(users), "-t", f"{math.ceil(duration_s)}s",
        "--only-summary", "--master-bind-host", "127.0.0.1",
        "--ragperf-config", str(config.resolve()), "--ragperf-output", str(output.resolve()),
        "--ragperf-warmup", str(warmup),
    ]  # fmt: skip
    if processes > 1:
        args += ["--processes", str(processes)]
    if qps:
        args += ["--ragperf-qps", f"{qps / users:.6g}"]
    return args


def run_locust(
    config: Path, output: Path | None, qps: float | None, duration_s: float, processes: int, warmup: int
) -> Path:
    """Run Locust to the end (Ctrl-C stops it cleanly; it still writes the file); return the file path."""
    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    if not Path(locust).exists():
        msg = "Locust is not installed; pip install 'ragperf[load]' to use --engine locust"
        raise BackendUnavailable(msg)
    stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
    output = output or Path(".ragperf") / "runs" / f"{stamp}-locust.json"
    command = [locust, *locust_arguments(config, output, qps, duration_s, processes, warmup)]
    try:
        done = subprocess.run(command, check=False, cwd=config.resolve().parent)  # noqa: S603 - locust, our args
    except KeyboardInterrupt:
        done = None
    if not output.exists():
        code = ExitCode.INTERRUPTED if done is None else ExitCode.PIPELINE
        error = RagperfError(f"Locust wrote no load file (exit {done.returncode if done else 'interrupted'})")
        error.exit_code = code
        raise error
    return output
