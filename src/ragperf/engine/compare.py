"""`ragperf compare`, the parent side: two pipelines in one run, interleaved block by block, two run files.

check both interpreters → load and match the query sets → resolve the backend (it must run in a served
worker) → claim the folder's `baseline.json` and `new.json` → start both served workers → alternate their
blocks (`interleave.drive`) → write each side's run file, marked with its blocks (`compare` section).
`ragperf.analysis` then pairs the two files by block; the CLI writes and prints that diff.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ragperf.backends.registry import load_backend
from ragperf.engine.interleave import SIDES, Plan, block_plan, drive
from ragperf.engine.runner import (
    finalise,
    finished_share,
    limits_of,
    load_request_queries,
    merged_runs,
    prepare,
    process_runs,
    process_shares,
)
from ragperf.engine.supervisor import Worker
from ragperf.engine.table import TableBuilder
from ragperf.errors import ConfigError, ExitCode, RagperfError
from ragperf.outputs import OutputError, RunOutput, file_stamp, process_artifacts, safe_name
from ragperf.prctl import shared_cpus
from ragperf.queries import query_set_digest
from ragperf.schema.compare import CompareBlock, CompareSide

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.backends.base import Backend
    from ragperf.config import Config
    from ragperf.engine.interleave import Side
    from ragperf.engine.runner import Prepared, RunOutcome, RunRequest
    from ragperf.engine.supervisor import Progress, Supervised
    from ragperf.queries import Query

__all__ = [
    "COMPARE_FOLDER",
    "DEFAULT_PROCESS_PAIRS",
    "CompareOutcome",
    "CompareRequest",
    "execute_compare",
    "worker_python",
]

COMPARE_FOLDER = Path(".ragperf") / "compare"
_PROBE_TIMEOUT_S = 60.0
# Two processes of one code differ by a few percent (memory layout, hash seeds): spread over 4 pairs of
# workers, that offset averages down by half (docs/diff.md).
DEFAULT_PROCESS_PAIRS = 4
_MAX_TRIES = 1000


@dataclass(frozen=True)
class CompareRequest:
    """One `ragperf compare`: each side's run as `ragperf run` would make it, and how to interleave them."""

    baseline: RunRequest
    new: RunRequest
    block: int = 1
    folder: Path | None = None  # None: a fresh folder under .ragperf/compare
    force: bool = False  # different query sets: run each side's own, position by position
    cpus: int = 1  # CPUs both workers are pinned to (0: not pinned)
    processes: int | None = None  # pairs of workers the block pairs are spread over (None: the default)


@dataclass(frozen=True)
class CompareOutcome:
    """Both run files written, where, and the exit code the runs alone call for (a signal, a dead worker)."""

    folder: Path
    baseline: RunOutcome
    new: RunOutcome
    exit_code: int
    warnings: tuple[str, ...] = ()


