"""Report renderers: golden Markdown and terminal output, JSON and HTML data, the registry, the command.

Regenerate the golden files after an intended change: RAGPERF_UPDATE_GOLDEN=1 pytest tests/unit/test_renderers.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from golden import check_golden
from typer.testing import CliRunner

from ragperf.cli.app import app
from ragperf.errors import ExitCode, RagperfError
from ragperf.renderers import registry
from ragperf.renderers.base import Report, assemble
from ragperf.renderers.compose import compose, executive_rows
from ragperf.renderers.content import Histogram, LineChart, Stacked, Sub, Table, plain
from ragperf.renderers.html import HtmlRenderer
from ragperf.renderers.json_renderer import JsonRenderer
from ragperf.renderers.markdown import MarkdownRenderer
from ragperf.renderers.terminal import WIDTH, TerminalRenderer
from ragperf.schema import load_run

DATA = Path(__file__).parents[1] / "data"
RUNS = DATA / "runs"
FIXTURES = ("rich_pyinstrument", "example_timer", "rich_full", "rich_profiled")
# A golden name and the saved files it renders: "rich_full" is what 'ragperf profile' produces.
FILES = {
    "rich_pyinstrument": ("rich_pyinstrument",),
    "example_timer": ("example_timer",),
    "rich_full": ("rich_pyinstrument", "rich_memory", "rich_leak"),
    "rich_profiled": ("rich_profiled",),  # the rich run at the current version, with its sampled stacks
}


def _report(name: str) -> Report:
    return assemble([load_run(RUNS / f"{f}.json") for f in FILES[name]])


@pytest.mark.parametrize("name", FIXTURES)
def test_markdown_matches_golden(name):
    # GIVEN a saved run file WHEN rendered as Markdown THEN the text is exactly the golden file
    check_golden(f"{name}.md", MarkdownRenderer().render(_report(name)))


@pytest.mark.parametrize("name", FIXTURES)
def test_terminal_matches_golden_at_fixed_width(name):
    # GIVEN a saved run file WHEN rendered for a file THEN plain text, WIDTH columns, exactly the golden file
    text = TerminalRenderer().render(_report(name))
    # Tables fit the width (a sentence printed with soft_wrap may run on: it is one line to copy)
    assert max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│├└") <= WIDTH
    assert "\x1b[" not in text
    check_golden(f"{name}.terminal.txt", text)


def test_markdown_has_the_seed_sections_in_order():
    # GIVEN the rich run WHEN rendered THEN the seed's report structure appears in its order
    text = MarkdownRenderer().render(_report("rich_pyinstrument"))
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Executive summary",
        "## Performance metrics",
        "## Bottleneck frequency",
        "## Hotspots per stage",
        "## Memory analysis",
        "## Optimisation roadmap",
        "## Run details",
    ]
    assert "### Quick wins" in text
    assert "| p95 latency | &lt; 40.0 ms |" in text
    assert text.startswith("# Performance report: rich\n\n**FAIL**")


def test_json_report_round_trips_the_run_and_the_roadmap():
    # GIVEN the rich run WHEN rendered as JSON
    report = _report("rich_pyinstrument")
    data = json.loads(JsonRenderer().render(report))
    # THEN it holds the raw run file unchanged, and the roadmap as data
    assert data["report_version"] == 2
    assert data["files"] == {"run": json.loads(report.run.model_dump_json())}  # type: ignore[union-attr]
    assert report.roadmap is not None
    assert [i["stage"] for i in data["roadmap"]["items"]] == [i.stage for i in report.roadmap.items]
    first = data["roadmap"]["items"][0]
    assert first["evidence"]["affected_queries"] == report.roadmap.items[0].evidence.affected_queries
    assert {c["check"] for c in data["executive_summary"]} >= {"p95 latency", "peak memory (RSS)"}


def test_a_full_report_combines_latency_memory_and_leak_files():
    # GIVEN the three files 'ragperf profile' writes, in any order
    files = [load_run(RUNS / f"{f}.json") for f in ("rich_leak", "rich_memory", "rich_pyinstrument")]
    report = assemble(files)
    # THEN the latency run is the run, the memory run supplies memory, and the leak becomes a roadmap item
    assert report.run is files[2]
    assert report.memory_run is files[1]
    assert report.memory == files[1].memory
    leak = files[0].leak
    assert leak is not None
    assert leak.detected
    assert report.roadmap is not None
    assert report.roadmap.leak is not None
    assert report.roadmap.leak.stage == leak.stage == "rerank"
    assert report.roadmap.leak.priority == ("P0" if leak.verdict == "FAIL" else "P1")
    assert "rich_pipeline.py" in (report.roadmap.leak.site or "")
    # AND the executive summary judges memory and the leak from those files
    checks = {row[0]: row for row in _checks(report)}
    assert checks["peak memory (RSS)"][2] != "not measured"
    assert checks["memory leak rate"][3] == leak.verdict
    # AND the JSON keeps every file
    assert set(json.loads(JsonRenderer().render(report))["files"]) == {"run", "memory_run", "leak"}


def test_a_memray_latency_run_pairs_with_the_memory_run():
    # GIVEN 'ragperf profile -b memray': a latency run whose memory section holds memray's working peaks only
    memory_run = load_run(RUNS / "rich_memory.json")
    assert memory_run.memory is not None
    peaks = memory_run.memory.model_copy(update={"series": (), "peak_rss": None, "working_method": "memray"})
    latency = load_run(RUNS / "rich_pyinstrument.json").model_copy(update={"memory": peaks})
    # WHEN the two are assembled into one report
    report = assemble([latency, memory_run])
    # THEN they are still a latency run and its memory run, and the report's memory is the one that read RSS
    assert report.run is latency
    assert report.memory_run is memory_run
    assert report.memory == memory_run.memory


def _checks(report: Report) -> list[tuple[str, str, str, str]]:
    return executive_rows(report)


def test_memory_not_measured_is_said_not_hidden():
    # GIVEN a latency run alone WHEN rendered THEN memory checks say "not measured" and how to measure
    text = MarkdownRenderer().render(_report("example_timer"))
    assert "| peak memory (RSS) | &lt; 512 MB | not measured | n/a |" in text
    assert "`ragperf profile` does both" in text


def _blocks(report: Report, section: str) -> list[object]:
    """Every block of a section of the report's content, subsections flattened."""
    found = next(s for s in compose(report).sections if s.id == section)
    out: list[object] = []
    todo = list(found.blocks)
    while todo:
        block = todo.pop(0)
        out.append(block)
        if isinstance(block, Sub):
            todo[:0] = block.blocks
    return out


