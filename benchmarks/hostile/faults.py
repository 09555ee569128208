"""A pipeline that hangs, raises outside its stages or leaves work running: no hang, nothing lost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostile.cases import Case, Keeps

if TYPE_CHECKING:
    from hostile.workspace import Workspace

TEXT = "<s>[INST] boom [/INST]"


def cases(ws: Workspace) -> list[Case]:
    # (name, knobs, [run] lines, exit codes, queries kept)
    plans: list[tuple[str, dict[str, object], str, frozenset[int], int | None]] = [
        ("setup hangs, 1 s limit", {"setup_hangs": True}, "setup_timeout_s = 1", frozenset({3}), None),
        ("setup raises", {"setup_raises": True, "text": TEXT}, "", frozenset({3}), None),
        ("a query hangs, 1 s limit", {"hang_on": "q2"}, "query_timeout_s = 1", frozenset({3}), 2),
        ("teardown raises", {"teardown_raises": True, "text": TEXT}, "", frozenset({3}), 3),
        ("teardown hangs, 1 s limit", {"teardown_hangs": True}, "teardown_timeout_s = 1", frozenset({3}), 3),
        ("a thread left running", {"stray_thread": True}, "", frozenset({0}), 3),
        ("an infinite metric", {"metric": "inf"}, "", frozenset({0}), 3),
        ("a NaN metric", {"metric": "nan"}, "", frozenset({0}), 3),
        ("a negative metric", {"metric": -1.0}, "", frozenset({0}), 3),
        ("every query fails", {"raise_on": "all", "text": TEXT}, "", frozenset({3}), 3),
        ("one query fails", {"raise_on": "q1", "text": TEXT}, "", frozenset({3}), 3),
    ]
    out: list[Case] = []
    for name, knobs, run, exits, kept in plans:
        config = ws.config(run=run, **knobs)
        output = ws.fresh("fault").with_suffix(".json")
        argv = ("run", str(config), "-n", "3", "-o", str(output), "--no-progress")
        keeps = None if kept is None else Keeps(output, kept)
        out.append(Case("fault", name, argv, exits, keeps=keeps, pid_file=ws.pid_file(config), timeout=60))
        for backend in ("pyinstrument", "memray"):
            output = ws.fresh("fault").with_suffix(".json")
            argv = ("run", str(config), "-n", "3", "-o", str(output), "--no-progress", "-b", backend)
            keeps = None if kept is None else Keeps(output, kept)
            out.append(Case("fault", f"{name} (-b {backend})", argv, exits, keeps=keeps, pid_file=ws.pid_file(config)))
    failing = ws.config(raise_on="all")
    fast = ws.config()
    fail_fast = ws.fresh("fault").with_suffix(".json")
    out.append(
        Case(
            "fault",
            "--fail-fast",
            ("run", str(failing), "-n", "3", "-o", str(fail_fast), "--no-progress", "--fail-fast"),
            frozenset({3}),
            keeps=Keeps(fail_fast, 1),
        )
    )
    gate = ws.fresh("fault").with_suffix(".json")
    out.append(
        Case(
            "fault",
            "--gate on a passing run",
            ("run", str(fast), "-n", "3", "-o", str(gate), "--gate", "--no-progress"),
            frozenset({0}),
        )
    )
    return out