def worker_python(config: Config, config_path: Path) -> str | None:
    """The interpreter `[run] python` names (relative to the config's folder), checked; None: this one."""
    given = config.run.python
    if given is None:
        return None
    path = Path(given).expanduser()
    if not path.is_absolute():
        path = config_path.parent / path
    where = f"{config_path}: run.python"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ConfigError(f"{where}: {path} is not an executable file; give the path of a Python interpreter")
    try:
        probe = subprocess.run(  # noqa: S603 - the interpreter the user's config names, asked to import ragperf
            [str(path), "-c", "import ragperf.engine.served"],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{where}: {path} could not be started ({exc}); give a working Python interpreter") from None
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        msg = f"{where}: {path} cannot import ragperf's served worker ({last}); install this ragperf into it"
        raise ConfigError(msg)
    return str(path)


def execute_compare(request: CompareRequest, progress: dict[Side, Progress]) -> CompareOutcome:
    """Run both sides interleaved and write both run files; raise RagperfError on user mistakes."""
    requests: dict[Side, RunRequest] = {"baseline": request.baseline, "new": request.new}
    pythons = {side: worker_python(r.config, r.config_path) for side, r in requests.items()}
    queries = {side: load_request_queries(r, r.config_path.parent.resolve()) for side, r in requests.items()}
    warnings = _check_queries(request, queries["baseline"], queries["new"])
    backends = {side: load_backend(r.backend, r.backend_options) for side, r in requests.items()}
    for backend, _ in backends.values():
        if backend.placement == "wrapper" or not backend.servable:
            how = "wraps the worker" if backend.placement == "wrapper" else "samples the worker from outside"
            msg = (
                f"backend '{backend.name}' {how}, so it would also measure the waits between a compare's blocks; "
                "use timer, pyinstrument or memray"
            )
            raise RagperfError(msg)
        backend.check_available()
    folder = _folder(request)
    compare_id = uuid.uuid4().hex
    plan = block_plan(request.baseline.measured, request.block, len(queries["baseline"]))
    chunks = _chunks(plan, _process_pairs(request, [backend for backend, _ in backends.values()]))
    cpus = shared_cpus(request.cpus)
    tables = {side: TableBuilder() for side in SIDES}
    runs: dict[Side, list[tuple[Prepared, Supervised]]] = {side: [] for side in SIDES}
    ends: dict[Side, list[int]] = {side: [] for side in SIDES}
    signum: int | None = None
    with contextlib.ExitStack() as stack:
        outputs = {side: stack.enter_context(RunOutput(folder / f"{side}.json", unique=False)) for side in SIDES}
        for side in SIDES:
            progress[side].begin(requests[side].warmup * len(chunks), requests[side].measured)
        for index, chunk in enumerate(chunks):
            prepared = {
                side: prepare(
                    replace(requests[side], measured=sum(step.block.n for step in chunk.steps if step.side == side)),
                    queries[side],
                    *backends[side],
                    _artifacts(outputs[side].artifacts.resolve(), index, len(chunks)),
                    python=pythons[side],
                    served=True,
                    cpus=cpus,
                )
                for side in SIDES
            }
            supervised, signum = _run_pair(requests, prepared, progress, tables, chunk)
            for side in SIDES:
                runs[side].append((prepared[side], supervised[side]))
                ends[side].append(tables[side].n)
            if signum is not None or not all(finished_share(done) for done in supervised.values()):
                break
        outcomes: dict[Side, RunOutcome] = {}
        for side in SIDES:
            last, merged = merged_runs(runs[side], requests[side].measured, signum)
            merged.signum = signum
            other = requests["new" if side == "baseline" else "baseline"].config_path
            marked = _side(compare_id, side, request.block, str(other), chunks, ends[side], cpus)
            update: dict[str, object] = {"compare": marked}
            if len(chunks) > 1:
                update["processes"] = process_runs(runs[side], ends[side])
            outcomes[side] = finalise(last, merged, outputs[side].path, update)
    codes = [outcome.exit_code for outcome in outcomes.values()]
    code = max(codes) if any(c >= ExitCode.HANGUP for c in codes) else ExitCode.OK
    if code == ExitCode.OK and any(not o.run.complete and o.exit_code == ExitCode.PIPELINE for o in outcomes.values()):
        code = ExitCode.PIPELINE  # a worker died or hit a phase limit: the diff covers the blocks before it
    return CompareOutcome(folder, outcomes["baseline"], outcomes["new"], int(code), warnings)


def _process_pairs(request: CompareRequest, backends: Sequence[Backend]) -> int:
    """Worker pairs to spread the pairs over: as asked, else 4 (1 under a profiler, which profiles one process)."""
    profiled = [backend.name for backend in backends if backend.produces_profile]
    if request.processes is None:
        return 1 if profiled else DEFAULT_PROCESS_PAIRS
    if request.processes > 1 and profiled:
        raise RagperfError(f"backend '{profiled[0]}' profiles one process: use --processes 1 with it")
    return request.processes


def _chunks(plan: Plan, parts: int) -> list[Plan]:
    """The plan's block pairs in `parts` runs of consecutive pairs, one run for each pair of workers."""
    pairs = sorted({step.block.block for step in plan.steps})
    chunks, start = [], 0
    for share in process_shares(len(pairs), parts):
        chosen = set(pairs[start : start + share])
        chunks.append(Plan(tuple(step for step in plan.steps if step.block.block in chosen)))
        start += share
    return chunks


def _artifacts(artifacts: Path, index: int, count: int) -> Path:
    where = artifacts if count == 1 else process_artifacts(artifacts, index)
    where.mkdir(parents=True, exist_ok=True)
    return where


def _run_pair(
    requests: dict[Side, RunRequest],
    prepared: dict[Side, Prepared],
    progress: dict[Side, Progress],
    tables: dict[Side, TableBuilder],
    chunk: Plan,
) -> tuple[dict[Side, Supervised], int | None]:
    """One pair of served workers through their share of the blocks; what happened to each, and a stop signal."""
    workers: dict[Side, Worker] = {}
    signum = None
    try:
        for side in SIDES:
            r = requests[side]
            tables[side].next_process()
            workers[side] = Worker(
                prepared[side].command,
                prepared[side].stream_path,
                prepared[side].context.log_path,
                r.config_path.parent.resolve(),
                progress[side],
                limits_of(r.config),
                served=True,
                table=tables[side],
            )
        signum = drive(workers, chunk)
    finally:
        supervised = {side: worker.finish(signum) for side, worker in workers.items()}
    return supervised, signum


def _check_queries(request: CompareRequest, old: Sequence[Query], new: Sequence[Query]) -> tuple[str, ...]:
    """Refuse two different query sets (unless --force, then say so): the pairs must run the same queries."""
    if query_set_digest(old) == query_set_digest(new):
        return ()
    what = (
        f"the two configs' query sets differ ({request.baseline.config_path}: {len(old)} queries, "
        f"{request.new.config_path}: {len(new)})"
    )
    if not request.force:
        raise RagperfError(
            f"{what}; compare runs the same queries on both sides: point both at one file, or pass --force"
        )
    return (f"{what}; --force: each side ran its own, position by position",)


def _folder(request: CompareRequest) -> Path:
    """The folder given (made if absent), or a fresh one under .ragperf/compare, claimed by creating it."""
    if request.folder is not None:
        folder = request.folder
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"compare output {folder} is not a folder; pass -o a folder to write the three files in")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"compare output {folder}: cannot create it ({exc.strerror}); pass another -o") from None
        return folder
    base = COMPARE_FOLDER / f"{file_stamp()}-{safe_name(request.new.config.pipeline.name)}"
    for n in range(1, _MAX_TRIES):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot create {candidate} ({exc.strerror}); pass -o a folder") from None
        return candidate
    raise OutputError(f"no free folder name beside {base} after {_MAX_TRIES} tries; clean {COMPARE_FOLDER}")


def _side(
    compare_id: str,
    side: Side,
    block_size: int,
    other: str,
    chunks: Sequence[Plan],
    ends: Sequence[int],
    cpus: tuple[int, ...] | None,
) -> CompareSide:
    """The side's blocks as it was asked for them, process by process, each cut to the queries its file holds."""
    blocks = []
    for chunk, start, end in zip(chunks, (0, *ends), ends, strict=False):
        first = start
        for step in chunk.sent[side]:
            n = max(0, min(step.block.n, end - first))
            blocks.append(CompareBlock(block=step.block.block, first=first, n=n, first_in_pair=step.first_in_pair))
            first += step.block.n
    return CompareSide(
        id=compare_id, side=side, block_size=block_size, other_config=other, blocks=tuple(blocks), cpus=cpus
    )
