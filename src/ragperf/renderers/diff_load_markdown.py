"""The Markdown view of a load diff, for a CI job summary or a pull-request comment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ragperf.renderers.diff_common import path_notes
from ragperf.renderers.diff_load_common import figure_change, figure_value, load_headline, method, step_title
from ragperf.renderers.diff_markdown import MARK, notes_block, path_table, table, target_block, warnings_block
from ragperf.renderers.markdown_text import md_code, md_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.schema.diff import DiffReport, LoadDiff, LoadFigure

__all__ = ["render_load_diff_markdown"]


def render_load_diff_markdown(report: DiffReport, load: LoadDiff) -> str:
    """The whole load diff as Markdown."""
    out = [
        f"## ragperf diff (load): {md_text(report.baseline.pipeline)}",
        "",
        f"**{md_text(load_headline(report))}**",
        "",
    ]
    out += [
        f"Baseline {md_code(report.baseline.path)} ({report.baseline.n_queries} queries) "
        f"vs new {md_code(report.new.path)} "
        f"({report.new.n_queries} queries). {method(report, load)}.",
        "",
    ]
    for step in load.steps:
        out += [f"### {step_title(step)}", ""]
        out += _figures(step.figures)
        out += path_table(step.stages, step.total)
        out += notes_block(path_notes(step.stages, step.total))
    if report.only_in_baseline or report.only_in_new:
        only_old = ", ".join(report.only_in_baseline) or "none"
        only_new = ", ".join(report.only_in_new) or "none"
        out += [f"Stages not compared: only in baseline {only_old}; only in new {only_new}.", ""]
    if load.only_in_baseline_qps or load.only_in_new_qps:
        only_old = ", ".join(f"{r:g}" for r in load.only_in_baseline_qps) or "none"
        only_new = ", ".join(f"{r:g}" for r in load.only_in_new_qps) or "none"
        out += [f"Rates not compared (qps): only in baseline {only_old}; only in new {only_new}.", ""]
    if load.capacity:
        out += ["### Capacity", ""]
        out += _figures(load.capacity)
    if report.targets:
        out += target_block(report)
    out += warnings_block(report)
    return "\n".join(out).rstrip() + "\n"


def _figures(figures: Sequence[LoadFigure]) -> list[str]:
    return table(
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
