"""The cProfile plugin passes ragperf's backend contract, installed as a separate distribution."""

from __future__ import annotations

import pytest
from ragperf.backends.registry import available_backends
from ragperf.schema.run import OUTSIDE_STAGES
from ragperf.testing import check_backend_class, check_backend_end_to_end

from ragperf_cprofile.backend import CProfileBackend, attribute_stats


def test_registered_through_the_entry_point_group():
    # GIVEN the plugin is installed WHEN ragperf discovers backends
    entry = available_backends()["cprofile"]
    # THEN it comes from this distribution, and loads the class
    assert entry.distribution == "ragperf-cprofile"
    assert entry.load() is CProfileBackend


def test_class_contract():
    check_backend_class(CProfileBackend)


def test_end_to_end_contract(tmp_path):
    # GIVEN the contract pipeline WHEN profiled by cProfile in a real worker
    run = check_backend_end_to_end("cprofile", tmp_path)
    # THEN stage wait's time is time.sleep, labelled waiting, and the .prof file is named
    wait = max((h for h in run.hotspots if h.stage == "wait"), key=lambda h: h.self_value)
    assert (wait.function, wait.waiting) == ("time.sleep", True)
    assert run.artifacts[0].open_command is not None
    assert run.artifacts[0].open_command.startswith("python -m pstats")


def test_shared_function_is_split_by_caller_edge_time():
    # GIVEN helper() called from stage a's code for 3 s and stage b's for 1 s (pstats layout)
    tramp_a, tramp_b = ("<ragperf-stage:a>", 1, "ragperf_stage__a"), ("<ragperf-stage:b>", 1, "ragperf_stage__b")
    fa, fb, helper = ("app.py", 1, "fa"), ("app.py", 5, "fb"), ("app.py", 9, "helper")
    stats = {
        tramp_a: (1, 1, 0.0, 3.0, {}),
        tramp_b: (1, 1, 0.0, 1.0, {}),
        fa: (1, 1, 0.0, 3.0, {tramp_a: (1, 1, 0.0, 3.0)}),
        fb: (1, 1, 0.0, 1.0, {tramp_b: (1, 1, 0.0, 1.0)}),
        helper: (2, 2, 4.0, 4.0, {fa: (1, 1, 3.0, 3.0), fb: (1, 1, 1.0, 1.0)}),
        ("main.py", 1, "main"): (1, 1, 0.5, 4.5, {}),
    }
    spots = {(h.stage, h.function): h for h in attribute_stats(stats, "cprofile")}
    # THEN helper's 4 s of self time go 3:1 to the stages, and main's to outside stages
    assert spots[("a", "helper")].self_value == pytest.approx(3000.0)
    assert spots[("b", "helper")].self_value == pytest.approx(1000.0)
    assert spots[(OUTSIDE_STAGES, "main")].self_value == pytest.approx(500.0)
    assert ("a", "ragperf_stage__a") not in spots
