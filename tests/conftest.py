"""Shared fixtures: a throwaway pipeline (module + config) in a temp folder; the machine's load for timing tests."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import textwrap
import uuid
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")


def _register_missing_entry_points() -> None:
    """Register the pyproject's entry-point groups that the installed metadata lacks.

    An editable install keeps the entry points of the pyproject it was installed from; a branch
    that adds a group (ragperf.frameworks) would otherwise test against stale metadata until
    reinstalled. The groups go into a dist-info of their own, on sys.path and on the PYTHONPATH
    of the workers the tests start. With a fresh install this does nothing.
    """
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    groups = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("entry-points", {})
    missing = {group: eps for group, eps in groups.items() if not entry_points(group=group)}
    if not missing:
        return
    root = Path(tempfile.mkdtemp(prefix="ragperf-entry-points-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    info = root / "ragperf_branch_entry_points-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ragperf-branch-entry-points\nVersion: 0\n")
    lines = [
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in eps.items())
        for group, eps in missing.items()
    ]
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    sys.path.append(str(root))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(root)]))


_register_missing_entry_points()


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Callable[..., Path]:
    """Write `<module>.py`, a query file and `ragperf.toml` into tmp_path; return the config path."""

    def make(
        module_source: str,
        stages_toml: str,
        *,
        extra_toml: str = "",
        queries: tuple[str, ...] = ("first query", "second query", "third query"),
    ) -> Path:
        # A module name of its own per test: tests that import in-process must not share sys.modules.
        module = f"pipe_{uuid.uuid4().hex[:8]}"
        stages_toml = stages_toml.replace('"pipe:', f'"{module}:')
        extra_toml = extra_toml.replace('"pipe:', f'"{module}:')
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(module_source), encoding="utf-8")
        (tmp_path / "queries.txt").write_text("\n".join(queries) + "\n", encoding="utf-8")
        config = tmp_path / "ragperf.toml"
        config.write_text(
            textwrap.dedent(
                f"""\
                [pipeline]
                name = "test"
                queries = "queries.txt"
                {extra_toml}
                """
            )
            + textwrap.dedent(stages_toml),
            encoding="utf-8",
        )
        return config

    return make


class Busy:
    """How loaded the machine is while a timing test runs, as a factor to widen its tolerances by.

    1 on a quiet machine; past half a runnable process per core it grows with the load per core,
    so a test judges what was measured against what the machine could give it. The load is read
    at the start and whenever asked, and the higher reading counts (the average lags a burst).
    """

    def __init__(self) -> None:
        self._start = os.getloadavg()[0]

    def slack(self) -> float:
        """The factor: 1 + the 1-minute load per core above 0.5."""
        per_core = max(self._start, os.getloadavg()[0]) / (os.cpu_count() or 1)
        return 1.0 + max(0.0, per_core - 0.5)

    def retry(self, measure: Callable[[], T], check: Callable[[T, float], None], attempts: int = 3) -> T:
        """Measure, then check with the slack; measure again when a check fails, up to `attempts` times.

        A stall of a few hundred milliseconds on a shared machine can spoil one short load step; a
        real fault fails every attempt.
        """
        for attempt in range(attempts):
            result = measure()
            try:
                check(result, self.slack())
            except AssertionError:
                if attempt == attempts - 1:
                    raise
                continue
            return result
        raise AssertionError("no attempt")  # pragma: no cover - attempts >= 1


@pytest.fixture
def busy() -> Busy:
    """The machine's load, for timing tests that must hold on a busy 2-core machine."""
    return Busy()
