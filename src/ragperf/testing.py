"""Contract checks for backend authors: the checks ragperf's own backends pass, importable by plugins.

In a plugin's tests::

    from ragperf.testing import check_backend_class, check_backend_end_to_end

    def test_contract(tmp_path):
        check_backend_class(MyBackend)
        check_backend_end_to_end("my-backend", tmp_path)

`check_backend_end_to_end` writes a small pipeline whose stages have known hot functions (stage
`spin` loops in `hot_spin`, stage `alloc` allocates in `hot_alloc`, stage `wait` sleeps), runs it
through a real worker under the backend, and checks the normalised output against that truth.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragperf.backends.base import Backend, OptionSpec
from ragperf.schema.run import OUTSIDE_STAGES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from ragperf.schema.run import Artifact, Hotspot, RunFile

__all__ = [
    "HOT_PIPELINE",
    "check_backend_class",
    "check_backend_end_to_end",
    "check_backend_output",
    "write_hot_pipeline",
]

HOT_PIPELINE = """
import time


def hot_spin(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def hot_alloc(n):
    kept = []
    for _ in range(n):
        kept.append(bytearray(65536))
    return len(kept)


def spin(state):
    return hot_spin(200_000)


def alloc(state):
    return hot_alloc(200)


def wait(state):
    time.sleep(0.005)
"""

_CONFIG = """
[pipeline]
name = "contract"
queries = "queries.txt"

[[stages]]
name = "spin"
call = "ragperf_contract_pipeline:spin"

[[stages]]
name = "alloc"
call = "ragperf_contract_pipeline:alloc"

[[stages]]
name = "wait"
call = "ragperf_contract_pipeline:wait"
"""
_EPS = 1e-6


class ContractError(AssertionError):
    """A backend broke the contract; the message says which rule and where."""


def _fail(message: str) -> None:
    raise ContractError(message)


def check_backend_class(cls: type[Backend], options: Mapping[str, Any] | None = None) -> None:
    """Check the class attributes, option specs and that importing it does not import its profiler."""
    if not (isinstance(getattr(cls, "name", None), str) and cls.name):
        _fail(f"{cls.__qualname__}.name must be a non-empty string")
    if not (isinstance(getattr(cls, "summary", None), str) and cls.summary):
        _fail(f"{cls.__qualname__}.summary must be a one-line string")
    if cls.placement not in {"worker", "wrapper"}:
        _fail(f"{cls.__qualname__}.placement must be 'worker' or 'wrapper', not {cls.placement!r}")
    for key, spec in cls.options_spec.items():
        if not isinstance(spec, OptionSpec) or not isinstance(spec.default, spec.type) or not spec.help:
            _fail(f"{cls.__qualname__} option '{key}': need an OptionSpec whose default is a {spec.type} and a help")
    backend = cls(options)
    if set(backend.options) != set(cls.options_spec):
        _fail(
            f"{cls.__qualname__}: options after init {sorted(backend.options)} != declared {sorted(cls.options_spec)}"
        )
    _check_lazy_import(cls)


def _check_lazy_import(cls: type[Backend]) -> None:
    """Importing the backend's module in a fresh interpreter must not pull heavy modules in."""
    probe = (
        "import sys, importlib; before = set(sys.modules); importlib.import_module(sys.argv[1]); "
        "print(','.join(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in sys.argv[2:])))"
    )
    heavy = ["pyinstrument", "memray", "scalene", "numpy", "typer", "rich", "cProfile", "pstats"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and fixed code
        [sys.executable, "-c", probe, cls.__module__, *heavy], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        _fail(f"importing {cls.__module__} failed: {done.stderr.strip().splitlines()[-1:]}")
    if done.stdout.strip():
        _fail(f"importing {cls.__module__} imports {done.stdout.strip()}: import profilers inside methods")


def check_backend_output(
    hotspots: Iterable[Hotspot], artifacts: Iterable[Artifact], *, backend: str, stages: set[str]
) -> None:
    """Check normalised hotspots and artifacts: known stages, sane values, shares that add up."""
    per_stage: dict[tuple[str, str], float] = {}  # time and memory shares are each of their own total
    for spot in hotspots:
        where = f"hotspot {spot.function} in {spot.stage}"
        if spot.backend != backend:
            _fail(f"{where}: backend is {spot.backend!r}, expected {backend!r}")
        if spot.stage not in stages and spot.stage != OUTSIDE_STAGES:
            _fail(f"{where}: unknown stage (the run's stages: {sorted(stages)}, or {OUTSIDE_STAGES})")
        values = (spot.self_value, spot.total_value, spot.share)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            _fail(f"{where}: values must be finite and >= 0, got {values}")
        if spot.self_value > spot.total_value * (1 + _EPS) + _EPS:
            _fail(f"{where}: self {spot.self_value} exceeds total {spot.total_value}")
        if spot.unit == "bytes" and spot.count is None:
            _fail(f"{where}: a memory hotspot needs its allocation count")
        key = (spot.stage, spot.unit)
        per_stage[key] = per_stage.get(key, 0.0) + spot.share
    for (stage, unit), share in per_stage.items():
        if share > 1 + 1e-3:
            _fail(f"stage {stage}: self shares ({unit}) add up to {share:.3f} > 1")
    for artifact in artifacts:
        if not Path(artifact.path).exists():
            _fail(f"artifact {artifact.kind}: {artifact.path} does not exist")


def write_hot_pipeline(folder: Path) -> Path:
    """Write the contract pipeline (module, queries, config) into `folder`; return the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ragperf_contract_pipeline.py").write_text(textwrap.dedent(HOT_PIPELINE), encoding="utf-8")
    (folder / "queries.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    config = folder / "ragperf.toml"
    config.write_text(textwrap.dedent(_CONFIG), encoding="utf-8")
    return config


def check_backend_end_to_end(
    backend: str, folder: Path, *, options: Mapping[str, Any] | None = None, measured: int = 10, memory: bool = False
) -> RunFile:
    """Run the contract pipeline under `backend` in a real worker and check it found the known hot spots.

    A CPU backend must rank `hot_spin` first in stage `spin`, with most of the stage's samples; a
    memory backend (`memory=True`) must rank `hot_alloc` first in stage `alloc`.
    """
    from ragperf.config import load_config
    from ragperf.engine.runner import RunRequest, execute

    config = write_hot_pipeline(folder)
    output = folder / "run.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend=backend,
        backend_options=dict(options or {}),
        measured=measured,
        warmup=1,
    )
    run = execute(request).run
    check_backend_output(run.hotspots, run.artifacts, backend=backend, stages={s.path for s in run.stages})
    stage, function, unit = ("alloc", "hot_alloc", "bytes") if memory else ("spin", "hot_spin", "ms")
    ranked = sorted((h for h in run.hotspots if h.stage == stage and h.unit == unit), key=lambda h: -h.self_value)
    if not ranked:
        _fail(f"{backend}: no hotspots attributed to stage '{stage}'")
    if ranked[0].function != function:
        _fail(f"{backend}: stage '{stage}' top hotspot is {ranked[0].function}, expected {function}")
    if ranked[0].share < 0.5:
        _fail(f"{backend}: {function} holds only {ranked[0].share:.0%} of stage '{stage}'")
    return run
