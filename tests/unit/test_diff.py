"""Tests for `ragperf diff`'s analysis and renderers on run files built in memory (no child processes)."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from golden import check_golden
from rich.console import Console

from ragperf.analysis.diff import diff_runs
from ragperf.analysis.summary import summarise
from ragperf.config import Targets
from ragperf.errors import RunFileError
from ragperf.renderers.json_renderer import render_diff_json
from ragperf.renderers.markdown import render_diff_markdown
from ragperf.renderers.terminal import render_diff_terminal
from ragperf.schema import load_run
from ragperf.schema.diff import DiffGroup, DiffReport
from ragperf.schema.queries import QueryTable
from ragperf.schema.run import BackendInfo, Environment, Hotspot, ProcessRun, QueryRecord, RunFile, StageInfo

if TYPE_CHECKING:
    import numpy.typing as npt

RUNS = Path(__file__).resolve().parent.parent / "data" / "runs"
STAGES = {"embed": 18.0, "retrieve": 45.0, "rerank": 120.0, "generate": 400.0}


def latencies(rng: np.random.Generator, n: int, median: float, factor: float = 1.0) -> npt.NDArray[np.float64]:
    """Log-normal stage latencies with 3% of queries slowed x2-x5, as real runs have."""
    x = rng.lognormal(math.log(median), 0.15, n)
    slow = rng.random(n) < 0.03
    x[slow] *= rng.uniform(2.0, 5.0, int(slow.sum()))
    return x * factor


def environment(**changes: Any) -> Environment:
    """A quiet 4-CPU Linux machine, with `changes` applied."""
    base: dict[str, Any] = {
        "python": "3.11.7",
        "implementation": "cpython",
        "platform": "Linux-6.1-x86_64",
        "machine": "x86_64",
        "cpu_model": "AMD EPYC",
        "cpu_count": 4,
        "load_avg_start": (0.2, 0.2, 0.2),
        "load_avg_end": (1.0, 0.5, 0.3),
        "packages": {},
        "git_commit": "abc",
        "git_dirty": False,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
    }
    return Environment(**{**base, **changes})


def make_run(
    samples: dict[str, npt.NDArray[np.float64]],
    *,
    targets: Targets | None = None,
    **changes: Any,
) -> RunFile:
    """A run file whose queries have the given per-stage durations (ms)."""
    n = min(len(v) for v in samples.values())
    stages = tuple(
        StageInfo(path=p, parent=None, kind="other", call=f"m:{p}", target_ms=None, enabled=True) for p in samples
    )
    queries = QueryTable.from_records(
        QueryRecord(
            index=i,
            id=str(i),
            query=f"q{i}",
            total_ms=float(sum(v[i] for v in samples.values())),
            spans={p: float(v[i]) for p, v in samples.items()},
        )
        for i in range(n)
    )
    fields: dict[str, Any] = {
        "ragperf_version": "0.1.0",
        "pipeline": "demo",
        "complete": True,
        "incomplete_reason": None,
        "environment": environment(),
        "config": {},
        "config_file": None,
        "config_digest": "c1",
        "queries_digest": "q1",
        "backend": BackendInfo(name="timer", distribution="ragperf", version="0.1.0", options={}),
        "warmup": 3,
        "requested": n,
        "stages": stages,
        "queries": queries,
        "summary": summarise(queries, stages, targets or Targets()),
    }
    return RunFile(**{**fields, **changes})


def pipeline_runs(
    seed: int, n_old: int = 100, n_new: int = 100, factors: dict[str, float] | None = None
) -> tuple[RunFile, RunFile]:
    rng = np.random.default_rng(seed)
    old = make_run({s: latencies(rng, n_old, m) for s, m in STAGES.items()})
    new = make_run({s: latencies(rng, n_new, m, (factors or {}).get(s, 1.0)) for s, m in STAGES.items()})
    return old, new


def diff(old: RunFile, new: RunFile, tmp_path: Path, **kwargs: Any) -> DiffReport:
    return diff_runs(old, new, baseline_path=tmp_path / "old.json", new_path=tmp_path / "new.json", **kwargs)


def only(report: DiffReport) -> DiffGroup:
    """A run diff's one group."""
    (group,) = report.groups
    return group


