"""The diff's HTML page: verdicts with intervals, both distributions, functions ranked by time change."""

from __future__ import annotations

from pathlib import Path

from test_diff import pipeline_runs

from ragperf.analysis.diff import diff_runs
from ragperf.renderers.content import Histogram, Intervals, Sub, Table, plain
from ragperf.renderers.diff_content import diff_document
from ragperf.renderers.html import render_document
from ragperf.schema.run import Hotspot, RunFile


def _spots(run: RunFile, score_ms: float, split_ms: float) -> RunFile:
    n = run.n_queries

    def spot(function: str, per_query: float) -> Hotspot:
        value = per_query * n
        return Hotspot(
            stage="rerank", function=function, file="/p/rank.py", line=3, self_value=value, total_value=value,
            unit="ms", samples=n, share=0.5, backend="test",
        )  # fmt: skip

    return run.model_copy(update={"hotspots": (spot("score", score_ms), spot("str.split", split_ms))})


def _page() -> tuple[object, str]:
    old, new = pipeline_runs(seed=2, n_old=100, n_new=80, factors={"rerank": 1.6})
    # The scorer's own time grows 2.5x; a small function's share drops, though its time barely moves.
    old, new = _spots(old, 10.0, 0.50), _spots(new, 25.0, 0.45)
    report = diff_runs(old, new, baseline_path=Path("base.json"), new_path=Path("new.json"))
    return diff_document(report, (old, new)), render_document(diff_document(report, (old, new)))


def test_the_page_draws_every_path_verdict_on_its_interval():
    doc, html = _page()
    (section,) = doc.sections[:1]  # type: ignore[attr-defined]
    intervals = next(b for b in section.blocks if isinstance(b, Intervals))
    rows = {label: (change, low, high, tone) for label, change, low, high, tone in intervals.rows}
    # THEN rerank's point sits inside its interval, drawn as a regression; the unchanged stages are not
    change, low, high, tone = rows["rerank"]
    assert tone == "bad"
    assert low is not None
    assert high is not None
    assert low < change < high  # type: ignore[operator]
    assert low > 0
    assert all(t != "bad" for name, (_, _, _, t) in rows.items() if name not in ("rerank", "pipeline total"))
    assert html.count('class="verdict bad"') >= 1
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html


def test_the_page_overlays_both_runs_latencies():
    doc, _ = _page()
    overlay = next(b for b in doc.sections[0].blocks if isinstance(b, Histogram))  # type: ignore[attr-defined]
    # THEN each path has the baseline's values and the new run's, of their own sizes
    assert overlay.series == ("baseline", "new")
    assert {len(values) for _, _, values, _ in overlay.rows} == {100}
    assert {len(values) for values in overlay.overlay} == {80}


def test_functions_are_ranked_by_their_change_in_time_not_share():
    doc, _ = _page()
    sub = next(b for b in doc.sections[0].blocks if isinstance(b, Sub) and b.title.startswith("rerank"))  # type: ignore[attr-defined]
    table = next(b for b in sub.blocks if isinstance(b, Table))
    # THEN the scorer, whose time grew 15 ms a query, leads; the split that moved 0.05 ms follows
    assert [plain(r.cells[0]) for r in table.rows] == ["score", "str.split"]
    assert plain(table.rows[0].cells[4]) == "+15"
