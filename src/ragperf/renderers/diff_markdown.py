"""The Markdown view of a diff, for a CI job summary or a pull-request comment: the same groups and
sections as the terminal view, in the same order."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    sides,
    title,
)
from ragperf.renderers.format import fmt_ms, fmt_pct
from ragperf.renderers.markdown import md_code, md_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ragperf.schema.diff import DiffGroup, DiffReport, Figure, PathDiff

__all__ = ["render_diff_markdown"]

_OPEN_NOTES = 3
# Emoji read at a glance in a PR comment, where there is no colour.
MARK = {
    "regression": "🔴 regression",
    "improvement": "🟢 improvement",
    "unchanged": "⚪ unchanged",
    "inconclusive": "🟡 inconclusive",
    "too_few": "🟡 too few",
    "contention": "🟠 machine contention",
}


def render_diff_markdown(report: DiffReport) -> str:
    """The whole diff as Markdown."""
    out = [f"## {md_text(title(report))}", "", f"**{md_text(headline(report))}**", ""]
    compared = sides(report, md_code)  # the paths as code spans; the rest is ragperf's own words
    out += [f"{compared[:1].upper()}{compared[1:]}. {md_text(method(report))}.", ""]
    for group in report.groups:
        out += _group(group, report)
    skipped = not_compared(report)
    out += [*(f"{md_text(line)}." for line in skipped), *([""] if skipped else [])]
    if report.capacity:
        out += ["### Capacity", "", *_figures(report.capacity)]
    if report.targets:
        out += _targets(report)
    if report.warnings:
        out += ["### Comparability warnings", ""] + [f"- ⚠️ {md_text(w.message)}" for w in report.warnings] + [""]
    return "\n".join(out).rstrip() + "\n"


def _group(group: DiffGroup, report: DiffReport) -> list[str]:
    heading = group_title(group)
    out = [] if heading is None else [f"### {md_text(heading)}", ""]
    if group.figures:
        out += _figures(group.figures)
    header = ["stage", "n", "p50 (ms)", "p95 (ms)", "p99 (ms)", "mean (ms)", "shift [CI]", "p adj", "verdict"]
    rows = [_row(md_text(path_label(p, group)).replace("  ", "&nbsp;&nbsp;"), p) for p in group.stages]
    if group.total is not None:
        rows.append(_row(f"**{path_label(group.total, group)}**", group.total))
    out += _table(header, rows)
    out += _notes(path_notes(group, report))
    if group.hotspots:
        out += ["### Hotspots: share of their stage", ""]
        out += _table(
            ["stage", "function", "baseline", "new", "change"],
            (
                [
                    md_text(h.stage),
                    f"{md_code(h.function)} ({md_text(h.file)}:{h.line})",
                    fmt_pct(h.old_share),
                    fmt_pct(h.new_share),
                    f"{h.change * 100:+.1f} pts",
                ]
                for h in group.hotspots
            ),
        )
    if group.memory:
        out += ["### Memory", ""]
        out += _table(
            ["figure", "baseline", "new", "change"],
            (
                [m.name, fmt_memory(m.old, m.old_ci), fmt_memory(m.new, m.new_ci), fmt_memory_change(m)]
                for m in group.memory
            ),
        )
    return out


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table, right-aligned but for the first and last columns."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i in (0, len(header) - 1) else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _notes(notes: list[str]) -> list[str]:
    """Why paths could not be decided; folded when long."""
    if len(notes) > _OPEN_NOTES:
        # A long list would bury the table in a PR comment: fold it, the headline already says it is there.
        summary = f"{len(notes)} paths could not be decided: what these runs can detect, and the queries that would"
        return [
            "<details>",
            f"<summary>{summary}</summary>",
            "",
            *[f"- {md_text(note)}" for note in notes],
            "",
            "</details>",
            "",
        ]
    return [*(f"- {md_text(note)}" for note in notes), *([""] if notes else [])]


def _targets(report: DiffReport) -> list[str]:
    """Targets whose verdict changed; a rate target's goal is a floor, a latency target's a ceiling."""
    return [
        "### Targets whose verdict changed",
        "",
        *_table(
            ["target", "goal", "baseline", "new"],
            (
                [
                    t.name,
                    "-" if t.target is None else f"{'≥' if t.unit == 'qps' else '<'} {fmt_ms(t.target)} {t.unit}",
                    f"{fmt_ms(t.old_measured)} {t.old_verdict}",
                    f"{fmt_ms(t.new_measured)} **{t.new_verdict}**",
                ]
                for t in report.targets
            ),
        ),
    ]


def _figures(figures: Sequence[Figure]) -> list[str]:
    return _table(
        ["figure", "baseline", "new", "change", "p adj", "verdict"],
        (
            [
                f.name,
                figure_value(f, f.old),
                figure_value(f, f.new),
                figure_change(f),
                "-" if f.p_adjusted is None else f"{f.p_adjusted:.3g}",
                MARK[f.verdict] + (f" ({f.note})" if f.note else ""),
            ]
            for f in figures
        ),
    )


def _row(name: str, path: PathDiff) -> list[str]:
    cells = [name, f"{path.n_old} / {path.n_new}"]
    for name_ in ("p50", "p95", "p99", "mean"):
        m = metric(path, name_)
        cell = f"{fmt_ms(m.old)} → {fmt_ms(m.new)} ({fmt_change(m.rel_change)})"
        cells.append(f"**{cell}**" if m.verdict == "regression" else cell)
    p_adj = "-" if path.evidence.p_adjusted is None else f"{path.evidence.p_adjusted:.3g}"
    return [*cells, fmt_shift(path).replace("\n", " "), p_adj, MARK[path.verdict]]