def test_content_charts_hold_what_the_run_holds():
    # GIVEN the rich run WHEN its content is composed
    report = _report("rich_pyinstrument")
    run = report.run
    assert run is not None
    ok = [q for q in run.queries.records() if q.error is None]
    waterfall = next(b for b in _blocks(report, "waterfall") if isinstance(b, Stacked))
    # THEN the waterfall has one column per successful query, its segments the enabled top-level stages
    assert waterfall.series == ("intent", "retrieval", "rerank", "generation")
    assert [name for name, _ in waterfall.items] == [q.id for q in ok]
    for (_, spans), query in zip(waterfall.items, ok, strict=True):
        # the stages account for the query's total, less the harness's time between them
        assert sum(spans) <= query.total_ms
        assert sum(spans) == pytest.approx(query.total_ms, rel=0.05)
    # AND each histogram row carries every measured value and its summary's percentiles; skipped stages are absent
    histogram = next(b for b in _blocks(report, "metrics") if isinstance(b, Histogram))
    rows = {label: (values, dict(marks)) for label, _, values, marks in histogram.rows}
    assert "rewrite" not in rows
    stages = {s.path.rsplit(".", 1)[-1]: s for s in run.summary.stages}
    for label, (values, marks) in rows.items():
        if label != "pipeline total":
            assert len(values) == stages[label].n
            assert marks["p95"] == stages[label].p95
    assert rows["pipeline total"][1]["target"] == 40
    # AND there is no memory chart without memory figures
    assert not any(isinstance(b, LineChart) for b in _blocks(report, "memory"))
    # AND the bottleneck table's priorities are the roadmap's rule applied once
    table = next(b for b in _blocks(report, "bottlenecks") if isinstance(b, Table))
    assert sum(int(plain(r.cells[1])) for r in table.rows) == len(ok)