def test_aa_gives_no_regression(tmp_path: Path) -> None:
    # GIVEN two runs drawn from the same distributions
    old, new = pipeline_runs(seed=1)
    # WHEN diffed
    report = diff(old, new, tmp_path)
    # THEN every stage and the total are compared, none regressed, and no comparability warning is raised
    group = only(report)
    assert [s.path for s in group.stages] == list(STAGES)
    assert group.total is not None
    assert group.total.path == "total"
    assert report.paths_compared == report.family == len(STAGES) + 1
    assert report.regressions == ()
    assert all(s.verdict in {"unchanged", "inconclusive"} for s in group.paths)
    assert report.warnings == ()


def test_known_shift_is_found_in_that_stage_only(tmp_path: Path) -> None:
    # GIVEN the rerank stage 25% slower in the new run
    old, new = pipeline_runs(seed=2, factors={"rerank": 1.25})
    # WHEN diffed
    report = diff(old, new, tmp_path)
    by_path = {s.path: s for s in only(report).stages}
    # THEN rerank (and possibly the total it is part of) regressed; no other stage did
    assert set(report.regressions) - {"total"} == {"rerank"}
    rerank = by_path["rerank"]
    assert rerank.evidence.shift_ci is not None
    low, high = rerank.evidence.shift_ci
    assert low is not None
    assert high is not None
    assert low < 0.25 < high
    assert next(m for m in rerank.metrics if m.metric == "p50").rel_change == pytest.approx(0.25, abs=0.1)


def test_unequal_sample_sizes_work(tmp_path: Path) -> None:
    # GIVEN a baseline of 60 queries and a new run of 150, generate 30% slower
    old, new = pipeline_runs(seed=3, n_old=60, n_new=150, factors={"generate": 1.3})
    # WHEN diffed
    report = diff(old, new, tmp_path)
    # THEN the sizes are kept apart and the slowdown found
    assert {(s.n_old, s.n_new) for s in only(report).stages} == {(60, 150)}
    assert "generate" in report.regressions


def test_tiny_samples_say_too_few(tmp_path: Path) -> None:
    # GIVEN runs of 3 queries, the new one twice as slow
    old, new = pipeline_runs(seed=4, n_old=3, n_new=3, factors=dict.fromkeys(STAGES, 2.0))
    # WHEN diffed and rendered
    report = diff(old, new, tmp_path)
    markdown = render_diff_markdown(report)
    # THEN nothing is called a regression: every path says the evidence is too thin, with no statistics made up
    assert report.regressions == ()
    assert all(s.verdict == "too_few" for s in only(report).paths)
    assert all(s.evidence.p_value is None and s.evidence.shift is None for s in only(report).stages)
    assert "too few queries to tell (3 vs 3)" in markdown


def test_noisy_small_runs_are_inconclusive_with_a_query_count(tmp_path: Path) -> None:
    # GIVEN 20 queries per run, no change
    old, new = pipeline_runs(seed=5, n_old=20, n_new=20)
    # WHEN diffed
    report = diff(old, new, tmp_path)
    # THEN stages are inconclusive (not "unchanged"), each with how many queries would settle it
    inconclusive = [s.evidence for s in only(report).stages if s.verdict == "inconclusive"]
    assert inconclusive
    assert all(e.queries_needed is not None and e.queries_needed > 20 for e in inconclusive)
    assert all(e.min_detectable is not None and e.min_detectable > 0.05 for e in inconclusive)
    text = render_diff_markdown(report)
    assert f"about {inconclusive[0].queries_needed} queries per run would settle it" in text


