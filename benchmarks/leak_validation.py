"""False-positive and detection rates of `ragperf leak`, measured on real worker runs.

Runs the leak check (30 iterations, the defaults otherwise) 20 times on a leak-free pipeline
that warms caches, fragments the heap and allocates/frees large buffers, and 20 times on the
same pipeline with a 0.1 MB/iteration leak in its `rerank` stage (half as one bytes object per
iteration, half as ~770 small strings, the pymalloc case). Prints the false-positive rate, the
detection rate, how often the right stage and line were named, and the slope error.
Goal: 0/20 false positives and 20/20 detected.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

from ragperf.config import load_config
from ragperf.engine.runner import RunRequest, execute
from ragperf.memory.settings import LeakSettings

MB = 1 << 20

PIPELINE = """
import functools
import numpy as np

_HISTORY = []
_SEEN = {}
_RING = [None] * 300
_COUNT = [0]

def setup(options):
    return options

@functools.lru_cache(maxsize=16)
def _embed_cached(text):
    return np.random.default_rng(len(text)).random(384)

def embed(state):
    return _embed_cached(state.query)  # warms over the first pass through the queries

def retrieve(state):
    docs = [("passage %d " % i) * 12 for i in range(3000)]  # churn: many short-lived strings
    for j in range(0, len(docs), 64):  # a bounded ring keeps a sparse few: fragmented pools
        _COUNT[0] += 1
        _RING[_COUNT[0] % len(_RING)] = docs[j]
    matrix = np.random.default_rng(_COUNT[0]).random((1000, 384))  # 3 MB, freed
    scores = matrix @ state.outputs["embed"]
    return [docs[i] for i in np.argsort(scores)[-10:]]

def rerank(state):
    size = int(state.ctx["leak_bytes"])
    if size and state.ctx["kind"] == "small":
        _HISTORY.extend(f"{i:079d}" for i in range(size // 136))  # LEAK (small objects)
    elif size:
        _HISTORY.append(b"r" * size)  # LEAK (one block)
    buffer = b"x" * (40 * (1 << 20))  # a large transient buffer
    return sorted(state.outputs["retrieve"], key=len)[: 5 + len(buffer) % 2]

def generate(state):
    _SEEN[state.query] = _SEEN.get(state.query, 0) + 1  # bounded by the query set
    return " ".join(state.outputs["rerank"])[:200]
"""

CONFIG = """
[pipeline]
name = "leak-validation"
setup = "valpipe:setup"
queries = "queries.txt"

[pipeline.options]
leak_bytes = {leak_bytes}
kind = "{kind}"

[[stages]]
name = "embed"
call = "valpipe:embed"
[[stages]]
name = "retrieve"
call = "valpipe:retrieve"
[[stages]]
name = "rerank"
call = "valpipe:rerank"
[[stages]]
name = "generate"
call = "valpipe:generate"
"""

QUERIES = [f"what does document {i} say about memory leaks" for i in range(7)]


def _config(folder: Path, leak_bytes: int, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "valpipe.py").write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
    (folder / "queries.txt").write_text("\n".join(QUERIES) + "\n", encoding="utf-8")
    path = folder / "ragperf.toml"
    path.write_text(CONFIG.format(leak_bytes=leak_bytes, kind=kind), encoding="utf-8")
    return path


def _check(config: Path, iterations: int, output: Path) -> tuple[bool, float | None, str | None, int | None]:
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
    leak = execute(request).run.leak
    if leak is None:
        raise RuntimeError("no leak section")
    line = leak.sites[0].line if leak.sites else None
    return leak.detected, leak.slope, leak.stage, line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--leak-mb", type=float, default=0.1)
    args = parser.parse_args()
    leak_bytes = int(args.leak_mb * MB)
    lines = textwrap.dedent(PIPELINE).splitlines()
    leak_lines = {i for i, text in enumerate(lines, start=1) if "# LEAK" in text}

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clean = _config(root / "clean", 0, "bytes")
        false_positives, clean_slopes = 0, []
        for run in range(args.runs):
            detected, slope, _, _ = _check(clean, args.iterations, root / "out" / f"clean-{run}.json")
            false_positives += detected
            clean_slopes.append(slope or 0.0)
        detected_n, right_stage, right_line, errors = 0, 0, 0, []
        for run in range(args.runs):
            kind = "bytes" if run % 2 == 0 else "small"
            config = _config(root / kind, leak_bytes, kind)
            detected, slope, stage, line = _check(config, args.iterations, root / "out" / f"leak-{run}.json")
            detected_n += detected
            right_stage += stage == "rerank"
            right_line += line in leak_lines
            errors.append(abs((slope or 0.0) - args.leak_mb) / args.leak_mb)
    elapsed = time.perf_counter() - start

    print(f"leak check, {args.iterations} iterations, {args.runs} runs each ({elapsed:.0f} s)")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| false positives, leak-free pipeline | {false_positives}/{args.runs} |")
    print(f"| leak-free heap slope, max abs | {max(abs(s) for s in clean_slopes) * 1024:.2f} KB/iter |")
    print(f"| detected, {args.leak_mb} MB/iter leak | {detected_n}/{args.runs} |")
    print(f"| right stage named (rerank) | {right_stage}/{args.runs} |")
    print(f"| right line named | {right_line}/{args.runs} |")
    print(f"| slope error, median / max | {statistics.median(errors):.1%} / {max(errors):.1%} |")
    ok = false_positives == 0 and detected_n == args.runs
    print(f"goal 0/{args.runs} false positives and {args.runs}/{args.runs} detected: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
