"""The HTML report in a real headless Chromium: it loads offline, logs no console error, fetches
nothing from the network, lays out on a laptop-sized window, and prints.

Chromium is Debian's `chromium` package (CI: `apt-get install -y chromium`). Without it the
tests skip locally and FAIL under CI=true. The browser is driven through the DevTools protocol
over a pipe (`--remote-debugging-pipe`: fd 3 in, fd 4 out, NUL-separated JSON), so no
websocket library is needed. The screenshot is kept: set RAGPERF_SCREENSHOT=path to keep a copy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ragperf.renderers.base import assemble
from ragperf.renderers.html import HtmlRenderer
from ragperf.schema import load_run

RUNS = Path(__file__).parents[1] / "data" / "runs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_TIMEOUT_S = 60.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser_path() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; CI must run 'apt-get install -y chromium' first")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return CHROMIUM


class Browser:
    """A headless Chromium driven over the DevTools pipe; collects console errors and requests."""

    def __init__(self, path: str, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds() -> None:
            # In the child, before it closes other fds: the pipe ends become fd 3 (commands in)
            # and fd 4 (replies out), via spare numbers in case the ends already sit on 3 or 4.
            high_r, high_w = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        args = [
            path,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            args,
            preexec_fn=fds,  # noqa: PLW1509 - the test starts no threads; it only moves two fds
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session = ""

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self._read()

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + _TIMEOUT_S
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message

    def open(self, url: str, width: int, height: int) -> None:
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, error log entries, and network fetches."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in {"error", "warning", "assert"}:
                found.append(f"console.{params['type']}: {params['args']}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in {"error", "warning"}:
                found.append(f"log {params['entry']['level']}: {params['entry']['text']}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    found.append(f"network request: {url}")
        return found

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError, TimeoutError):  # it may already be gone
            self.send("Browser.close", session=False)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture
def browser(browser_path: str, tmp_path: Path):
    instance = Browser(browser_path, tmp_path / "profile")
    yield instance
    instance.close()


def test_canary_a_console_error_is_caught(browser: Browser, tmp_path: Path):
    # GIVEN a page that logs an error, throws, and fetches from the network
    page = tmp_path / "bad.html"
    page.write_text(
        '<script>console.error("boom"); undefinedFn();</script><img src="http://192.0.2.1/x.png">', encoding="utf-8"
    )
    # WHEN it is opened THEN each of those is reported: the check below can fail
    browser.open(page.as_uri(), 800, 600)
    problems = " | ".join(browser.problems())
    assert "console.error" in problems
    assert "exception" in problems
    assert "network request: http://192.0.2.1/x.png" in problems


def test_html_report_renders_cleanly_in_chromium(browser: Browser, tmp_path: Path):
    # GIVEN the HTML report of a profiled run
    report = assemble([load_run(RUNS / f"{name}.json") for name in ("rich_pyinstrument", "rich_memory", "rich_leak")])
    page = tmp_path / "report.html"
    page.write_text(HtmlRenderer().render(report), encoding="utf-8")
    # WHEN Chromium opens it in a laptop-sized window
    browser.open(page.as_uri(), 1280, 2000)
    # THEN nothing is logged or fetched
    assert browser.problems() == []
    # AND the layout fits the window: no horizontal scrolling, charts drawn at a readable size
    layout = browser.send(
        "Runtime.evaluate",
        {
            "expression": "JSON.stringify({scroll: document.documentElement.scrollWidth, "
            "inner: window.innerWidth, svgs: [...document.querySelectorAll('svg')].map(s => "
            "[s.getBoundingClientRect().width, s.getBoundingClientRect().height]), "
            "sections: document.querySelectorAll('section').length})",
            "returnByValue": True,
        },
    )["result"]["value"]
    facts = json.loads(layout)
    assert facts["scroll"] <= facts["inner"]
    assert facts["sections"] >= 7
    assert len(facts["svgs"]) >= 11
    assert all(w >= 300 and h >= 30 for w, h in facts["svgs"])
    # AND a screenshot and a printout come out of it
    shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"])
    assert shot.startswith(b"\x89PNG")
    keep = os.environ.get("RAGPERF_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(shot)
    pdf = base64.b64decode(browser.send("Page.printToPDF", {"printBackground": True})["data"])
    assert pdf.startswith(b"%PDF")
    assert browser.problems() == []


PIPELINES = Path(__file__).parents[1] / "data" / "pipelines"
_FRAMES = (
    "JSON.stringify([...document.querySelectorAll('figure.flamegraph')].map(f => ({{stage: f.dataset.stage, "
    "differential: f.dataset.differential === '1', frames: [...f.querySelectorAll('g.frame')].map(g => ({{"
    "function: g.dataset.function, self: parseFloat(g.dataset.self), change: parseFloat(g.dataset.change), "
    "waiting: g.classList.contains('waiting'), width: g.querySelector('rect').getBoundingClientRect().width, "
    "fill: getComputedStyle(g.querySelector('rect')).fill, title: g.querySelector('title').textContent}}))}})))"
)


def _run(config: Path, output: Path, env: dict[str, str] | None = None) -> Path:
    command = [sys.executable, "-m", "ragperf", "run", str(config), "-b", "pyinstrument", "-n", "12"]
    command += ["--warmup", "1", "-o", str(output), "--no-progress"]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    assert output.exists(), result.stderr
    return output


def _flames(browser: Browser, page: Path) -> list[dict[str, Any]]:
    browser.open(page.as_uri(), 1280, 2000)
    value = browser.send("Runtime.evaluate", {"expression": _FRAMES.format(), "returnByValue": True})
    flames: list[dict[str, Any]] = json.loads(value["result"]["value"])
    return flames


def test_flame_graph_shows_each_stage_hot_function_widest(browser: Browser, tmp_path: Path):
    # GIVEN a pipeline whose stages have known hot functions, run under pyinstrument and reported as HTML
    run = _run(PIPELINES / "hot" / "hot.toml", tmp_path / "hot.json")
    page = tmp_path / "hot.html"
    assert (
        subprocess.run([sys.executable, "-m", "ragperf", "report", str(run), "-o", str(page)], check=False).returncode
        == 0
    )
    # WHEN Chromium draws it
    flames = {f["stage"]: f for f in _flames(browser, page)}
    # THEN nothing is logged or fetched, and each profiled stage has its flame graph
    assert browser.problems() == []
    assert {"a", "c"} <= set(flames)
    # AND stage a's own time is in hot_a: the frame with the most time of its own, drawn nearly as wide as the stage
    frames = flames["a"]["frames"]
    hot = max(frames, key=lambda f: f["self"])
    assert hot["function"] == "hot_a"
    assert hot["width"] >= 0.8 * frames[0]["width"]
    assert "hot_pipeline.py:" in hot["title"]
    assert "% of a" in hot["title"]
    # AND stage c waits: its heaviest frame of its own is marked waiting, a CPU stage's is not
    assert max(flames["c"]["frames"], key=lambda f: f["self"])["waiting"]
    assert not hot["waiting"]


def test_diff_page_colours_the_frames_that_grew(browser: Browser, tmp_path: Path):
    # GIVEN two runs of a pipeline whose rerank's hot function does 3x the work in the second
    stages = PIPELINES / "slowdown" / "slowdown.toml"
    old = _run(stages, tmp_path / "old.json")
    new = _run(stages, tmp_path / "new.json", {"RAGPERF_TEST_SLOWDOWN": "3"})
    page = tmp_path / "diff.html"
    # WHEN 'ragperf diff -f html' writes the page and Chromium draws it
    result = subprocess.run(
        [sys.executable, "-m", "ragperf", "diff", str(old), str(new), "-f", "html", "-o", str(page)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout  # the regression gates
    flames = _flames(browser, page)
    assert browser.problems() == []
    # THEN rerank has a differential flame graph, where score grew and is drawn red
    rerank = next(f for f in flames if f["stage"] == "rerank" and f["differential"])
    score = next(f for f in rerank["frames"] if f["function"] == "score")
    assert score["change"] > 0
    red, green, blue = (int(c) for c in score["fill"].removeprefix("rgb(").rstrip(")").split(","))
    assert red > green + 40
    assert red > blue + 40
    assert "baseline" in score["title"]
    # AND the verdicts are drawn: rerank's interval marker is a regression
    html = page.read_text(encoding="utf-8")
    assert 'class="verdict bad"' in html
    assert "<script" not in html
