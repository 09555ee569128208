"""Tests for `ragperf diff` on load files built in memory from known latency distributions (no child processes)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from golden import check_golden
from rich.console import Console

from ragperf.analysis.diff import diff_runs
from ragperf.config import Targets
from ragperf.errors import RunFileError
from ragperf.load.findmax import rate_verdicts
from ragperf.load.histogram import Histogram
from ragperf.load.summary import summarise_step
from ragperf.renderers.json_renderer import render_diff_json
from ragperf.renderers.markdown import render_diff_markdown
from ragperf.renderers.terminal import render_diff_terminal
from ragperf.schema.diff import DiffReport
from ragperf.schema.load import HistogramData, LoadReport, LoadStage, LoadStep
from ragperf.schema.queries import QueryTable
from ragperf.schema.run import BackendInfo, Environment, RunFile, StageInfo

STAGES = {"embed": 8.0, "retrieve": 20.0, "generate": 60.0}
Samples = dict[str, npt.NDArray[np.float64]]


def latencies(rng: np.random.Generator, n: int, median: float, factor: float = 1.0) -> npt.NDArray[np.float64]:
    """Log-normal stage latencies (ms) with 3% of queries slowed x2-x5, as real steps have."""
    x = rng.lognormal(math.log(median), 0.15, n)
    slow = rng.random(n) < 0.03
    x[slow] *= rng.uniform(2.0, 5.0, int(slow.sum()))
    return x * factor


def _hist(values: npt.NDArray[np.float64]) -> Histogram:
    hist = Histogram()
    for value in values:
        hist.record(int(value * 1e6))
    return hist


def _stage(path: str, hist: Histogram) -> LoadStage:
    def q(p: float) -> float | None:
        value = hist.quantile(p)
        return None if value is None else value / 1e6

    mean = hist.mean()
    return LoadStage(
        path=path,
        n=hist.count,
        n_errors=0,
        mean=None if mean is None else mean / 1e6,
        p50=q(0.5),
        p95=q(0.95),
        p99=q(0.99),
        max=hist.max / 1e6,
        target_ms=None,
        verdict="n/a",
    )


def make_step(
    rate: float,
    samples: Samples,
    *,
    index: int = 0,
    duration: float = 10.0,
    in_time: float = 1.0,
    errors: int = 0,
    holds: bool = True,
    sustained: bool = True,
) -> LoadStep:
    """A step whose queries took `samples` (ms per stage); `in_time` is the share of arrivals finished in time."""
    hists = {path: _hist(values) for path, values in samples.items()}
    total = _hist(np.sum(list(samples.values()), axis=0))
    offered = round(rate * duration)
    completed = min(offered, len(next(iter(samples.values()))))
    finished = round(offered * in_time)
    return LoadStep(
        step=index,
        offered_qps=rate,
        duration_s=duration,
        elapsed_s=duration,
        offered=offered,
        completed=completed,
        completed_in_time=finished,
        errors=errors,
        unserved=0,
        achieved_qps=finished / duration,
        error_rate=errors / completed,
        goodput_qps=(finished - errors) / duration,
        sustained=sustained,
        holds_targets=holds,
        latency_growth=1.0,
        latency=_stage("total", total),
        service=_stage("service", total),
        schedule_p50_ms=0.1,
        schedule_p99_ms=0.5,
        schedule_max_ms=1.0,
        stages=tuple(_stage(path, hist) for path, hist in hists.items()),
        ttft=None,
        windows=(),
        histograms={
            "latency": HistogramData(**total.to_dict()),  # type: ignore[arg-type]
            "service": HistogramData(**total.to_dict()),  # type: ignore[arg-type]
            **{f"stage:{p}": HistogramData(**h.to_dict()) for p, h in hists.items()},  # type: ignore[arg-type]
        },
    )


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


def make_load(steps: list[LoadStep], *, mode: str = "ramp", targets: Targets | None = None, **changes: Any) -> RunFile:
    """A load file (kind="load") holding these steps, with verdicts computed as `ragperf load` does."""
    targets = targets or Targets()
    holding, peak, verdicts = rate_verdicts(steps, targets.sustained_qps, targets.peak_qps)
    infos = tuple(
        StageInfo(path=p, parent=None, kind="other", call=f"m:{p}", target_ms=None, enabled=True) for p in STAGES
    )
    load_fields: dict[str, Any] = {
        "engine": "ragperf",
        "mode": mode,
        "arrival": "constant",
        "workers": 2,
        "p95_target_ms": 500.0,
        "error_budget": 0.01,
        "steps": tuple(steps),
        "max_rate_qps": holding,
        "peak_rate_qps": peak,
        "first_rising_stage": None,
        "first_rising_qps": None,
        "verdicts": verdicts,
    }
    load = LoadReport(**{**load_fields, **changes.pop("load", {})})
    fields: dict[str, Any] = {
        "kind": "load",
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
        "warmup": 2,
        "requested": sum(s.offered for s in steps),
        "stages": infos,
        "queries": QueryTable.empty(),
        "summary": summarise_step(steps[-1], infos, targets),
        "load": load,
    }
    return RunFile(**{**fields, **changes})


def pipeline(rng: np.random.Generator, n: int, factors: dict[str, float] | None = None) -> Samples:
    return {s: latencies(rng, n, m, (factors or {}).get(s, 1.0)) for s, m in STAGES.items()}


def diff(old: RunFile, new: RunFile, **kwargs: Any) -> DiffReport:
    return diff_runs(old, new, baseline_path=Path("old.json"), new_path=Path("new.json"), **kwargs)


def two_rates(seed: int, n: int = 300, factors: dict[str, float] | None = None) -> tuple[RunFile, RunFile]:
    rng = np.random.default_rng(seed)
    old = make_load([make_step(20.0, pipeline(rng, n)), make_step(40.0, pipeline(rng, n), index=1)])
    new = make_load([make_step(20.0, pipeline(rng, n, factors)), make_step(40.0, pipeline(rng, n, factors), index=1)])
    return old, new


def test_aa_load_files_give_no_regression() -> None:
    # GIVEN two load files whose steps are drawn from the same distributions, at the same two rates
    old, new = two_rates(seed=1)
    # WHEN diffed
    report = diff(old, new)
    # THEN nothing regressed, and each rate is a group of its own, labelled by its rate
    assert report.regressions == ()
    assert report.kind == "load"
    assert [g.label for g in report.groups] == ["20 qps", "40 qps"]
    assert [g.rate.offered_qps for g in report.groups if g.rate is not None] == [20.0, 40.0]
    # AND one family covers every check: 4 paths and 3 figures at each of the 2 rates
    assert report.family == 2 * (4 + 3)


def test_slowed_stage_is_named_at_every_rate() -> None:
    # GIVEN the retrieve stage 30% slower in the new file
    old, new = two_rates(seed=2, factors={"retrieve": 1.3})
    # WHEN diffed
    report = diff(old, new)
    # THEN retrieve regressed at both rates; the other stages did not
    assert "retrieve @ 20 qps" in report.regressions
    assert "retrieve @ 40 qps" in report.regressions
    assert not any(name.startswith(("embed", "generate")) for name in report.regressions)
    retrieve = next(s for s in report.groups[0].stages if s.path == "retrieve")
    assert retrieve.evidence.shift == pytest.approx(0.30, abs=0.05)
    assert retrieve.evidence.samples == "histogram"
    # AND the percentiles shown are the load file's own (histogram) percentiles
    p95 = next(m for m in retrieve.metrics if m.metric == "p95")
    assert p95.new == next(s.p95 for s in new.load.steps[0].stages if s.path == "retrieve")  # type: ignore[union-attr]


def test_tail_only_slowdown_needs_the_p95_gate() -> None:
    # GIVEN a generate stage whose slowest 8% of queries became 3x slower, the median untouched
    rng = np.random.default_rng(3)
    old_samples, new_samples = pipeline(rng, 2000), pipeline(rng, 2000)
    tail = new_samples["generate"] > np.quantile(new_samples["generate"], 0.92)
    new_samples["generate"][tail] *= 3.0
    old, new = make_load([make_step(50.0, old_samples)]), make_load([make_step(50.0, new_samples)])
    # WHEN diffed on the p50 alone THEN generate is not a regression
    assert "generate @ 50 qps" not in diff(old, new).regressions
    # WHEN the p95 is gated at 10% THEN it is, with an interval on the p95 change that excludes 0
    report = diff(old, new, metric_thresholds={"p95": 0.10})
    assert "generate @ 50 qps" in report.regressions
    generate = next(s for s in report.groups[0].stages if s.path == "generate")
    p95 = next(m for m in generate.metrics if m.metric == "p95")
    assert p95.verdict == "regression"
    assert p95.ci is not None
    assert p95.ci[0] > 0.10
    # AND an unchanged stage's p95 check is not flagged
    embed = next(s for s in report.groups[0].stages if s.path == "embed")
    assert next(m for m in embed.metrics if m.metric == "p95").verdict in {"unchanged", "inconclusive"}


def test_throughput_and_errors_regress() -> None:
    # GIVEN the same latency, but the new step finished only 80% of its arrivals in time, with 5% errors
    rng = np.random.default_rng(4)
    old = make_load([make_step(40.0, pipeline(rng, 400))])
    new = make_load([make_step(40.0, pipeline(rng, 400), in_time=0.8, errors=20, sustained=False, holds=False)])
    # WHEN diffed
    report = diff(old, new)
    # THEN the achieved rate, the goodput and the error rate (over its 1% budget) are regressions at 40 qps
    for name in ("achieved qps @ 40 qps", "goodput qps @ 40 qps", "error rate @ 40 qps"):
        assert name in report.regressions


def _find_max(rng: np.random.Generator, holds: dict[float, bool]) -> RunFile:
    steps = [
        make_step(rate, pipeline(rng, 200), index=i, holds=ok, sustained=ok)
        for i, (rate, ok) in enumerate(holds.items())
    ]
    return make_load(steps, mode="find-max", targets=Targets(sustained_qps=80.0))


def test_capacity_drop_is_a_regression_only_when_measured() -> None:
    rng = np.random.default_rng(5)
    # GIVEN a baseline holding 80 qps (failing at 160) and a new file failing at 80
    old = _find_max(rng, {20.0: True, 40.0: True, 80.0: True, 160.0: False})
    new = _find_max(rng, {20.0: True, 40.0: True, 80.0: False})
    # WHEN diffed
    report = diff(old, new)
    # THEN the highest rate holding the targets and the peak sustained rate regressed, and so did the
    # sustained_qps target (80 qps held, now not)
    assert "max rate holding targets" in report.regressions
    assert "peak sustained rate" in report.regressions
    assert "sustained_qps target" in report.regressions
    assert report.only_in_baseline_groups == ("160 qps",)
    # GIVEN instead a new file that stopped at 40 qps, never trying 80
    stopped = _find_max(rng, {20.0: True, 40.0: True})
    # WHEN diffed THEN the lower maximum is inconclusive, not a regression
    report = diff(old, stopped)
    assert "max rate holding targets" in report.inconclusive
    assert "max rate holding targets" not in report.regressions


def test_no_rate_in_common_still_compares_capacity() -> None:
    # GIVEN two find-max searches that tried different rates, the new one holding more
    rng = np.random.default_rng(10)
    old = _find_max(rng, {30.0: True, 60.0: False})
    new = _find_max(rng, {25.0: True, 50.0: True, 100.0: False})
    # WHEN diffed
    report = diff(old, new)
    # THEN no step is compared but the capacity is: new held 50 qps, a rate the baseline never tried (it held
    # 30 and failed at 60), so the rise is inconclusive rather than an improvement
    assert report.groups == ()
    assert report.only_in_baseline_groups == ("30 qps", "60 qps")
    capacity = {f.name: f for f in report.capacity}
    assert capacity["max rate holding targets"].old == 30.0
    assert capacity["max rate holding targets"].new == 50.0
    assert capacity["max rate holding targets"].verdict == "inconclusive"  # the baseline never tried 50
    assert report.regressions == ()
    # AND the headline says no rate was in common
    buffer = io.StringIO()
    render_diff_terminal(report, Console(file=buffer, width=160, no_color=True))
    assert "no offered rate in common" in buffer.getvalue()


def test_a_stage_added_is_listed_not_compared() -> None:
    # GIVEN a new file whose pipeline gained a stage
    rng = np.random.default_rng(11)
    old = make_load([make_step(40.0, pipeline(rng, 200))])
    new = make_load([make_step(40.0, {**pipeline(rng, 200), "rerank": latencies(rng, 200, 12.0)})])
    # WHEN diffed THEN it is listed as only in new, and the stages both had are compared
    report = diff(old, new)
    assert report.only_in_new == ("rerank",)
    assert [s.path for s in report.groups[0].stages] == list(STAGES)


def test_fixed_rate_files_compare_no_capacity() -> None:
    # GIVEN two single-rate files, the new one not holding its targets
    rng = np.random.default_rng(6)
    old = make_load([make_step(40.0, pipeline(rng, 300))], mode="fixed")
    new = make_load([make_step(40.0, pipeline(rng, 300), holds=False)], mode="fixed")
    # WHEN diffed THEN no capacity is judged from one rate; the step still reports the flip
    report = diff(old, new)
    assert report.capacity == ()
    step = report.groups[0].rate
    assert step is not None
    assert step.old_holds_targets
    assert not step.new_holds_targets


def test_mixing_kinds_and_empty_load_files_are_refused() -> None:
    # GIVEN a load file and a run file (the load file's kind relabelled)
    old, new = two_rates(seed=7)
    run = new.model_copy(update={"kind": "run", "load": None})
    # WHEN diffed either way THEN it is refused with the fix
    with pytest.raises(RunFileError, match="a run file, but the baseline is a load file; diff compares two load"):
        diff(old, run)
    with pytest.raises(RunFileError, match="a load file, but the baseline is a run file"):
        diff(run, new)
    # AND a load file without any step is refused, naming the fix
    with pytest.raises(RunFileError, match="without any rate step"):
        diff(old, new.model_copy(update={"load": None}))


def test_load_setup_and_machine_load_warnings() -> None:
    # GIVEN the new file made with more workers, on a machine twice as loaded at the start
    old, new = two_rates(seed=8)
    assert new.load is not None
    new = new.model_copy(
        update={
            "load": new.load.model_copy(update={"workers": 4}),
            "environment": environment(load_avg_start=(1.6, 1.0, 0.5)),
        }
    )
    # WHEN diffed THEN both are warned about
    messages = [w.message for w in diff(old, new).warnings]
    assert "workers differs: baseline 2, new 4" in messages
    assert any(m.startswith("load average at start differs: baseline 0.20, new 1.60") for m in messages)


def test_json_and_renderers() -> None:
    # GIVEN a diff with a regression
    old, new = two_rates(seed=9, factors={"generate": 1.5})
    report = diff(old, new, metric_thresholds={"p99": 0.2})
    # WHEN written as JSON THEN it is strict JSON, the same version, and loads back equal
    text = render_diff_json(report)
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["schema_version"] == 2
    assert [g["label"] for g in data["groups"]] == ["20 qps", "40 qps"]
    assert DiffReport.model_validate_json(text) == report
    # WHEN rendered THEN the terminal and Markdown views name the stage and the rate
    buffer = io.StringIO()
    render_diff_terminal(report, Console(file=buffer, width=160, no_color=True))
    terminal = buffer.getvalue()
    assert "REGRESSION in generate @ 20 qps (+" in terminal
    assert "40 qps offered: sustained yes → yes" in terminal
    markdown = render_diff_markdown(report)
    assert markdown.startswith("## ragperf diff (load): demo")
    assert "| generate | 300 / 300 |" in markdown
    assert "### Capacity" in markdown


FIVE = {"rewrite": 3.0, "embed": 8.0, "retrieve": 20.0, "rerank": 12.0, "generate": 60.0}


def test_one_family_covers_every_rate() -> None:
    # GIVEN three rates of a five-stage pipeline, nothing changed
    rng = np.random.default_rng(12)

    def steps() -> list[LoadStep]:
        return [
            make_step(rate, {s: latencies(rng, 300, m) for s, m in FIVE.items()}, index=i)
            for i, rate in enumerate((10.0, 20.0, 40.0))
        ]

    old, new = make_load(steps()), make_load(steps())
    # WHEN diffed, with and without a p95 gate
    report = diff(old, new)
    gated = diff(old, new, metric_thresholds={"p95": 0.2})
    # THEN the family is, as documented, every tested path (5 stages and the total at 3 rates) times its
    # checks, plus the 3 throughput figures of each rate: never a per-rate or per-stage family
    assert report.family == 3 * (5 + 1) + 3 * 3 == 27
    assert gated.family == 3 * (5 + 1) * 2 + 3 * 3 == 45
    # AND every check of every rate is read at that one level
    for group in report.groups:
        for path in group.paths:
            assert path.evidence.ci_level == pytest.approx(1 - 0.05 / 27)
            assert path.evidence.p_value is not None
            assert path.evidence.p_adjusted == pytest.approx(min(1.0, path.evidence.p_value * 27))
        for figure in group.figures:
            if figure.p_value is not None:
                assert figure.p_adjusted == pytest.approx(min(1.0, figure.p_value * 27))


def test_sub_millisecond_stage_under_load_needs_the_floor() -> None:
    # GIVEN a 0.3 ms stage 25% slower under load (0.075 ms), 2000 queries a step
    rng = np.random.default_rng(13)
    medians = {"parse": 0.3, "generate": 60.0}
    old = make_load([make_step(50.0, {s: latencies(rng, 2000, m) for s, m in medians.items()})])
    new = make_load(
        [make_step(50.0, {s: latencies(rng, 2000, m, {"parse": 1.25}.get(s, 1.0)) for s, m in medians.items()})]
    )
    # WHEN diffed THEN the tiny change is under the 0.25 ms floor; with the floor off it regresses
    assert "parse @ 50 qps" not in diff(old, new).regressions
    assert "parse @ 50 qps" in diff(old, new, min_ms=0.0).regressions


def _golden_report() -> DiffReport:
    rng = np.random.default_rng(14)
    old = _find_max(rng, {20.0: True, 40.0: True, 80.0: True, 160.0: False})
    slow = {"generate": 1.4}
    steps = [
        make_step(rate, pipeline(rng, 200, slow), index=i, holds=ok, sustained=ok)
        for i, (rate, ok) in enumerate({20.0: True, 40.0: True, 80.0: False}.items())
    ]
    new = make_load(steps, mode="find-max", targets=Targets(sustained_qps=80.0))
    return diff_runs(old, new, baseline_path=Path("base.json"), new_path=Path("new.json"))


def test_load_markdown_matches_golden() -> None:
    # GIVEN a fixed load diff (seeded data) WHEN rendered as Markdown THEN it is byte for byte the reviewed file
    check_golden("diff_load.md", render_diff_markdown(_golden_report()))


def test_load_terminal_matches_golden() -> None:
    # GIVEN the same diff WHEN rendered at a fixed width without colour THEN it is the reviewed text
    buffer = io.StringIO()
    render_diff_terminal(_golden_report(), Console(file=buffer, width=140, no_color=True, highlight=False))
    check_golden("diff_load.terminal.txt", buffer.getvalue())
