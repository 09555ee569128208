"""Report content shared by the text formats: the headline, the executive checks, hotspot groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.analysis.verdicts import checks, worst
from ragperf.renderers.format import fmt_ms, fmt_pct

if TYPE_CHECKING:
    from ragperf.analysis.roadmap import Evidence
    from ragperf.renderers.base import Report
    from ragperf.schema.run import Hotspot, RunFile

__all__ = [
    "PRIORITY_TITLES",
    "backend_label",
    "character_text",
    "executive_lines",
    "headline",
    "hotspot_group_title",
    "hotspot_groups",
    "short_path",
    "stage_label",
]

PRIORITY_TITLES = {"P0": "must fix", "P1": "should fix", "P2": "nice to have"}
_TOP_PER_STAGE = 5
_LABELS = {
    "p50_ms": "p50 latency",
    "p95_ms": "p95 latency",
    "p99_ms": "p99 latency",
    "peak_memory_mb": "peak memory (RSS)",
    "request_memory_mb": "memory per request",
    "leak_mb_per_iter": "memory leak rate",
    "sustained_qps": "sustained load",
    "peak_qps": "peak load",
}
# The seed's key performance indicators: shown as "not measured" when no file measured them.
_KPIS = ("p50_ms", "p95_ms", "p99_ms", "peak_memory_mb", "request_memory_mb", "leak_mb_per_iter")


def stage_label(run: RunFile, path: str) -> str:
    """A span path indented by its depth (non-breaking spaces survive Markdown tables)."""
    depth = path.count(".")
    known = {info.path for info in run.stages}
    return ("\u00a0\u00a0" * depth + "↳ " if depth and path in known else "") + path.rsplit(".", 1)[-1]


def _configured_targets(report: Report) -> dict[str, float]:
    for f in report.files:
        targets = f.config.get("targets")
        if isinstance(targets, dict):
            return {k: float(v) for k, v in targets.items() if isinstance(v, int | float)}
    return {}


def _amount(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{fmt_ms(value)} ms"
    if unit == "MB/iter":
        return f"{value:+.3f} MB/iter"
    return f"{value:.1f} {unit}"


def executive_lines(report: Report) -> list[list[str]]:
    """Rows of (check, target, measured, verdict): every judged target (pipeline, stages, memory, leak, load)."""
    found: dict[str, list[str]] = {}
    for c in checks(report.run, report.files):
        sign = ">=" if c.at_least else "<"
        limit = f"{c.target:g} {c.unit}" if c.unit != "ms" else _amount(c.target, c.unit)
        found[c.name] = [_LABELS.get(c.name, c.name), f"{sign} {limit}", _amount(c.measured, c.unit), c.verdict]
    configured = _configured_targets(report)
    for name in _KPIS:
        if name not in found and name in configured:
            unit = {"peak_memory_mb": "MB", "request_memory_mb": "MB", "leak_mb_per_iter": "MB/iter"}.get(name, "ms")
            limit = f"{configured[name]:g} {unit}" if unit != "ms" else _amount(configured[name], unit)
            found[name] = [_LABELS[name], f"< {limit}", "not measured", "n/a"]
    order = list(_LABELS)
    return [found[n] for n in sorted(found, key=lambda n: order.index(n) if n in order else len(order))]


def headline(report: Report) -> str:
    """One sentence: overall verdict, the failed checks, and the top item of the roadmap."""
    rows = executive_lines(report)
    failed = [row for row in rows if row[3] == "FAIL"]
    judged = sum(row[3] != "n/a" for row in rows)
    text = f"**{worst(row[3] for row in rows)}**: " + (
        f"{len(failed)} of {judged} checks failed ({', '.join(r[0] for r in failed)})"
        if failed
        else "every measured check passed"
    )
    run = report.run
    text += f"; {run.summary.n_queries} queries, backend {run.backend.name}." if run is not None else "."
    roadmap = report.roadmap
    if roadmap is not None and roadmap.leak is not None and roadmap.leak.priority == "P0":
        text += f" Top item: a memory leak in {roadmap.leak.stage} (P0)."
    elif roadmap is not None and roadmap.items:
        top = roadmap.items[0]
        text += f" Top bottleneck: {top.stage} ({top.priority}, {fmt_pct(top.evidence.fraction)} of queries affected)."
    return text


_MAX_PACKAGES = 15
_CORE_PACKAGES = frozenset({"ragperf", "pydantic", "pydantic-core", "numpy", "typing-extensions", "annotated-types"})


def context_lines(run: RunFile) -> list[str]:
    """What the run's numbers depend on: setup time, the machine's load while measuring, imported distributions."""
    lines = []
    if run.setup is not None:
        setup = run.setup
        lines.append(
            f"Setup: {fmt_ms(setup.import_ms + setup.setup_ms)} ms before the first query "
            f"(imports {fmt_ms(setup.import_ms)} ms, setup call {fmt_ms(setup.setup_ms)} ms)."
        )
    machine = run.machine
    if machine is not None:
        share = machine.cpu_share
        cpu = "" if share is None else f"; the queries' CPU time was {share:.0%} of their wall time"
        lines.append(
            f"Machine while measuring: {machine.verdict}; other processes used {machine.others_cpus_mean:.1f} of "
            f"{machine.cpu_count} CPUs, every CPU busy during {machine.saturated_share:.0%} of the queries{cpu}."
        )
    imported = {name: v for name, v in run.environment.packages.items() if name.lower() not in _CORE_PACKAGES}
    if imported:
        shown = [f"{name} {v}" for name, v in list(imported.items())[:_MAX_PACKAGES]]
        more = len(imported) - len(shown)
        tail = f" and {more} more (all in the run file's environment.packages)" if more > 0 else ""
        lines.append("Imported by the pipeline: " + ", ".join(shown) + tail + ".")
    return lines


def short_path(path: str, keep: int = 3) -> str:
    """The last `keep` parts of a file path: enough to find the file, short enough for a table."""
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-keep:]) if len(parts) > keep else path


def backend_label(run: RunFile) -> str:
    """The backend's name, and its plugin package when it is not built in."""
    b = run.backend
    if b.distribution in (None, "ragperf"):
        return b.name
    return f"{b.name} ({b.distribution} {b.version or ''})".strip()


