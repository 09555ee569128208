"""Why two files may not be comparable: environment, config, load setup, and a machine-wide change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.schema.diff import ComparabilityWarning

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.schema.diff import DiffGroup
    from ragperf.schema.load import LoadStep
    from ragperf.schema.run import Environment, RunFile

__all__ = ["comparability_warnings", "load_setup_warnings", "machine_wide"]

MAX_CONFIG_CHANGES = 4
# 1-minute load average over this fraction of the CPUs when a run started: something else was running.
BUSY_AT_START = 0.5
# At the end the run's own worker is part of the load; above one per CPU, others competed with it.
BUSY_AT_END = 1.0
# A load test measures the headroom the machine has left, so start loads differing by this much of a CPU
# each are worth a warning even when neither machine counts as busy.
LOAD_GAP_PER_CPU = 0.25
_LOAD_SETUP = ("engine", "mode", "arrival", "workers", "concurrency", "p95_target_ms", "error_budget")
# Warnings that say the machine itself differed between the two files.
MACHINE_KINDS = frozenset({"python", "platform", "cpu", "cpu_count", "load", "contention"})


def comparability_warnings(old: RunFile, new: RunFile) -> tuple[ComparabilityWarning, ...]:
    """Every way the two runs' conditions differ, or either ran on a busy machine."""
    a, b = old.environment, new.environment
    checks = [
        ("python", f"{a.implementation} {a.python}", f"{b.implementation} {b.python}"),
        ("platform", a.platform, b.platform),
        ("cpu", a.cpu_model, b.cpu_model),
        ("cpu_count", str(a.cpu_count), str(b.cpu_count)),
        ("backend", _backend(old), _backend(new)),
        ("config", old.config_digest, new.config_digest),
        ("queries", old.queries_digest, new.queries_digest),
        ("warmup", str(old.warmup), str(new.warmup)),
    ]
    warnings = [
        ComparabilityWarning(
            kind=kind,
            message=_config_message(old, new) if kind == "config" else f"{kind} differs: baseline {was}, new {now}",
        )
        for kind, was, now in checks
        if was != now
    ]
    warnings += _working_method_warning(old, new)
    for side, run in (("baseline", old), ("new", new)):
        warnings += _load_warnings(side, run.environment)
        if run.machine is not None and run.machine.verdict == "contended":
            m = run.machine
            warnings.append(
                ComparabilityWarning(
                    kind="contention",
                    message=f"{side} run measured under contention: every CPU busy during {m.saturated_share:.0%} of "
                    f"its queries, other processes using {m.others_cpus_mean:.1f} of {m.cpu_count} CPUs",
                )
            )
        if not run.complete:
            warnings.append(
                ComparabilityWarning(kind="incomplete", message=f"{side} run incomplete: {run.incomplete_reason}")
            )
        if run.summary.n_failed:
            warnings.append(
                ComparabilityWarning(
                    kind="failures",
                    message=f"{side} run: {run.summary.n_failed} queries failed and are left out of the comparison",
                )
            )
    return tuple(warnings)


def _working_method_warning(old: RunFile, new: RunFile) -> list[ComparabilityWarning]:
    """Working peaks read from RSS and replayed from memray's records differ by what each counts."""
    if old.memory is None or new.memory is None or old.memory.working_method == new.memory.working_method:
        return []
    was, now = old.memory.working_method or "unrecorded", new.memory.working_method or "unrecorded"
    message = (
        f"peak working memory measured differently: baseline {was}, new {now}; compare working peaks "
        "measured the same way (docs/memory.md)"
    )
    return [ComparabilityWarning(kind="working_method", message=message)]


def _config_message(old: RunFile, new: RunFile) -> str:
    """Which config keys changed; digests alone tell the user nothing."""
    changed = _config_changes(old.config, new.config)
    shown = "; ".join(changed[:MAX_CONFIG_CHANGES]) + ("; ..." if len(changed) > MAX_CONFIG_CHANGES else "")
    return f"config differs: {shown or f'digest {old.config_digest} vs {new.config_digest}'}"


def _config_changes(old: dict[str, object], new: dict[str, object]) -> list[str]:
    """The config keys whose values differ, as `key: old -> new`."""
    flat_old, flat_new = _flat_config("", old), _flat_config("", new)
    return [
        f"{key}: {flat_old.get(key, '(absent)')} -> {flat_new.get(key, '(absent)')}"
        for key in [*flat_old, *(k for k in flat_new if k not in flat_old)]
        if flat_old.get(key) != flat_new.get(key)
    ]


