"""A diff's content, for every format: per group its verdicts (drawn on their intervals), the two runs'
distributions overlaid, and a differential flame graph per changed stage ranked by how much time it
gained or lost; then capacity, targets, what was not compared, and the warnings.

The verdicts and intervals are the diff report's (`ragperf.schema.diff`); the two run files, when
given, add what only they hold: each query's latency and each stage's sampled stacks. The
sentences come from `diff_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.content import (
    Document,
    Histogram,
    Intervals,
    Para,
    Section,
    Span,
    Sub,
    Table,
    code,
    columns,
    diff_verdict,
    inline,
    row,
    styled,
)
from ragperf.renderers.diff_text import (
    figure_change,
    figure_value,
    fmt_change,
    fmt_memory,
    fmt_memory_change,
    fmt_shift,
    group_title,
    headline,
    method,
    metric,
    not_compared,
    path_label,
    path_notes,
    replication_advice,
    sides,
    title,
)
from ragperf.renderers.flame import differential
from ragperf.renderers.format import fmt_ms, short_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.renderers.content import Block, Style
    from ragperf.schema.diff import DiffGroup, DiffReport, Figure, PathDiff
    from ragperf.schema.run import RunFile

__all__ = ["TONE", "diff_document"]

TONE: dict[str, Style] = {
    "regression": "bad",
    "improvement": "good",
    "unchanged": "",
    "inconclusive": "warn",
    "too_few": "warn",
    "contention": "warn",
}
_CHANGED = ("regression", "improvement")
_TOP_FUNCTIONS = 8


def diff_document(report: DiffReport, runs: tuple[RunFile, RunFile] | None = None) -> Document:
    """The diff page: per group, the verdicts, the distributions and the flame graphs of the changed stages."""
    sections = [_group(group, report, runs) for group in report.groups]
    if report.capacity:
        sections.append(Section("capacity", "Capacity", (_figures("Capacity (--find-max, --ramp)", report.capacity),)))
    extra: list[Block] = [
        Para(inline(line + "."), "note") for line in (*not_compared(report), *replication_advice(report))
    ]
    if report.targets:
        extra.append(
            Table(
                "Targets whose verdict changed",
                columns("<target", "goal", "baseline", "new"),
                tuple(
                    row(
                        t.name,
                        "-" if t.target is None else f"{'>=' if t.unit == 'qps' else '<'} {fmt_ms(t.target)} {t.unit}",
                        f"{fmt_ms(t.old_measured)} {t.old_verdict}",
                        styled(f"{fmt_ms(t.new_measured)} {t.new_verdict}", "bad" if t.new_verdict == "FAIL" else ""),
                    )
                    for t in report.targets
                ),
            )
        )
    extra += [Para(inline(w.message), "warning") for w in report.warnings]
    if extra:
        sections.append(Section("notes", "Also compared, and warnings", tuple(extra)))
    tone: Style = "bad" if report.regressions else ("warn" if report.inconclusive else "good")
    return Document(
        title=title(report),
        headline=inline(styled(headline(report), tone)),
        meta=(inline(sides(report) + "."), inline(method(report) + ".")),
        sections=tuple(sections),
        sources=f"{report.baseline.path} and {report.new.path}",
    )


def _group(group: DiffGroup, report: DiffReport, runs: tuple[RunFile, RunFile] | None) -> Section:
    heading = group_title(group)
    ident = "diff" if group.label is None else "diff-" + "".join(c if c.isalnum() else "-" for c in group.label)
    blocks: list[Block] = []
    if group.figures:
        blocks.append(_figures("Throughput, baseline → new", group.figures))
    blocks.append(
        Intervals(
            tuple(
                (path_label(p, group).strip(), p.evidence.shift, *_interval(p), TONE[p.verdict]) for p in group.paths
            ),
            report.threshold,
            f"Each path's shift of the new run against the baseline (Hodges-Lehmann), with its "
            f"{next(iter(group.paths)).evidence.ci_level:.1%} interval; the grey band is the ±{report.threshold:.0%} "
            "threshold. Red: a regression, green: an improvement, amber: cannot tell yet."
            if group.paths
            else "No paths compared.",
        )
    )
    blocks.append(_path_table(group))
    blocks += [Para(inline(note), "note") for note in path_notes(group, report)]
    if runs is not None and group.label is None and all(r.kind == "run" for r in runs):
        blocks.append(_overlay(group, runs))
        blocks += _flames(group, runs)
    elif group.hotspots:
        blocks.append(_share_table(group))
    if group.memory:
        blocks.append(
            Table(
                "Memory",
                columns("<figure", "baseline", "new", "change"),
                tuple(
                    row(m.name, fmt_memory(m.old, m.old_ci), fmt_memory(m.new, m.new_ci), fmt_memory_change(m))
                    for m in group.memory
                ),
            )
        )
    return Section(ident, heading or "Stages, baseline → new", tuple(blocks))


def diff_verdict_text(text: str, verdict: str | None) -> Span:
    """A figure that moved, in its verdict's style (a regression red, an improvement green)."""
    return Span(text, diff_verdict(verdict or "").style)


def _interval(path: PathDiff) -> tuple[float | None, float | None]:
    ci = path.evidence.shift_ci
    return (None, None) if ci is None else ci


