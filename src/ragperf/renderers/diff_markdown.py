"""The Markdown view of a diff, for a CI job summary or a pull-request comment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.diff_common import (
    correction,
    fmt_change,
    fmt_memory,
    fmt_memory_change,
    fmt_shift,
    headline,
    metric,
    stage_label,
    verdict_notes,
)
from ragperf.renderers.format import fmt_ms, fmt_pct
from ragperf.renderers.markdown_text import md_code, md_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ragperf.schema.diff import DiffReport, StageDiff

__all__ = ["MARK", "notes_block", "path_table", "render_diff_markdown", "table", "target_block", "warnings_block"]

_OPEN_NOTES = 3
# Emoji read at a glance in a PR comment, where there is no colour.
MARK = {
    "regression": "🔴 regression",
    "improvement": "🟢 improvement",
    "unchanged": "⚪ unchanged",
    "inconclusive": "🟡 inconclusive",
    "too_few": "🟡 too few",
}


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table, right-aligned but for the first and last columns."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i in (0, len(header) - 1) else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def render_diff_markdown(report: DiffReport) -> str:
    """The whole diff as Markdown."""
    if report.load is not None:
        from ragperf.renderers.diff_load_markdown import render_load_diff_markdown

        return render_load_diff_markdown(report, report.load)
    out = [f"## ragperf diff: {md_text(report.baseline.pipeline)}", "", f"**{md_text(headline(report))}**", ""]
    out += [
        f"Baseline {md_code(report.baseline.path)} ({report.baseline.n_queries} queries, "
        f"{_commit(report.baseline.git_commit)}) vs new {md_code(report.new.path)} ({report.new.n_queries} queries, "
        f"{_commit(report.new.git_commit)}). A regression is significant (Mann-Whitney, alpha "
        f"{report.alpha:g}, {correction(report)}) and its p50 change exceeds "
        f"{report.threshold:.0%}" + "".join(f"; {k} gated at {v:.0%}" for k, v in report.metric_thresholds.items()),
        "",
    ]
    out += path_table(report.stages, report.total)
    out += notes_block(verdict_notes(report))
    if report.targets:
        out += target_block(report)
    if report.hotspots:
        out += ["### Hotspots: share of their stage", ""]
        out += table(
            ["stage", "function", "baseline", "new", "change"],
            (
                [
                    md_text(h.stage),
                    f"{md_code(h.function)} ({md_text(h.file)}:{h.line})",
                    fmt_pct(h.old_share),
                    fmt_pct(h.new_share),
                    f"{h.change * 100:+.1f} pts",
                ]
                for h in report.hotspots
            ),
        )
    if report.memory:
        out += ["### Memory", ""]
        out += table(
            ["figure", "baseline", "new", "change"],
            (
                [m.name, fmt_memory(m.old, m.old_ci), fmt_memory(m.new, m.new_ci), fmt_memory_change(m)]
                for m in report.memory
            ),
        )
    out += warnings_block(report)
    return "\n".join(out).rstrip() + "\n"


def path_table(stages: Sequence[StageDiff], total: StageDiff | None) -> list[str]:
    """The per-path latency table, the pipeline total last."""
    header = ["stage", "n", "p50 (ms)", "p95 (ms)", "p99 (ms)", "mean (ms)", "shift [CI]", "p adj", "verdict"]
    rows = [_row(md_text(stage_label(s)).replace("  ", "&nbsp;&nbsp;"), s) for s in stages]
    if total is not None:
        rows.append(_row("**pipeline total**", total))
    return table(header, rows)


def notes_block(notes: list[str]) -> list[str]:
    """Why paths could not be decided; folded when long."""
    out: list[str] = []
    if len(notes) > _OPEN_NOTES:
        # A long list would bury the table in a PR comment: fold it, the headline already says it is there.
        summary = f"{len(notes)} paths could not be decided: what these runs can detect, and the queries that would"
        out += [
            "<details>",
            f"<summary>{summary}</summary>",
            "",
            *[f"- {md_text(note)}" for note in notes],
            "",
            "</details>",
            "",
        ]
    elif notes:
        out += [f"- {md_text(note)}" for note in notes] + [""]
    return out


def target_block(report: DiffReport) -> list[str]:
    """Targets whose verdict changed; a rate target's goal is a floor, a latency target's a ceiling."""
    out = ["### Targets whose verdict changed", ""]
    out += table(
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
    )
    return out


def warnings_block(report: DiffReport) -> list[str]:
    """The comparability warnings, if any."""
    if not report.warnings:
        return []
    return ["### Comparability warnings", ""] + [f"- ⚠️ {md_text(w.message)}" for w in report.warnings] + [""]


def _commit(commit: str | None) -> str:
    return "no git commit" if commit is None else f"commit {commit[:12]}"


def _row(name: str, stage: StageDiff) -> list[str]:
    cells = [name, f"{stage.n_old} / {stage.n_new}"]
    for name_ in ("p50", "p95", "p99", "mean"):
        m = metric(stage, name_)
        cell = f"{fmt_ms(m.old)} → {fmt_ms(m.new)} ({fmt_change(m.rel_change)})"
        cells.append(f"**{cell}**" if m.verdict == "regression" else cell)
    p_adj = "-" if stage.p_adjusted is None else f"{stage.p_adjusted:.3g}"
    return [*cells, fmt_shift(stage).replace("\n", " "), p_adj, MARK[stage.verdict]]