def test_p95_threshold_is_gated_separately(tmp_path: Path) -> None:
    # GIVEN 200 queries per run, generate's tail (slowest 20%) made 3x slower, its median untouched
    rng = np.random.default_rng(6)
    old = make_run({s: latencies(rng, 200, m) for s, m in STAGES.items()})
    tail = latencies(rng, 200, STAGES["generate"])
    tail[tail > np.percentile(tail, 80)] *= 3.0
    new = make_run({**{s: latencies(rng, 200, m) for s, m in STAGES.items()}, "generate": tail})
    # WHEN diffed with and without a p95 threshold
    plain = diff(old, new, tmp_path)
    gated = diff(old, new, tmp_path, metric_thresholds={"p95": 0.10})
    # THEN only the p95 gate catches it
    assert "generate" not in plain.regressions
    assert "generate" in gated.regressions
    p95 = next(m for m in next(s for s in only(gated).stages if s.path == "generate").metrics if m.metric == "p95")
    assert p95.verdict == "regression"
    assert p95.threshold == 0.10


def test_different_pipelines_are_refused_unless_forced(tmp_path: Path) -> None:
    # GIVEN runs of two different pipelines
    old, new = pipeline_runs(seed=7)
    other = new.model_copy(update={"pipeline": "other"})
    # WHEN diffed THEN it is refused with the fix in the message, unless forced
    with pytest.raises(RunFileError, match="--force"):
        diff(old, other, tmp_path)
    assert diff(old, other, tmp_path, force=True).baseline.pipeline == "demo"


def test_a_load_file_against_a_run_file_is_refused(tmp_path: Path) -> None:
    # GIVEN a load-test file passed as the new run, against a run file
    old, new = pipeline_runs(seed=8)
    # WHEN diffed THEN it is refused, naming the files diff compares
    with pytest.raises(RunFileError, match="a load file, but the baseline is a run file; diff compares two load"):
        diff(old, new.model_copy(update={"kind": "load"}), tmp_path)


def test_comparability_warnings(tmp_path: Path) -> None:
    # GIVEN a new run on another Python and CPU, another backend, config and query set, on a busy machine
    old, new = pipeline_runs(seed=9)
    new = new.model_copy(
        update={
            "environment": environment(
                python="3.12.1", cpu_model="Intel Xeon", cpu_count=8, load_avg_start=(6.0, 5, 4)
            ),
            "backend": BackendInfo(name="pyinstrument", distribution=None, version="5.1", options={"interval": 0.001}),
            "config_digest": "c2",
            "queries_digest": "q2",
        }
    )
    # WHEN diffed
    kinds = [w.kind for w in diff(old, new, tmp_path).warnings]
    # THEN each difference is named
    for kind in ("python", "cpu", "cpu_count", "backend", "config", "queries", "load"):
        assert kind in kinds


def test_working_peaks_measured_two_ways_are_warned_about(tmp_path: Path) -> None:
    # GIVEN a baseline whose working peaks came from RSS high-water marks, and a new run's from memray
    memory = load_run(RUNS / "rich_memory.json").memory
    assert memory is not None
    old, new = pipeline_runs(seed=9)
    old = old.model_copy(update={"memory": memory.model_copy(update={"working_method": "rss-high-water"})})
    new = new.model_copy(update={"memory": memory.model_copy(update={"working_method": "memray"})})
    # WHEN diffed THEN the warning says the two were measured differently
    found = [w for w in diff(old, new, tmp_path).warnings if w.kind == "working_method"]
    assert len(found) == 1
    assert "baseline rss-high-water, new memray" in found[0].message
    # AND two runs measured alike are not warned about
    assert not [w for w in diff(old, old, tmp_path).warnings if w.kind == "working_method"]


def test_config_warning_names_the_changed_keys(tmp_path: Path) -> None:
    # GIVEN configs differing in one option and one stage's call
    old, new = pipeline_runs(seed=14)
    stages = [{"name": "rerank", "call": "m:rerank"}, {"name": "embed", "call": "m:embed"}]
    old = old.model_copy(update={"config": {"pipeline": {"options": {"fused_k": 30}}, "stages": stages}})
    stages = [{"name": "embed", "call": "m:embed"}, {"name": "rerank", "call": "m:rerank_v2"}]
    new = new.model_copy(
        update={"config": {"pipeline": {"options": {"fused_k": 80}}, "stages": stages}, "config_digest": "c2"}
    )
    # WHEN diffed
    warning = next(w for w in diff(old, new, tmp_path).warnings if w.kind == "config")
    # THEN the message names each changed key (stages by name, so reordering is no change), not the digests
    assert (
        warning.message
        == "config differs: pipeline.options.fused_k: 30 -> 80; stages.rerank.call: 'm:rerank' -> 'm:rerank_v2'"
    )


