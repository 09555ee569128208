"""`ragperf leak` end to end: real worker processes, injected leaks of known size and stage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.errors import ExitCode
from ragperf.memory.settings import LeakSettings
from ragperf.schema import load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ragperf.schema.run import RunFile

MB = 1 << 20
ITERATIONS = 30

LEAKY = """
_HISTORY = []

def setup(options):
    return options

def embed(state):
    return [float(i) for i in range(500)]

def rerank(state):
    size = int(state.ctx["leak_bytes"])
    if state.ctx["kind"] == "small":
        # Many small objects (pymalloc): 128-byte strings, each also holding a list slot.
        _HISTORY.extend(f"{i:079d}" for i in range(size // 136))  # LEAK-SMALL
    else:
        _HISTORY.append(b"r" * size)  # LEAK-BYTES
    return sorted(state.outputs["embed"])[:5]

def generate(state):
    return " ".join(str(x) for x in state.outputs["rerank"])
"""

STAGES = """
[[stages]]
name = "embed"
call = "pipe:embed"
[[stages]]
name = "rerank"
call = "pipe:rerank"
[[stages]]
name = "generate"
call = "pipe:generate"
"""

LEAK_FREE = """
import functools

_CACHE = {}
_RING = [None] * 600
_COUNT = [0]

@functools.lru_cache(maxsize=12)
def _expensive(n):
    return [str(i) * 10 for i in range(2000)]

def warm_cache(state):
    # A per-query cache (filled in the first pass) and an LRU that fills over the first iterations.
    _COUNT[0] += 1
    _CACHE.setdefault(state.query, [state.query * 50 for _ in range(200)])
    return len(_expensive(_COUNT[0] % 12))

def fragment(state):
    # Many short-lived small objects; a bounded ring keeps every 64th, so pymalloc pools stay sparse.
    churn = [(i, str(i)) for i in range(10000)]
    for j in range(0, len(churn), 64):
        _COUNT[0] += 1
        _RING[_COUNT[0] % len(_RING)] = churn[j]
    return len(churn)

def big_buffers(state):
    # Allocate and free large, touched buffers: RSS jumps inside the stage, nothing survives it.
    block = b"b" * (48 * (1 << 20))
    parts = [bytearray(b"p" * (256 * 1024)) for _ in range(40)]
    return len(block) + len(parts)
"""


def _leak(config: Path, tmp_path: Path, iterations: int = ITERATIONS) -> RunFile:
    output = tmp_path / "leak.json"
    request = RunRequest(
        config=load_config(config),
        config_path=config,
        output=output,
        backend="timer",
        measured=iterations,
        warmup=5,
        memory=True,
        leak=LeakSettings(),
    )
    outcome = execute(request)
    assert outcome.exit_code == ExitCode.OK
    return load_run(output)


def _line_of(marker: str) -> int:
    return next(i for i, line in enumerate(LEAKY.splitlines(), start=1) if marker in line)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mb_per_iter", "kind", "marker"),
    [
        (0.1, "bytes", "LEAK-BYTES"),
        (0.1, "small", "LEAK-SMALL"),
        (0.5, "bytes", "LEAK-BYTES"),
        (2.0, "bytes", "LEAK-BYTES"),
    ],
)
def test_injected_leak_is_found_with_its_size_stage_and_site(
    make_pipeline: Callable[..., Path], tmp_path: Path, mb_per_iter: float, kind: str, marker: str
) -> None:
    # GIVEN a pipeline whose middle stage keeps `mb_per_iter` MB alive on every query
    leak_bytes = int(mb_per_iter * MB)
    config = make_pipeline(
        LEAKY,
        STAGES,
        extra_toml=f'setup = "pipe:setup"\n[pipeline.options]\nleak_bytes = {leak_bytes}\nkind = "{kind}"\n',
    )
    # WHEN the leak check runs
    run = _leak(config, tmp_path)
    leak = run.leak
    # THEN the leak is detected, its slope is within 20% of the truth, and the stage and line are named
    assert run.kind == "leak"
    assert leak is not None
    assert leak.detected, leak.message
    assert leak.slope == pytest.approx(mb_per_iter, rel=0.2)
    assert leak.ci is not None
    assert leak.ci[0] <= leak.slope <= leak.ci[1]
    assert leak.stage == "rerank"
    top = leak.sites[0]
    assert top.stage == "rerank"
    assert top.file.endswith(".py")
    assert top.line == _line_of(marker)
    assert top.growth_per_iter == pytest.approx(mb_per_iter, rel=0.2)
    assert len(leak.series) == ITERATIONS
    # ... and the verdict compares the slope with the 0.5 MB/iter target
    expected = "FAIL" if mb_per_iter > 0.5 else ("PASS" if mb_per_iter < 0.5 else leak.verdict)
    assert leak.verdict == expected
    verdicts = {t.name: t.verdict for t in run.summary.targets}
    assert verdicts["leak_mb_per_iter"] == leak.verdict


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["warm_cache", "fragment", "big_buffers"])
def test_leak_free_pipelines_report_no_leak(make_pipeline: Callable[..., Path], tmp_path: Path, stage: str) -> None:
    # GIVEN a pipeline that warms caches, fragments the heap, or allocates and frees large buffers
    config = make_pipeline(LEAK_FREE, f'[[stages]]\nname = "{stage}"\ncall = "pipe:{stage}"\n')
    # WHEN the leak check runs
    run = _leak(config, tmp_path)
    # THEN no leak is reported and the target passes
    assert run.leak is not None
    assert not run.leak.detected, run.leak.message
    assert run.leak.verdict == "PASS"
    assert run.leak.stage is None
    assert run.leak.message.startswith("no leak")


@pytest.mark.slow
def test_cli_gate_fails_on_a_leak_over_target(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a 2 MB/iter leak
    config = make_pipeline(
        LEAKY,
        STAGES,
        extra_toml=f'setup = "pipe:setup"\n[pipeline.options]\nleak_bytes = {2 * MB}\nkind = "bytes"\n',
    )
    output = tmp_path / "cli-leak.json"
    # WHEN `ragperf leak --gate` runs
    result = CliRunner().invoke(
        app, ["leak", str(config), "-n", "12", "--no-progress", "--gate", "-o", str(output)], catch_exceptions=False
    )
    # THEN it exits 1, names the stage, and the leak file loads
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "stage 'rerank'" in " ".join(result.output.split())
    assert load_run(output).leak is not None


def test_cli_leak_on_a_missing_config_is_one_line(tmp_path: Path) -> None:
    # GIVEN no config file WHEN `ragperf leak` is pointed at it
    result = CliRunner().invoke(app, ["leak", str(tmp_path / "nope.toml"), "--no-progress"])
    # THEN a one-line usage error, exit 2
    assert result.exit_code == ExitCode.USAGE
    assert "config file not found" in result.output


BRANCHES = """
_KEPT = []

def vector(state):
    return [i * 0.5 for i in range(1000)]

def bm25(state):
    _KEPT.append(b"b" * (256 * 1024))  # LEAK-BRANCH
    return ["doc"] * 10
"""


@pytest.mark.slow
def test_a_leak_in_a_parallel_branch_names_the_branch(make_pipeline: Callable[..., Path], tmp_path: Path) -> None:
    # GIVEN a fan-out whose bm25 branch, running on a worker thread, keeps 0.25 MB per query
    stages = """
    [[stages]]
    name = "retrieval"
    parallel = [{ name = "vector", call = "pipe:vector" }, { name = "bm25", call = "pipe:bm25" }]
    """
    config = make_pipeline(BRANCHES, stages)
    # WHEN the leak check runs
    run = _leak(config, tmp_path, iterations=15)
    # THEN the growth is attributed to the branch, not just to the fan-out stage
    assert run.leak is not None
    assert run.leak.detected, run.leak.message
    assert run.leak.slope == pytest.approx(0.25, rel=0.2)
    assert run.leak.stage == "retrieval.bm25"
    assert run.leak.sites[0].code == '_KEPT.append(b"b" * (256 * 1024))  # LEAK-BRANCH'