def _flat_config(prefix: str, value: object) -> dict[str, str]:
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, item in value.items():
            # Stages are a list, but read by name: "stages.rerank.call" survives a stage being inserted.
            out.update(_flat_config(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    if isinstance(value, list) and all(isinstance(item, dict) and "name" in item for item in value):
        return {k: v for item in value for k, v in _flat_config(f"{prefix}.{item['name']}", item).items()}
    return {prefix: repr(value) if isinstance(value, str) else str(value)}


def _backend(run: RunFile) -> str:
    options = ", ".join(f"{k}={v}" for k, v in sorted(run.backend.options.items()))
    return f"{run.backend.name} {run.backend.version or ''}".strip() + (f" ({options})" if options else "")


def _load_warnings(side: str, env: Environment) -> list[ComparabilityWarning]:
    found = []
    if env.load_avg_start is not None and env.load_avg_start[0] > BUSY_AT_START * env.cpu_count:
        found.append(
            ComparabilityWarning(
                kind="load",
                message=f"{side} run started on a busy machine: load average {env.load_avg_start[0]:.2f} "
                f"on {env.cpu_count} CPUs",
            )
        )
    if env.load_avg_end is not None and env.load_avg_end[0] > BUSY_AT_END * env.cpu_count:
        found.append(
            ComparabilityWarning(
                kind="load",
                message=f"{side} run ended with load average {env.load_avg_end[0]:.2f} on {env.cpu_count} CPUs: "
                "other work competed with it",
            )
        )
    return found


def load_setup_warnings(
    old: RunFile, new: RunFile, pairs: Sequence[tuple[LoadStep, LoadStep]]
) -> tuple[ComparabilityWarning, ...]:
    """How the load was generated, step lengths, and the machine's load at the start of two load tests."""
    found: list[ComparabilityWarning] = []
    if old.load is not None and new.load is not None:
        for name in _LOAD_SETUP:
            was, now = getattr(old.load, name), getattr(new.load, name)
            if was != now:
                found.append(
                    ComparabilityWarning(kind="load_setup", message=f"{name} differs: baseline {was}, new {now}")
                )
    durations = sorted({(a.duration_s, b.duration_s) for a, b in pairs if a.duration_s != b.duration_s})
    if durations:
        shown = ", ".join(f"{a:g} s vs {b:g} s" for a, b in durations[:3])
        found.append(
            ComparabilityWarning(
                kind="load_setup",
                message=f"step durations differ ({shown}): a longer step sees more of a slow queue's growth",
            )
        )
    a, b = old.environment.load_avg_start, new.environment.load_avg_start
    cpus = max(old.environment.cpu_count, new.environment.cpu_count, 1)
    if a is not None and b is not None and abs(a[0] - b[0]) > LOAD_GAP_PER_CPU * cpus:
        found.append(
            ComparabilityWarning(
                kind="load",
                message=f"load average at start differs: baseline {a[0]:.2f}, new {b[0]:.2f} on {cpus} CPUs; "
                "a load test measures the headroom left, so re-run both on an equally quiet machine",
            )
        )
    return tuple(found)


def machine_wide(
    groups: Sequence[DiffGroup], warnings: Sequence[ComparabilityWarning], alpha: float
) -> tuple[ComparabilityWarning, ...]:
    """Every top-level stage moved the same way *and* the files say the machine differed: suspect the machine.

    Stages moving together is no evidence on its own: a larger top-k legitimately slows retrieval, rerank and
    synthesis at once, and warning about that taught users to ignore real regressions. Only when the two
    files also record a machine difference (Python, platform, CPU, a busy machine) does the co-movement say
    which of the two explanations fits, so only then is it worth a line.
    """
    machine = sorted({w.kind for w in warnings if w.kind in MACHINE_KINDS})
    if not machine:
        return ()
    for group in groups:
        top = [p for p in group.stages if p.parent is None and p.verdict != "too_few"]
        shifts = sorted(
            p.evidence.shift
            for p in top
            if p.evidence.p_adjusted is not None and p.evidence.p_adjusted < alpha and p.evidence.shift is not None
        )
        if len(top) < 2 or len(shifts) < len(top) or shifts[0] * shifts[-1] <= 0:
            continue
        where = "" if group.label is None else f" at {group.label}"
        return (
            ComparabilityWarning(
                kind="machine",
                message=f"all {len(top)} stages moved together{where} ({shifts[0]:+.0%} to {shifts[-1]:+.0%}) and "
                f"the machine differed ({', '.join(machine)}): the machine may explain these changes; re-run "
                "both on one quiet machine before trusting them",
            ),
        )  # one is enough: the same cause shows in every group
    return ()
