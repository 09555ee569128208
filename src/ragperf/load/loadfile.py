"""Assemble a load file: a RunFile of kind "load" with the steps, the verdicts and a summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import ragperf
from ragperf.environment import capture_environment
from ragperf.load.findmax import first_rising, rate_verdicts
from ragperf.load.summary import summarise_step
from ragperf.schema.load import LoadReport
from ragperf.schema.queries import QueryTable
from ragperf.schema.run import BackendInfo, RunFile
from ragperf.stages import stage_infos

if TYPE_CHECKING:
    from pathlib import Path

    from ragperf.config import Config
    from ragperf.schema.load import LoadStep

__all__ = ["LoadContext", "build_load_file"]


@dataclass(frozen=True)
class LoadContext:
    """How the load was generated: everything the file records besides the steps."""

    config: Config
    config_path: Path
    engine: Literal["ragperf", "locust"]
    mode: Literal["fixed", "ramp", "find-max"]
    arrival: Literal["constant", "poisson"]
    workers: int
    warmup: int
    error_budget: float
    queries_digest: str
    started_at: str
    load_start: tuple[float, float, float] | None
    concurrency: int = 1


def build_load_file(context: LoadContext, steps: list[LoadStep], *, incomplete: str | None) -> RunFile:
    """The run file for these steps; its summary describes the highest rate that held (else the last step).

    `incomplete` is why the test stopped before its last step ended (None when it ran to the end).
    """
    config = context.config
    holding, peak, verdicts = rate_verdicts(steps, config.targets.sustained_qps, config.targets.peak_qps)
    stage, at = first_rising(steps)
    report = LoadReport(
        engine=context.engine,
        mode=context.mode,
        arrival=context.arrival,
        workers=context.workers,
        concurrency=context.concurrency,
        p95_target_ms=config.targets.p95_ms,
        error_budget=context.error_budget,
        steps=tuple(steps),
        max_rate_qps=holding,
        peak_rate_qps=peak,
        first_rising_stage=stage,
        first_rising_qps=at,
        verdicts=verdicts,
        interrupted=incomplete is not None,
    )
    chosen = next((s for s in steps if s.offered_qps == holding), steps[-1])
    seen = {stage.path for step in steps for stage in step.stages}
    infos = stage_infos(config, seen)
    config_dir = context.config_path.parent.resolve()
    packages = ("locust",) if context.engine == "locust" else ()
    return RunFile(
        kind="load",
        ragperf_version=ragperf.__version__,
        pipeline=config.pipeline.name,
        complete=incomplete is None,
        incomplete_reason=incomplete,
        environment=capture_environment(config_dir, context.started_at, context.load_start, packages),
        config=config.model_dump(mode="json"),
        config_file=str(context.config_path),
        config_digest=config.digest(),
        queries_digest=context.queries_digest,
        backend=BackendInfo(name="timer", distribution="ragperf", version=ragperf.__version__, options={}),
        warmup=context.warmup,
        requested=sum(step.offered for step in steps),
        stages=tuple(infos),
        queries=QueryTable.empty(),
        summary=summarise_step(chosen, infos, config.targets),
        load=report,
    )
