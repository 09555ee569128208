"""The folder the cases run in: a pipeline whose every misbehaviour is a knob, its configs, saved runs."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

PIPELINE = """
import math, os, threading, time
import ragperf

OPTIONS = {}

def setup(options):
    OPTIONS.update(options)
    if "pid_file" in options:
        with open(options["pid_file"], "w") as handle:
            handle.write(str(os.getpid()))
    if options.get("setup_hangs"):
        time.sleep(3600)
    if options.get("setup_raises"):
        raise RuntimeError(options.get("text", "setup failed"))
    return None

def teardown(ctx):
    if OPTIONS.get("teardown_raises"):
        raise RuntimeError(OPTIONS.get("text", "teardown failed"))
    if OPTIONS.get("teardown_hangs"):
        time.sleep(3600)

def spin(ms):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass

def a(state):
    text = OPTIONS.get("text", "")
    if OPTIONS.get("raise_on") in ("all", state.query):
        raise ValueError(text or "stage failed")
    if OPTIONS.get("note"):
        ragperf.note(text)
    if OPTIONS.get("span"):
        with ragperf.stage(text):
            spin(1)
    if OPTIONS.get("metric") is not None:
        ragperf.metric("m", float(OPTIONS["metric"]))
    if OPTIONS.get("hang_on") == state.query:
        time.sleep(3600)
    if OPTIONS.get("stray_thread"):
        OPTIONS["stray_thread"] = False
        threading.Thread(target=time.sleep, args=(3600,), name="stray").start()
    spin(OPTIONS.get("ms", 2))
    return 1

def b(state):
    spin(1)
    return 2
"""

BASE = """\
[pipeline]
name = {name}
setup = "hostile_pipe:setup"
teardown = "hostile_pipe:teardown"
queries = {queries}
[pipeline.options]
{options}
[run]
warmup = 0
queries = 3
{run}
[[stages]]
name = "a"
call = "hostile_pipe:a"
target_ms = 50
[[stages]]
name = "fan"
parallel = [{{ name = "x", call = "hostile_pipe:b" }}, {{ name = "y", call = "hostile_pipe:b" }}]
[targets]
p95_ms = 1000
"""


def toml_value(value: object) -> str:
    """A TOML literal for a knob value (strings escaped, so any text survives)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    escaped = "".join(ch if ch.isprintable() and ch not in '"\\' else f"\\u{ord(ch):04x}" for ch in text)
    return f'"{escaped}"'


class Workspace:
    """One temp folder; every case writes what it needs under a name of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._names = itertools.count()
        (root / "hostile_pipe.py").write_text(textwrap.dedent(PIPELINE), encoding="utf-8")
        (root / "queries.txt").write_text("q0\nq1\nq2\n", encoding="utf-8")
        self._runs: dict[str, Path] = {}

    def fresh(self, stem: str) -> Path:
        """A path no other case uses."""
        return self.root / f"{stem}-{next(self._names)}"

    def config(
        self,
        *,
        name: str = "hostile",
        run: str = "",
        queries: str = "queries.txt",
        text: str | None = None,
        **knobs: object,
    ) -> Path:
        """Write a config with these knobs; return its path (its worker records its pid in `.pid`)."""
        path = self.fresh("config").with_suffix(".toml")
        knobs = {"pid_file": str(path.with_suffix(".pid")), **knobs}
        if text is not None:
            knobs["text"] = text
        options = "\n".join(f"{key} = {toml_value(value)}" for key, value in knobs.items())
        path.write_text(
            BASE.format(name=toml_value(name), queries=toml_value(queries), options=options, run=run), encoding="utf-8"
        )
        return path

    def pid_file(self, config: Path) -> Path:
        return config.with_suffix(".pid")

    def saved_run(self, key: str, *args: str, command: str = "run", **knobs: object) -> Path:
        """A real run (or leak) file made once (the seed of the fuzzed and diffed files)."""
        if key not in self._runs:
            config = self.config(**knobs)
            output = self.fresh(key).with_suffix(".json")
            subprocess.run(
                [sys.executable, "-m", "ragperf", command, str(config), "-o", str(output), "--no-progress", *args],
                capture_output=True,
                check=False,
            )
            self._runs[key] = output
        return self._runs[key]
