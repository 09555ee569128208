"""Regenerate the saved run files the renderer tests read (run from the repository root).

    python tests/data/runs/rich/generate.py

Writes tests/data/runs/{rich_pyinstrument,rich_profiled,rich_memory,rich_leak,example_timer}.json; the golden
files then need RAGPERF_UPDATE_GOLDEN=1 (see tests/unit/test_renderers.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.memory.settings import LeakSettings
from ragperf.outputs import artifacts_dir

HERE = Path(__file__).parent
RUNS = HERE.parent


def _run(config: Path, name: str, **kwargs: object) -> None:
    output = RUNS / f"{name}.json"
    request = RunRequest(config=load_config(config), config_path=config, output=output, **kwargs)  # type: ignore[arg-type]
    execute(request)
    shutil.rmtree(artifacts_dir(output), ignore_errors=True)  # native files are big and machine-specific
    output.chmod(0o644)
    print(f"wrote {output}")


def main() -> None:
    """Write every saved run file."""
    _run(HERE / "rich.toml", "rich_pyinstrument", backend="pyinstrument", measured=40, warmup=2)
    _run(HERE / "rich.toml", "rich_profiled", backend="pyinstrument", measured=40, warmup=2)  # with its stacks
    _run(HERE / "rich.toml", "rich_memory", backend="timer", measured=3, warmup=1, memory=True)
    _run(HERE / "rich_leak.toml", "rich_leak", backend="timer", measured=30, warmup=3, leak=LeakSettings())
    example = HERE.parents[3] / "configs" / "example.toml"
    _run(example, "example_timer", backend="timer", measured=20, warmup=2)


if __name__ == "__main__":
    main()