def test_stages_moving_together_on_one_machine_are_not_blamed_on_it(tmp_path: Path) -> None:
    # GIVEN every stage 30% slower on the same quiet machine, as a larger top-k slows them all
    old, new = pipeline_runs(seed=10, factors=dict.fromkeys(STAGES, 1.3))
    # WHEN diffed THEN they are regressions, with no warning that the machine may be the cause
    report = diff(old, new, tmp_path)
    assert set(report.regressions) == {*STAGES, "total"}
    assert report.warnings == ()


def test_stages_moving_together_on_another_machine_are_warned_about(tmp_path: Path) -> None:
    # GIVEN every stage 30% slower, the new run on another CPU model
    old, new = pipeline_runs(seed=10, factors=dict.fromkeys(STAGES, 1.3))
    new = new.model_copy(update={"environment": environment(cpu_model="Intel Xeon")})
    # WHEN diffed THEN the regressions come with a warning that the machine may explain them
    report = diff(old, new, tmp_path)
    assert set(report.regressions) == {*STAGES, "total"}
    machine = next(w for w in report.warnings if w.kind == "machine")
    assert machine.message.startswith("all 4 stages moved together (+")
    assert "the machine differed (cpu)" in machine.message


def test_sub_millisecond_stages_need_the_floor_to_regress(tmp_path: Path) -> None:
    # GIVEN a 0.2 ms stage 30% slower (0.06 ms) and a 40 ms stage 30% slower, 400 queries each
    rng = np.random.default_rng(21)
    medians = {"parse": 0.2, "search": 40.0}
    old = make_run({s: latencies(rng, 400, m) for s, m in medians.items()})
    new = make_run({s: latencies(rng, 400, m, 1.3) for s, m in medians.items()})
    # WHEN diffed with the default floor
    report = diff(old, new, tmp_path)
    parse = next(s for s in only(report).stages if s.path == "parse")
    # THEN the tiny stage is not a regression: significant, but under the 0.25 ms floor, whose threshold it shows
    assert report.min_ms == 0.25
    assert parse.evidence.p_adjusted is not None
    assert parse.evidence.p_adjusted < 0.05
    assert parse.verdict != "regression"
    assert parse.threshold == pytest.approx(0.25 / next(m.old for m in parse.metrics if m.metric == "p50"))
    assert "search" in report.regressions
    # AND with the floor off (min_ms=0) it is one
    assert "parse" in diff(old, new, tmp_path, min_ms=0.0).regressions


def test_the_floor_comes_from_the_new_runs_diff_table(tmp_path: Path) -> None:
    # GIVEN a new run made with `[diff] min_ms = 2` in its config, and one with no [diff] table
    old, new = pipeline_runs(seed=22)
    floored = new.model_copy(update={"config": {"diff": {"min_ms": 2.0}}})
    # WHEN diffed THEN the config's floor is used, an explicit one wins, and the default fills in
    assert diff(old, floored, tmp_path).min_ms == 2.0
    assert diff(old, floored, tmp_path, min_ms=0.5).min_ms == 0.5
    assert diff(old, new, tmp_path).min_ms == 0.25
    # AND an unusable table is a one-line error naming the fix
    with pytest.raises(RunFileError, match="pass --min-ms"):
        diff(old, new.model_copy(update={"config": {"diff": {"min_ms": -1}}}), tmp_path)


def test_a_gated_metric_widens_the_family(tmp_path: Path) -> None:
    # GIVEN 4 stages and the total, 200 queries each WHEN diffed with a p95 gate
    old, new = pipeline_runs(seed=23, n_old=200, n_new=200)
    report = diff(old, new, tmp_path, metric_thresholds={"p95": 0.2})
    # THEN the family is every path times its two checks, and each interval is read at that level
    assert report.family == (len(STAGES) + 1) * 2
    assert all(p.evidence.ci_level == pytest.approx(1 - 0.05 / report.family) for p in only(report).paths)


