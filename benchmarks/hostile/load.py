"""`ragperf load` options no load test can run with: one line, exit 2, at once; extreme rates end in time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostile.cases import USAGE, Case

if TYPE_CHECKING:
    from hostile.workspace import Workspace

BAD = [
    ("--qps inf", ("--qps", "inf", "--duration", "1")),
    ("--qps nan", ("--qps", "nan", "--duration", "1")),
    ("--qps 0", ("--qps", "0", "--duration", "1")),
    ("--qps -1", ("--qps", "-1", "--duration", "1")),
    ("--duration 0", ("--qps", "5", "--duration", "0")),
    ("--duration inf", ("--qps", "5", "--duration", "inf")),
    ("--duration nan", ("--qps", "5", "--duration", "nan")),
    ("--workers 0", ("--qps", "5", "--duration", "1", "--workers", "0")),
    ("--workers 100000", ("--qps", "5", "--duration", "1", "--workers", "100000")),
    ("--ramp backwards", ("--ramp", "10:1:1", "--duration", "1")),
    ("--ramp not numbers", ("--ramp", "a:b:c", "--duration", "1")),
    ("--ramp zero step", ("--ramp", "1:10:0", "--duration", "1")),
    ("-c 0", ("--qps", "5", "--duration", "1", "-c", "0")),
]


def cases(ws: Workspace) -> list[Case]:
    config = ws.config()
    out = [
        Case(
            "load",
            name,
            ("load", str(config), *args, "-o", str(ws.fresh("load").with_suffix(".json"))),
            USAGE,
            timeout=60,
        )
        for name, args in BAD
    ]
    # Far beyond capacity: the step must still end at its duration and write what it measured.
    huge = ws.fresh("load").with_suffix(".json")
    out.append(
        Case(
            "load",
            "--qps 1e9 for 1 s",
            ("load", str(config), "--qps", "1e9", "--duration", "1", "-o", str(huge)),
            frozenset({0, 1, 2}),
            timeout=90,
        )
    )
    return out