def test_html_is_one_self_contained_document():
    # GIVEN the rich run WHEN rendered as HTML
    html = HtmlRenderer().render(_report("rich_pyinstrument"))
    # THEN it is one document with its charts inline, and nothing to fetch
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") >= 10
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html
    assert "@import" not in html
    assert "@media print" in html
    for section in ("summary", "metrics", "waterfall", "bottlenecks", "memory", "roadmap", "hotspots", "details"):
        assert f'id="{section}"' in html


def test_registry_lists_the_builtin_formats():
    # GIVEN the installed package THEN its four formats register through the entry-point group
    found = registry.available_renderers()
    assert {"terminal", "md", "html", "json"} <= set(found)
    assert found["md"].load() is MarkdownRenderer


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(RagperfError, match=r"no report format named 'pdf'; choose one of: .*html"):
        registry.load_renderer("pdf")


def test_report_command_writes_each_format(tmp_path):
    # GIVEN a run file WHEN 'ragperf report' writes each format, chosen by --format or by the suffix
    runner = CliRunner()
    run = str(RUNS / "rich_pyinstrument.json")
    for args, name in (
        (["-o", str(tmp_path / "r.md")], "r.md"),
        (["-o", str(tmp_path / "r.html")], "r.html"),
        (["--format", "json", "-o", str(tmp_path / "r.out")], "r.out"),
    ):
        result = runner.invoke(app, ["report", run, *args])
        # THEN it exits 0 and the file is there, in that format
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "r.md").read_text().startswith("# Performance report")
    assert json.loads((tmp_path / "r.out").read_text())["pipeline"] == "rich"


def test_report_command_prints_to_the_terminal():
    result = CliRunner().invoke(app, ["report", str(RUNS / "example_timer.json")])
    assert result.exit_code == 0, result.output
    assert "Optimisation roadmap" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "no such file"),
        (["{run}", "{run}"], "two run files given"),
        (["{run}", "--format", "pdf"], "no report format named 'pdf'"),
        (["{run}", "--rules", "missing.toml"], "rules file not found"),
    ],
)
def test_report_command_user_errors_are_one_line(args, message):
    # GIVEN a user mistake WHEN 'ragperf report' runs THEN one line on stderr and exit code 2, no traceback
    run = str(RUNS / "example_timer.json")
    result = CliRunner().invoke(app, ["report", *[a.replace("{run}", run) for a in args]])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.output
    assert "Traceback" not in result.output


def test_rules_file_adds_advice(tmp_path):
    # GIVEN a rules file with thresholds and a rule of its own
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[report]\np0_fraction = 0.5\n[[report.rules]]\nid = "x"\nkinds = ["rerank"]\ntitle = "Our fix"\n'
        'advice = "Fix {stage} our way."\nquick_win = true\n',
        encoding="utf-8",
    )
    # WHEN the report is rendered with it
    result = CliRunner().invoke(
        app, ["report", str(RUNS / "rich_pyinstrument.json"), "--rules", str(rules), "--format", "md"]
    )
    # THEN the rule's advice and the new threshold appear
    assert result.exit_code == 0, result.output
    assert "**Our fix** (effort M): Fix rerank our way." in result.output
    assert "P0: more than 50.0% of queries" in result.output


