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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ragperf.backends.registry import load_backend
from ragperf.errors import ConfigError, ExitCode, RagperfError
from ragperf.outputs import OutputError, RunOutput, file_stamp, safe_name
from ragperf.prctl import shared_cpus
from ragperf.queries import query_set_digest
from ragperf.run.interleave import SIDES, block_plan, drive
from ragperf.run.runner import finalise, limits_of, load_request_queries, prepare
from ragperf.run.supervisor import Worker
from ragperf.schema.compare import CompareBlock, CompareSide

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.config import Config
    from ragperf.queries import Query
    from ragperf.run.interleave import Plan, Side
    from ragperf.run.runner import RunOutcome, RunRequest
    from ragperf.run.supervisor import Progress

__all__ = ["COMPARE_FOLDER", "CompareOutcome", "CompareRequest", "execute_compare", "worker_python"]

COMPARE_FOLDER = Path(".ragperf") / "compare"
_PROBE_TIMEOUT_S = 60.0
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
            [str(path), "-c", "import ragperf.run.served"],
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
    requests = {"baseline": request.baseline, "new": request.new}
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
    cpus = shared_cpus(request.cpus)
    with contextlib.ExitStack() as stack:
        outputs = {side: stack.enter_context(RunOutput(folder / f"{side}.json", unique=False)) for side in SIDES}
        prepared = {
            side: prepare(
                requests[side],
                queries[side],
                *backends[side],
                outputs[side].artifacts.resolve(),
                python=pythons[side],
                served=True,
                cpus=cpus,
            )
            for side in SIDES
        }
        workers: dict[Side, Worker] = {}
        try:
            for side in SIDES:
                r = requests[side]
                progress[side].begin(r.warmup, r.measured)
                workers[side] = Worker(
                    prepared[side].command,
                    prepared[side].stream_path,
                    prepared[side].context.log_path,
                    r.config_path.parent.resolve(),
                    progress[side],
                    limits_of(r.config),
                    served=True,
                )
            signum = drive(workers, plan)
        finally:
            supervised = {side: worker.finish(None) for side, worker in workers.items()}
        outcomes: dict[Side, RunOutcome] = {}
        for side in SIDES:
            supervised[side].signum = signum
            other = requests["new" if side == "baseline" else "baseline"].config_path
            marked = _side(compare_id, side, request.block, str(other), plan, supervised[side].table.n, cpus)
            outcomes[side] = finalise(prepared[side], supervised[side], outputs[side].path, {"compare": marked})
    codes = [outcome.exit_code for outcome in outcomes.values()]
    code = max(codes) if any(c >= ExitCode.HANGUP for c in codes) else ExitCode.OK
    if code == ExitCode.OK and any(not o.run.complete and o.exit_code == ExitCode.PIPELINE for o in outcomes.values()):
        code = ExitCode.PIPELINE  # a worker died or hit a phase limit: the diff covers the blocks before it
    return CompareOutcome(folder, outcomes["baseline"], outcomes["new"], int(code), warnings)


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
    compare_id: str, side: Side, block_size: int, other: str, plan: Plan, measured: int, cpus: tuple[int, ...] | None
) -> CompareSide:
    """The side's blocks as it was asked for them, each cut to the queries its run file holds."""
    blocks, first = [], 0
    for step in plan.sent[side]:
        n = max(0, min(step.block.n, measured - first))
        blocks.append(CompareBlock(block=step.block.block, first=first, n=n, first_in_pair=step.first_in_pair))
        first += step.block.n
    return CompareSide(
        id=compare_id, side=side, block_size=block_size, other_config=other, blocks=tuple(blocks), cpus=cpus
    )
