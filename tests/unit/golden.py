"""Golden files of the renderers' output: compared, or rewritten with RAGPERF_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["GOLDEN", "check_golden"]

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"


def check_golden(name: str, text: str) -> None:
    """`text` is what tests/data/golden/NAME holds (RAGPERF_UPDATE_GOLDEN=1 rewrites it first)."""
    path = GOLDEN / name
    if os.environ.get("RAGPERF_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with RAGPERF_UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; RAGPERF_UPDATE_GOLDEN=1 if intended"