def test_hotspot_share_changes(tmp_path: Path) -> None:
    # GIVEN hotspots in both runs: in rerank, `score` went from 20% to 60% of the stage
    def spot(function: str, share: float) -> Hotspot:
        return Hotspot(
            stage="rerank", function=function, file="r.py", line=1, self_value=share * 100, total_value=share * 100,
            unit="ms", samples=10, share=share, backend="pyinstrument",
        )  # fmt: skip

    old, new = pipeline_runs(seed=11)
    old = old.model_copy(update={"hotspots": (spot("score", 0.2), spot("tokenize", 0.7), spot("sort", 0.1))})
    new = new.model_copy(update={"hotspots": (spot("score", 0.6), spot("tokenize", 0.3), spot("sort", 0.11))})
    # WHEN diffed
    report = diff(old, new, tmp_path)
    # THEN the two functions that moved are listed, largest move first; the one that barely moved is not
    assert [(h.function, round(h.change, 2)) for h in only(report).hotspots] == [("score", 0.4), ("tokenize", -0.4)]


def test_hotspot_missing_from_a_truncated_list_is_unknown_not_zero(tmp_path: Path) -> None:
    # GIVEN top-N hotspot lists that cover only part of the stage: `parse` is listed only in the new run
    def spot(function: str, share: float, line: int) -> Hotspot:
        return Hotspot(
            stage="rerank", function=function, file="r.py", line=line, self_value=share, total_value=share,
            unit="ms", samples=10, share=share, backend="pyinstrument",
        )  # fmt: skip

    old, new = pipeline_runs(seed=15)
    old = old.model_copy(update={"hotspots": (spot("score", 0.30, 10), spot("sort", 0.20, 20))})
    new = new.model_copy(update={"hotspots": (spot("score", 0.40, 12), spot("parse", 0.25, 30))})
    # WHEN diffed
    report = diff(old, new, tmp_path)
    # THEN only the function listed in both is compared (its line as sampled in the new run), not "0% -> 25%"
    assert [(h.function, h.line, round(h.change, 2)) for h in only(report).hotspots] == [("score", 12, 0.1)]


def test_target_pass_to_fail(tmp_path: Path) -> None:
    # GIVEN a p95 target of 1000 ms the baseline meets and the new run (generate x3) misses
    rng = np.random.default_rng(12)
    targets = Targets(p95_ms=1000)
    old = make_run({s: latencies(rng, 100, m) for s, m in STAGES.items()}, targets=targets)
    factors = {"generate": 3.0}
    slow = make_run({s: latencies(rng, 100, m, factors.get(s, 1.0)) for s, m in STAGES.items()}, targets=targets)
    # WHEN diffed
    report = diff(old, slow, tmp_path)
    # THEN the flip is reported, newly failing first
    flipped = report.targets[0]
    assert (flipped.name, flipped.old_verdict, flipped.new_verdict) == ("p95_ms", "PASS", "FAIL")


def test_memory_and_leak_figures_are_compared(tmp_path: Path) -> None:
    # GIVEN a saved leak file, and the same with a higher peak and a faster-growing heap
    old = load_run(RUNS / "rich_leak.json")
    assert old.memory is not None
    assert old.leak is not None
    assert old.leak.heap is not None
    heap = old.leak.heap.model_copy(update={"slope": 1.5, "ci_low": 1.4, "ci_high": 1.6})
    new = old.model_copy(
        update={
            "memory": old.memory.model_copy(update={"peak_rss": old.memory.peak_rss + 30.0}),
            "leak": old.leak.model_copy(update={"heap": heap}),
        }
    )
    # WHEN diffed
    report = diff(old, new, tmp_path)
    changes = {m.name: m for m in only(report).memory}
    # THEN the peak, per-stage figures and leak slopes (with their intervals) are there, old vs new
    assert changes["process peak RSS"].change == pytest.approx(30.0)
    assert changes["rerank: heap change per query"].change == 0
    slope = changes["leak slope, heap"]
    assert (slope.unit, slope.new, slope.new_ci) == ("MB/iter", 1.5, (1.4, 1.6))
    assert slope.old_ci is not None
    assert "leak slope, heap" in render_diff_markdown(report)


