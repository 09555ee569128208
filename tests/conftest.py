"""Shared fixtures: write a throwaway pipeline (module + config) into a temp folder."""

from __future__ import annotations

import textwrap
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


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
