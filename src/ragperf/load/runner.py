"""`ragperf load` end to end: start workers once, run the rate steps, judge, write the load file.

load config → queries → N workers set up and warmed → one step per rate (fixed, ramp, or the
find-max search) → merge each step's histograms → rate verdicts → run file (kind="load").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ragperf.environment import load_average, now_iso
from ragperf.errors import PipelineFailed, RagperfError
from ragperf.interrupts import SignalLatch
from ragperf.load.engine import LoadSession
from ragperf.load.findmax import next_rate
from ragperf.load.limits import MAX_STEPS
from ragperf.load.loadfile import LoadContext, build_load_file
from ragperf.load.results import merge_step
from ragperf.queries import load_queries, locate_queries, query_set_digest
from ragperf.schema.io import save_run
from ragperf.stages import stage_infos

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.config import Config
    from ragperf.interrupts import Interrupted
    from ragperf.load.engine import LoadProgress
    from ragperf.queries import Query
    from ragperf.schema.load import LoadStep
    from ragperf.schema.run import RunFile, StageInfo

__all__ = ["LoadOutcome", "LoadRequest", "execute_load"]

MIN_ARRIVALS = 50
MAX_STRETCH_S = 120.0


@dataclass(frozen=True)
class LoadRequest:
    """One `ragperf load` as the command line resolved it."""

    config: Config
    config_path: Path
    output: Path
    rates: tuple[float, ...]
    find_max: bool
    duration_s: float
    arrival: Literal["constant", "poisson"]
    workers: int
    warmup: int
    error_budget: float
    max_rate: float = 100_000.0
    concurrency: int = 1


@dataclass(frozen=True)
class LoadOutcome:
    """The load file written, and what stopped the test early (to raise once the file is shown)."""

    run: RunFile
    path: Path
    stopped: PipelineFailed | Interrupted | None = None


def _window_s(duration_s: float) -> float:
    # At most ~120 slices a step: enough to see latency grow, few enough to keep the file small.
    return max(0.25, duration_s / 120)


def execute_load(request: LoadRequest, progress: LoadProgress) -> LoadOutcome:
    """Run the load test and write the load file; raise RagperfError on user mistakes.

    Every step measured is kept: a stop signal ends the test after the step under way (a second
    one at once), a worker failing ends it where it is, and in both cases the file is written,
    marked incomplete with the reason, before the outcome says how the test stopped.
    """
    config = request.config
    config_dir = request.config_path.parent.resolve()
    if config.pipeline.queries is None:
        raise RagperfError("no queries: set pipeline.queries in the config")
    queries = load_queries(locate_queries(config.pipeline.queries, config_dir))
    items = tuple(queries)
    infos = stage_infos(config)
    started_at, load_start = now_iso(), load_average()
    session = LoadSession(
        config,
        config_dir,
        items,
        request.workers,
        request.warmup,
        request.output.with_suffix(".workers"),
        request.concurrency,
    )
    steps: list[LoadStep] = []
    failure: PipelineFailed | None = None
    with SignalLatch(session.stop) as latch:
        try:
            with session:
                _run_steps(request, session, steps, infos, progress)
        except PipelineFailed as exc:
            if not steps:
                raise
            failure = exc
        except KeyboardInterrupt:  # a stop signal during the set-up: nothing measured, said below
            pass
        stopped = latch.interrupted()
        if not steps:
            if stopped is not None:
                raise stopped
            raise PipelineFailed("stopped before any load step finished; nothing was measured")
        reason = None if failure is None and stopped is None else str(failure or f"interrupted ({stopped})")
        run = build_load_file(_context(request, queries, started_at, load_start), steps, incomplete=reason)
        save_run(run, request.output)
    return LoadOutcome(run=run, path=request.output, stopped=failure or stopped)


def _run_steps(
    request: LoadRequest, session: LoadSession, steps: list[LoadStep], infos: list[StageInfo], progress: LoadProgress
) -> None:
    """Set the workers up and run one step per rate, appending each to `steps` as it ends."""
    config = request.config
    service_ms = session.wait_ready()
    first = request.rates[0] if request.rates else _start_rate(request, service_ms)
    rate: float | None = first
    pending = list(request.rates[1:])
    while rate is not None and len(steps) < MAX_STEPS and not session.signals:
        duration = step_duration(request.duration_s, rate)
        outcome = session.run_step(len(steps), rate, duration, request.arrival, _window_s(duration), progress)
        if outcome.parts:
            steps.append(
                merge_step(
                    outcome.parts,
                    step=len(steps),
                    rate=rate,
                    duration_s=duration,
                    window_s=_window_s(duration),
                    infos=infos,
                    p95_target_ms=config.targets.p95_ms,
                    error_budget=request.error_budget,
                )
            )
        if outcome.interrupted:
            return
        rate = _next(request, steps, pending, first)


def _context(
    request: LoadRequest, queries: list[Query], started_at: str, load_start: tuple[float, float, float] | None
) -> LoadContext:
    mode: Literal["fixed", "ramp", "find-max"] = (
        "find-max" if request.find_max else ("ramp" if len(request.rates) > 1 else "fixed")
    )
    return LoadContext(
        config=request.config,
        config_path=request.config_path,
        engine="ragperf",
        mode=mode,
        arrival=request.arrival,
        workers=request.workers,
        concurrency=request.concurrency,
        warmup=request.warmup,
        error_budget=request.error_budget,
        queries_digest=query_set_digest(queries),
        started_at=started_at,
        load_start=load_start,
    )


def step_duration(duration_s: float, rate: float) -> float:
    """A step lasts --duration, or long enough for MIN_ARRIVALS arrivals (a p95 needs samples).

    The stretch is bounded (MAX_STRETCH_S) so a very low rate cannot turn a step into hours.
    """
    return min(max(duration_s, MIN_ARRIVALS / rate), max(duration_s, MAX_STRETCH_S))


def _start_rate(request: LoadRequest, service_ms: float | None) -> float:
    """--find-max without --qps: half the capacity the warm-up suggests (lanes / service time)."""
    if not service_ms:
        return 10.0
    estimate = request.workers * request.concurrency * 1000 / service_ms / 2
    return float(f"{max(estimate, 0.1):.2g}")


def _next(request: LoadRequest, steps: list[LoadStep], pending: list[float], first: float) -> float | None:
    if request.find_max:
        return next_rate(steps, first, request.max_rate)
    if len(steps) >= 2 and not steps[-1].holds_targets and not steps[-2].holds_targets:
        return None  # a ramp past two failing rates only measures more overload
    return pending.pop(0) if pending else None