def test_html_memory_chart_is_the_leak_series_and_its_fit():
    # GIVEN the full report WHEN the HTML data is built
    report = _report("rich_full")
    leak = report.leak.leak if report.leak is not None else None
    assert leak is not None
    assert leak.heap is not None
    chart = next(b for b in _blocks(report, "memory") if isinstance(b, LineChart) and b.x_label == "iteration")
    lines = {m.name: m for m in chart.lines}
    # THEN the heap line is every iteration's heap, and its fit runs along the Theil-Sen line
    heap = lines["heap"]
    assert [y for _, y in heap.points] == [p.heap for p in leak.series]
    fit = next(m for m in chart.lines if m.dashed and m.name.startswith("heap"))
    (x0, y0), (x1, y1) = fit.points
    assert (y1 - y0) / (x1 - x0) == pytest.approx(leak.heap.slope)
    assert y0 == pytest.approx(leak.heap.intercept + leak.heap.slope * x0)


def test_histogram_counts_far_outliers_instead_of_stretching_the_axis():
    # GIVEN 99 latencies near 10 ms and one of 500 ms
    from ragperf.renderers.svg import histogram_row

    values = [10.0 + i % 5 for i in range(99)] + [500.0]
    # WHEN drawn THEN the axis ends near the bulk and the outlier is counted, not drawn far away
    svg = histogram_row(values, [], "stage")
    assert "+1 beyond, max 500 ms" in svg
    assert ">20</text>" in svg
    assert ">400</text>" not in svg
    # AND without an outlier the axis reaches the largest value
    assert "beyond" not in histogram_row(values[:99], [], "stage")


def test_a_leak_file_alone_still_gets_its_roadmap_item():
    # GIVEN only the leak file WHEN reported THEN the leak is on the roadmap and latency is not judged from it
    report = assemble([load_run(RUNS / "rich_leak.json")])
    text = MarkdownRenderer().render(report)
    assert "#### 🔴 P0 rerank (memory leak)" in text
    assert "| p95 latency | &lt; 40.0 ms | not measured | n/a |" in text


def test_time_and_memory_hotspots_of_one_stage_are_ranked_apart_and_labelled():
    # GIVEN a run whose backend reports CPU time and sampled memory for one stage (scalene does)
    run = load_run(RUNS / "rich_pyinstrument.json")
    timed = next(h for h in run.hotspots if h.stage == "generation")
    allocs = timed.model_copy(update={"function": "build", "self_value": 5e8, "total_value": 5e8, "unit": "bytes"})
    run = run.model_copy(update={"hotspots": (*run.hotspots, allocs.model_copy(update={"count": 10}))})
    report = assemble([run])
    # WHEN the hotspots are grouped for reports
    groups = {b.title: b for b in _blocks(report, "hotspots") if isinstance(b, Sub)}
    # THEN the stage has a time group and a memory group, each of one unit, time not ranked under bytes
    assert "generation (time)" in groups
    memory = next(b for b in groups["generation (memory)"].blocks if isinstance(b, Table))
    assert [plain(r.cells[0]).split()[0] for r in memory.rows] == ["build"]
    # AND every format shows them apart, labelled
    markdown = MarkdownRenderer().render(report)
    assert "### generation (time)" in markdown
    assert "### generation (memory)" in markdown
    terminal = TerminalRenderer().render(report)
    assert "generation (time)" in terminal
    assert "generation (memory)" in terminal


def test_the_html_of_100k_queries_stays_small():
    # GIVEN a run of 100,000 queries, with a profiled run's stacks and hotspots
    import numpy as np
    from test_diff import STAGES, latencies, make_run

    rng = np.random.default_rng(1)
    profiled = load_run(RUNS / "rich_profiled.json")
    run = make_run({s: latencies(rng, 100_000, m) for s, m in STAGES.items()})
    run = run.model_copy(update={"profiles": profiled.profiles, "hotspots": profiled.hotspots})
    # WHEN reported as HTML THEN the page is far under 5 MB: charts bin the queries, the waterfall samples them
    html = HtmlRenderer().render(assemble([run]))
    assert len(html.encode()) < 5_000_000
    assert html.count("<svg") >= 5