def _path_table(group: DiffGroup) -> Table:
    cols = columns("<stage", "n", "p50 (ms)", "p95 (ms)", "p99 (ms)", "mean (ms)", "shift [CI]", "p adj", "<verdict")
    rows = []
    for path in group.paths:
        cells: list[object] = [path_label(path, group).strip(), f"{path.n_old} / {path.n_new}"]
        for name in ("p50", "p95", "p99", "mean"):
            m = metric(path, name)
            text = f"{fmt_ms(m.old)} → {fmt_ms(m.new)}\n({fmt_change(m.rel_change)})"  # two lines where a format can
            cells.append(diff_verdict_text(text, m.verdict) if m.verdict in _CHANGED else text)
        p_adj = "-" if path.evidence.p_adjusted is None else f"{path.evidence.p_adjusted:.3g}"
        cells += [fmt_shift(path), p_adj, diff_verdict(path.verdict)]
        total = path is group.total
        rows.append(row(*cells, role="total" if total else "", depth=0 if total else path.path.count(".")))  # type: ignore[arg-type]
    return Table("Latency, baseline → new", cols, tuple(rows))


def _figures(heading: str, figures: Sequence[Figure]) -> Table:
    """Throughput or capacity figures, baseline against new, with their verdicts."""
    return Table(
        heading,
        columns("<figure", "baseline", "new", "change", "p adj", "<verdict"),
        tuple(
            row(
                f.name,
                figure_value(f, f.old),
                figure_value(f, f.new),
                figure_change(f),
                "-" if f.p_adjusted is None else f"{f.p_adjusted:.3g}",
                diff_verdict(f.verdict, f.note or ""),
            )
            for f in figures
        ),
    )


def _overlay(group: DiffGroup, runs: tuple[RunFile, RunFile]) -> Histogram:
    """Both runs' latencies per path on one axis: grey the baseline, orange the new run."""
    old, new = runs
    rows, overlay = [], []
    for path in group.paths:
        values = [
            run.queries.total_ms.values[run.queries.ok] if path is group.total else run.queries.ok_span(path.path)
            for run in (old, new)
        ]
        p50 = metric(path, "p50").new
        marks = (("p50", p50),) if p50 is not None else ()
        rows.append((path_label(path, group).strip(), 0, values[0], marks))
        overlay.append(values[1])
    return Histogram(
        tuple(rows),
        "Each path's latency in both runs, on one axis per row (ms): grey the baseline, orange the new run.",
        overlay=tuple(overlay),
        series=("baseline", "new"),
    )


def _flames(group: DiffGroup, runs: tuple[RunFile, RunFile]) -> list[Block]:
    """A differential flame graph and the functions that moved most, per changed stage, largest change first."""
    old, new = runs
    profiles = {(p.stage, p.unit): p for p in old.profiles}
    changed = [p for p in group.stages if p.verdict in _CHANGED]
    ranked = sorted(changed, key=lambda p: -abs((metric(p, "mean").new or 0.0) - (metric(p, "mean").old or 0.0)))
    blocks: list[Block] = []
    for path in ranked:
        mine = next((p for p in new.profiles if p.stage == path.path and p.unit == "ms"), None)
        delta = (metric(path, "mean").new or 0.0) - (metric(path, "mean").old or 0.0)
        parts: list[Block] = [
            Para(
                inline(
                    f"Mean {fmt_ms(metric(path, 'mean').old)} → {fmt_ms(metric(path, 'mean').new)} ms "
                    f"({delta:+.3g} ms per query), ",
                    diff_verdict(path.verdict),
                    ".",
                )
            )
        ]
        if mine is not None:
            parts.append(differential(profiles.get((path.path, "ms")), mine, old.n_queries, new.n_queries))
        table = _time_table(path.path, old, new)
        if table is not None:
            parts.append(table)
        if len(parts) == 1:
            parts.append(
                Para(inline("No sampled stacks for this stage in the new run: run both with a profiler."), "note")
            )
        blocks.append(Sub(f"{path.path}: where the change is", tuple(parts)))
    return blocks


def _time_table(stage: str, old: RunFile, new: RunFile) -> Table | None:
    """Functions of a stage by absolute change of their self time per query (not share: a share moves when
    anything else in the stage does)."""

    def per_query(run: RunFile) -> dict[tuple[str, str], tuple[float, int]]:
        out: dict[tuple[str, str], tuple[float, int]] = {}
        n = max(run.n_queries, 1)
        for h in run.hotspots:
            if h.stage == stage and h.unit == "ms":
                value, line = out.get((h.function, h.file), (0.0, h.line))
                out[h.function, h.file] = (value + h.self_value / n, line)
        return out

    before, after = per_query(old), per_query(new)
    keys = sorted(set(before) | set(after), key=lambda k: -abs(after.get(k, (0.0, 0))[0] - before.get(k, (0.0, 0))[0]))
    rows = []
    for key in keys[:_TOP_FUNCTIONS]:
        old_ms, new_ms = before.get(key, (0.0, 0))[0], after.get(key, (0.0, 0))[0]
        if old_ms == new_ms:
            continue  # a caller with no time of its own: nothing moved here
        line = (after.get(key) or before.get(key) or (0.0, 0))[1]
        change = new_ms - old_ms
        rows.append(
            row(
                code(key[0]),
                code(f"{short_path(key[1])}:{line}", key[1]),
                f"{old_ms:.3g}",
                f"{new_ms:.3g}",
                styled(f"{change:+.3g}", "bad" if change > 0 else "good"),
            )
        )
    if not rows:
        return None
    return Table(
        "Functions whose own time per query changed most (ms)",
        columns("<function", "<where", "baseline", "new", "change"),
        tuple(rows),
    )


def _share_table(group: DiffGroup) -> Table:
    return Table(
        "Hotspots: functions whose share of their stage moved most",
        columns("<stage", "<function", "baseline", "new", "change"),
        tuple(
            row(h.stage, code(h.function), f"{h.old_share:.1%}", f"{h.new_share:.1%}", f"{h.change * 100:+.1f} pts")
            for h in group.hotspots
        ),
    )
