"""Output paths no file can be written to, for every command that writes one: one line, exit 2, before work."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hostile.cases import Case

if TYPE_CHECKING:
    from pathlib import Path

    from hostile.workspace import Workspace


def _bad_paths(ws: Workspace) -> dict[str, str]:
    folder = ws.fresh("outputs")
    folder.mkdir()
    (folder / "afile").write_text("x", encoding="utf-8")
    (folder / "adir").mkdir()
    readonly = folder / "readonly"
    readonly.mkdir()
    return {
        "empty": "",
        "a folder": str(folder / "adir"),
        "parent is a file": str(folder / "afile" / "out.json"),
        "an artifacts name": str(folder / "x.artifacts"),
        "read-only filesystem": "/proc/ragperf-out.json",
        "/dev/null": "/dev/null",
        "a FIFO": _fifo(folder),
        "too long a name": str(folder / ("n" * 300 + ".json")),
    }


def _fifo(folder: Path) -> str:
    path = folder / "fifo.json"
    os.mkfifo(path)
    return str(path)


def cases(ws: Workspace) -> list[Case]:
    config = ws.config()
    run = ws.saved_run("outputs-base")
    leak_config = ws.config()
    out: list[Case] = []
    for name, path in _bad_paths(ws).items():
        writes_report = name in {"/dev/null", "a FIFO"}  # a report may stream into a device or pipe
        commands = {
            "run": ("run", str(config), "-n", "1", "-o", path, "--no-progress"),
            "leak": ("leak", str(leak_config), "-n", "5", "--warmup", "0", "-o", path, "--no-progress"),
            "profile": (
                "profile",
                str(config),
                "-n",
                "1",
                "--memory-queries",
                "0",
                "--leak-iterations",
                "0",
                "-o",
                path,
                "--no-progress",
            ),
            "report": ("report", str(run), "-f", "md", "-o", path),
            "diff": ("diff", str(run), str(run), "-f", "md", "-o", path),
        }
        for command, argv in commands.items():
            reports = command in {"report", "diff", "profile"}
            if name == "a FIFO" and reports:
                continue  # nobody reads the pipe here: writing into it would block, as it does for `cat > fifo`
            exits = frozenset({0}) if writes_report and reports else frozenset({2})
            out.append(Case("outputs", f"{command} -o {name}", argv, exits, timeout=60))
    out.append(Case("outputs", "report over its own input", ("report", str(run), "-o", str(run))))
    out.append(Case("outputs", "report to an unknown suffix", ("report", str(run), "-o", str(ws.fresh("r")) + ".csv")))
    out.append(Case("outputs", "diff over its input", ("diff", str(run), str(run), "-o", str(run))))
    return out