def test_run_and_leak_files_are_not_mixed(tmp_path: Path) -> None:
    # GIVEN a run file and a leak file of the same pipeline WHEN diffed THEN it is refused: kinds differ
    with pytest.raises(RunFileError, match="compare two of one kind"):
        diff(load_run(RUNS / "rich_memory.json"), load_run(RUNS / "rich_leak.json"), tmp_path)


def test_json_round_trip_has_no_nan(tmp_path: Path) -> None:
    # GIVEN a diff with too_few paths (nothing estimable)
    old, new = pipeline_runs(seed=13, n_old=3, n_new=40)
    report = diff(old, new, tmp_path)
    # WHEN written as JSON and read back
    text = render_diff_json(report)
    # THEN it is strict JSON (no NaN), versioned, and loads back equal
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["schema_version"] == 2
    assert DiffReport.model_validate_json(text) == report
    # AND every field it writes is one the published JSON Schema of the model declares
    schema = DiffReport.model_json_schema()
    assert set(data) == set(schema["properties"])
    group = schema["$defs"]["DiffGroup"]["properties"]
    assert all(set(g) == set(group) for g in data["groups"])


def test_terminal_render_colours_verdicts(tmp_path: Path) -> None:
    # GIVEN a diff with one regression
    old, new = pipeline_runs(seed=2, factors={"rerank": 1.25})
    report = diff(old, new, tmp_path)
    buffer = io.StringIO()
    # WHEN rendered on a colour terminal
    render_diff_terminal(report, Console(file=buffer, width=160, force_terminal=True, color_system="standard"))
    out = buffer.getvalue()
    # THEN the regression is in bold red and the headline names it
    assert re.search(r"\x1b\[1;31m\s*regression", out)
    assert "REGRESSION in rerank" in out


def _golden_report() -> DiffReport:
    old, new = pipeline_runs(seed=2, n_old=100, n_new=80, factors={"rerank": 1.25})
    new = new.model_copy(update={"environment": environment(load_avg_end=(5.0, 4.0, 3.0))})
    return diff_runs(old, new, baseline_path=Path("base.json"), new_path=Path("new.json"))


def test_markdown_matches_golden() -> None:
    # GIVEN a fixed diff (seeded data) WHEN rendered as Markdown THEN it is byte for byte the reviewed file
    check_golden("diff_shift.md", render_diff_markdown(_golden_report()))


def test_terminal_matches_golden() -> None:
    # GIVEN the same diff WHEN rendered at a fixed width without colour THEN it is the reviewed text
    buffer = io.StringIO()
    render_diff_terminal(_golden_report(), Console(file=buffer, width=140, no_color=True, highlight=False))
    check_golden("diff_shift.terminal.txt", buffer.getvalue())


def _with_cpu(run: RunFile, cpu: dict[str, npt.NDArray[np.float64]], *, contended: bool) -> RunFile:
    """The run with per-stage CPU columns (cpu_time on) and a machine section."""
    from ragperf.schema.machine import MachineBlock, MachineLoad
    from ragperf.schema.queries import Column

    spans = {path: Column.of(values) for path, values in cpu.items()}
    total = Column.of(np.sum(list(cpu.values()), axis=0))  # the worker's CPU time per query
    table = run.queries.model_copy(update={"cpu_spans": spans, "cpu_ms": total})
    block = MachineBlock(first=0, n=table.n, busy_cpus=4.0 if contended else 1.0, others_cpus=3.0, run_queue=5)
    machine = MachineLoad(
        cpu_count=4,
        others_cpus_mean=3.0 if contended else 0.0,
        others_cpus_max=3.0,
        saturated_share=1.0 if contended else 0.0,
        verdict="contended" if contended else "quiet",
        blocks=(block,),
    )
    return run.model_copy(update={"queries": table, "machine": machine})


