"""Record the machine and software a run happened on (pyperf-style metadata)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ragperf.schema.run import Environment

__all__ = ["capture_environment", "load_average", "now_iso"]

_PACKAGES = ("ragperf", "pydantic", "numpy")


def now_iso() -> str:
    """The current time, UTC, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_average() -> tuple[float, float, float] | None:
    """The 1/5/15-minute load average, where the platform has one."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(  # noqa: S603 - fixed git arguments
            ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, as the user runs it
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _versions(extra: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in (*_PACKAGES, *extra):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def capture_environment(
    project: Path,
    started_at: str,
    load_start: tuple[float, float, float] | None,
    extra_packages: tuple[str, ...] = (),
    imported: dict[str, str] | None = None,
) -> Environment:
    """Describe this machine, the package versions and the pipeline project's git commit.

    `imported`: the distributions the pipeline imported (from the worker), beside ragperf's own.
    """
    commit = _git(project, "rev-parse", "HEAD")
    status = _git(project, "status", "--porcelain", "--untracked-files=no") if commit else None
    return Environment(
        python=platform.python_version(),
        implementation=sys.implementation.name,
        platform=platform.platform(),
        machine=platform.machine(),
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        load_avg_start=load_start,
        load_avg_end=load_average(),
        packages={**_versions(extra_packages), **(imported or {})},
        git_commit=commit,
        git_dirty=None if status is None else bool(status),
        started_at=started_at,
        finished_at=now_iso(),
    )