def hotspot_groups(run: RunFile) -> list[tuple[str, list[Hotspot]]]:
    """The top hotspots of each stage that has any, in stage order, by self cost: time and memory apart.

    A backend may report both for one stage (scalene: CPU ms and sampled bytes); ms and bytes are
    never ranked in one list, and each group's title says which it is.
    """
    order = {info.path: i for i, info in enumerate(run.stages)}
    stages = sorted({h.stage for h in run.hotspots}, key=lambda s: (order.get(s, len(order)), s))
    groups = []
    for stage in stages:
        mine = [h for h in run.hotspots if h.stage == stage]
        units = [u for u in ("ms", "bytes") if any(h.unit == u for h in mine)]
        for unit in units:
            spots = sorted((h for h in mine if h.unit == unit), key=lambda h: (-h.self_value, h.function))
            groups.append((hotspot_group_title(stage, unit, len(units) > 1), spots[:_TOP_PER_STAGE]))
    return groups


def largest_text(evidence: Evidence) -> str:
    """How often the span was the longest of its kind: among the stages, or among its siblings."""
    if evidence.parent is None:
        return f"largest stage in {evidence.bottleneck_queries} of {evidence.queries} queries"
    return (
        f"longest part of {evidence.parent} in {evidence.bottleneck_queries} of {evidence.queries} queries, "
        f"{fmt_pct(evidence.parent_share)} of its time"
    )


def hotspot_group_title(stage: str, unit: str, both: bool) -> str:
    """A stage's hotspot group as reports name it: the stage, and "time" or "memory" when it has both."""
    if not both:
        return stage
    return f"{stage} (time)" if unit == "ms" else f"{stage} (memory)"


def character_text(evidence: Evidence) -> str:
    """What the hotspots say about a stage, in words."""
    parts = []
    if "io" in evidence.characters:
        parts.append(f"I/O wait ({fmt_pct(evidence.waiting_share)} of sampled time spent waiting)")
    if "cpu" in evidence.characters:
        parts.append(f"CPU ({fmt_pct(evidence.waiting_share)} waiting)")
    if "alloc" in evidence.characters:
        parts.append("allocation-heavy")
    if "threads" in evidence.characters:
        parts.append("mostly waiting on its own threads (the work runs on them)")
    return ", ".join(parts) or "unknown (no function-level profile for this stage)"