def test_slower_wall_time_with_unchanged_cpu_on_a_contended_machine_is_contention(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    # GIVEN a CPU-bound stage (its CPU time is its wall time) and a new run 30% slower in wall time
    old_wall, new_wall = latencies(rng, 100, 40.0), latencies(rng, 100, 40.0, 1.3)
    old = make_run({"encode": old_wall})
    new = make_run({"encode": new_wall})
    same_work = latencies(rng, 100, 39.0)
    # WHEN the CPU time did not grow and the new run's machine was contended
    report = diff(
        _with_cpu(old, {"encode": old_wall}, contended=False),
        _with_cpu(new, {"encode": same_work}, contended=True),
        tmp_path,
    )
    (encode,) = only(report).stages
    # THEN it is machine contention, not a regression: the gate stays open, and the diff says why
    assert encode.verdict == "contention"
    assert encode.cpu_change is not None
    assert abs(encode.cpu_change) < 0.1
    assert report.regressions == ()
    assert set(report.contention) == {"encode", "total"}
    assert any(w.kind == "contention" for w in report.warnings)
    # AND when the CPU time grew with the wall time, it stays a regression, contended machine or not
    more_work = new_wall.copy()
    worse = diff(
        _with_cpu(old, {"encode": old_wall}, contended=False),
        _with_cpu(new, {"encode": more_work}, contended=True),
        tmp_path,
    )
    assert only(worse).stages[0].verdict == "regression"
    # AND on a quiet machine, unchanged CPU time does not excuse a slower wall time (a new wait, say)
    quiet = diff(
        _with_cpu(old, {"encode": old_wall}, contended=False),
        _with_cpu(new, {"encode": same_work}, contended=False),
        tmp_path,
    )
    assert only(quiet).stages[0].verdict == "regression"


def _replicated(seed: int, factor: float, offsets: list[float]) -> RunFile:
    """A run of 5 processes of 40 queries each, process k's queries slowed by offsets[k] (its layout, its time)."""
    rng = np.random.default_rng(seed)
    per = 40
    samples = {
        s: np.concatenate([latencies(rng, per, m, factor * (1 + o)) for o in offsets]) for s, m in STAGES.items()
    }
    processes = tuple(ProcessRun(first=k * per, n=per, setup_ms=1.0) for k in range(len(offsets)))
    return make_run(samples, processes=processes)


def test_replicated_runs_are_judged_between_processes(tmp_path: Path) -> None:
    # GIVEN two 5-process runs of one code, the new one drifting: its last two processes 15% slower
    old = _replicated(1, 1.0, [0.0, 0.01, -0.01, 0.0, 0.01])
    drifted = _replicated(2, 1.0, [0.0, 0.0, 0.01, 0.15, 0.15])
    # WHEN diffed
    report = diff(old, drifted, tmp_path)
    # THEN every path is judged on the processes' medians, and the drift is no regression
    assert {p.evidence.kind for p in only(report).paths} == {"replicated"}
    assert {p.evidence.processes for p in only(report).paths} == {(5, 5)}
    assert report.regressions == ()
    # AND the same queries, taken as one process each, call the drift a regression and say what to do
    flat = [run.model_copy(update={"processes": ()}) for run in (old, drifted)]
    single = diff(*flat, tmp_path)
    assert single.regressions
    text = render_diff_markdown(single)
    assert "run each side with --processes 4" in text
    assert "--processes 4" not in render_diff_markdown(report)


def test_a_slowdown_every_process_shows_is_a_replicated_regression(tmp_path: Path) -> None:
    # GIVEN rerank 30% slower in every process of the new run
    old = _replicated(3, 1.0, [0.0, 0.01, -0.01, 0.0, 0.01])
    new = _replicated(4, 1.0, [0.01, 0.0, 0.0, -0.01, 0.0])
    slow = {s: v * (1.3 if s == "rerank" else 1.0) for s, v in ((p, new.queries.span(p)) for p in STAGES)}
    new = make_run(slow, processes=new.processes)
    # WHEN diffed THEN rerank is a regression, with Welch's test named
    report = diff(old, new, tmp_path)
    assert "rerank" in report.regressions
    stream = io.StringIO()
    render_diff_terminal(report, Console(file=stream, width=200))
    assert "Welch's t test on the processes' medians" in stream.getvalue()
