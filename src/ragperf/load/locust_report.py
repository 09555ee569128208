"""The Locust master's side: merge every process's exact histograms into a ragperf load file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from time import perf_counter_ns
from typing import TYPE_CHECKING

from ragperf.environment import load_average, now_iso
from ragperf.load.loadfile import LoadContext, build_load_file
from ragperf.load.results import merge_step
from ragperf.queries import load_queries, locate_queries, query_set_digest
from ragperf.schema.io import save_run
from ragperf.stages import stage_infos

if TYPE_CHECKING:
    from locust.env import Environment

    from ragperf.load.protocol import LaneTally

__all__ = ["write_locust_file"]

_WINDOW_S = 1.0
_EARLY_S = 0.5  # a run that ends this much before its run time was stopped


def _aligned(parts: list[LaneTally]) -> list[LaneTally]:
    """Re-key the wall-clock windows (whole seconds since the epoch) from the test's first second."""
    first = min((k for part in parts for k in part.windows), default=0)
    return [part.model_copy(update={"windows": {k - first: w for k, w in part.windows.items()}}) for part in parts]


def write_locust_file(
    environment: Environment,
    parts: list[LaneTally],
    *,
    nodes: int,
    final: int,
    started_ns: int,
    stopped_ns: int | None,
) -> Path:
    """Write the load file for a finished Locust run; return its path.

    `started_ns`/`stopped_ns`: when the test started and stopped (perf_counter_ns; None: still running).
    """
    options = environment.parsed_options
    config_path = Path(options.ragperf_config if options is not None else "ragperf.toml").resolve()
    from ragperf.config import load_config

    config = load_config(config_path)
    started, stopped = started_ns, stopped_ns or perf_counter_ns()
    duration = (stopped - started) / 1e9 if started else max(p.elapsed_ns for p in parts) / 1e9
    completed = sum(p.completed for p in parts)
    users = int(getattr(options, "num_users", 0) or 0)
    per_user = float(getattr(options, "ragperf_qps", 0.0) or 0.0)
    # Closed loop: the offered rate is the pacing asked for, else what the users achieved.
    rate = users * per_user if users and per_user else completed / max(duration, 1e-9)
    infos = stage_infos(config)
    parts = _aligned(parts)
    if users and per_user:
        # Arrivals asked for (the pacing) rather than queries run, so a rate not reached shows as such.
        parts[0] = parts[0].model_copy(
            update={"offered": parts[0].offered + max(0, round(rate * duration) - completed)}
        )
    step = merge_step(
        parts,
        step=0,
        rate=round(rate, 3),
        duration_s=max(duration, 1e-9),
        window_s=_WINDOW_S,
        infos=infos,
        p95_target_ms=config.targets.p95_ms,
        error_budget=0.01,
    )
    queries = load_queries(locate_queries(config.pipeline.queries or "", config_path.parent))
    context = LoadContext(
        config=config,
        config_path=config_path,
        engine="locust",
        mode="fixed",
        arrival="constant",
        workers=nodes,
        warmup=int(getattr(options, "ragperf_warmup", 0) or 0),
        error_budget=0.01,
        queries_digest=query_set_digest(queries),
        started_at=now_iso(),
        load_start=load_average(),
    )
    reasons = [f"{nodes - final} of {nodes} Locust processes sent no final histograms"] if final < nodes else []
    asked = float(getattr(options, "run_time", 0) or 0)
    if asked and duration < asked - _EARLY_S:  # stopped (Ctrl-C, a signal) before its run time
        reasons.append(f"stopped after {duration:.1f} s of {asked:g} s")
    run = build_load_file(context, [step], incomplete="; ".join(reasons) or None)
    given = getattr(options, "ragperf_output", "") or ""
    stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")
    output = Path(given) if given else Path(".ragperf") / "runs" / f"{stamp}-{config.pipeline.name}-locust.json"
    save_run(run, output)
    return output
