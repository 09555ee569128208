"""`ragperf diff` as a CI gate on hostile pairs and options: a failing new run, runs that cannot be compared."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hostile.cases import USAGE, Case

if TYPE_CHECKING:
    from hostile.workspace import Workspace


def cases(ws: Workspace) -> list[Case]:
    base = ws.saved_run("diff-base", "-n", "20")
    failing = ws.saved_run("diff-failing", "-n", "20", raise_on="all")
    leak = ws.saved_run("diff-leak", "-n", "6", "--warmup", "0", command="leak")
    out = [
        Case("diff", "every new query fails", ("diff", str(base), str(failing)), frozenset({1})),
        Case("diff", "a run against a leak check", ("diff", str(base), str(leak))),
    ]
    for option in (
        ("-t", "abc"),
        ("-t", "-5%"),
        ("-t", "nan"),
        ("-t", "p77=5%"),
        ("--alpha", "0"),
        ("--alpha", "2"),
        ("--alpha", "nan"),
        ("-f", "csv"),
    ):
        out.append(Case("diff", f"diff {' '.join(option)}", ("diff", str(base), str(base), *option), USAGE))
    return out
