"""Shared fixtures: a throwaway pipeline (module + config) in a temp folder; the machine's load for timing tests."""

from __future__ import annotations

import os
import textwrap
import uuid
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

T = TypeVar("T")


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
