"""Ollama-API latency simulator: a stand-in LLM server for the demo when no Ollama is at hand.

It speaks the subset of Ollama's HTTP API the demo uses (`POST /api/chat`, streamed NDJSON;
`GET /api/tags`, `GET /api/version`, `GET /`) and answers extractively: it picks the sentences
of the prompt's context that best overlap the question. Its latency is simulated, and this is
the only place in the demo where waiting stands in for work: a prefill delay before the first
token (base + per prompt token) and a fixed delay per streamed token.

Run it as ``python -m ragperf_demo.simulator --port 0``: it prints ``READY http://HOST:PORT``
on stdout and serves until stopped; with ``--exit-on-stdin-eof`` (how the pipeline starts it)
it also exits when its stdin closes, so it never outlives the pipeline process.
`SimulatorProcess` and `SimulatorThread` start it from Python.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "SimulatorConfig",
    "SimulatorProcess",
    "SimulatorServer",
    "SimulatorThread",
    "extractive_answer",
    "main",
]

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n{2,}")
_WORD = re.compile(r"[A-Za-z0-9_.]+")
_BLOCK = re.compile(r"\n(?=\[\d+\] )")
_HEADER = re.compile(r"\s*\[(\d+)\] [^\n]*\n")
_PROFILER_ENV = re.compile(r"^(LD_PRELOAD|DYLD_INSERT_LIBRARIES|PYTHONMALLOC|SCALENE.*|MEMRAY.*)$")
_SMALL = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "which",
        "with",
    ]
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Latency model. Defaults give 200-500 ms per answer for the demo's prompts."""

    model: str = "llama3.2:1b"
    prefill_ms: float = 60.0
    prefill_ms_per_token: float = 0.05
    token_ms: float = 3.5
    max_tokens: int = 80


def _words(text: str) -> set[str]:
    return {w.lower().strip(".") for w in _WORD.findall(text)} - _SMALL


def _sentences(context: str) -> list[tuple[str, str]]:
    """(sentence, citation) pairs; blocks headed "[n] title" cite as "[n]", other text cites nothing."""
    out: list[tuple[str, str]] = []
    for block in _BLOCK.split(context):
        header = _HEADER.match(block)
        cite = f"[{header.group(1)}]" if header else ""
        body = block[header.end() :] if header else block
        out.extend((" ".join(s.split()), cite) for s in _SENTENCE.split(body) if len(s.split()) >= 4)
    return out


def extractive_answer(messages: list[dict[str, Any]], max_tokens: int) -> list[str]:
    """The answer as tokens: context sentences ranked by overlap with the question, cited."""
    user = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
    last = user[-1] if user else ""
    context, _, question = last.rpartition("Question:")
    if not context:
        context, question = "\n\n".join(str(m.get("content", "")) for m in messages), last
    wanted = _words(question)
    sentences = _sentences(context.replace("Context:", "", 1))
    ranked = sorted(range(len(sentences)), key=lambda i: (-len(wanted & _words(sentences[i][0])), i))
    words: list[str] = []
    for index in ranked[:4]:
        sentence, cite = sentences[index]
        words.extend(sentence.split())
        if cite:
            words.append(cite)
        if len(words) >= max_tokens:
            break
    if not words:
        words = ["I", "could", "not", "find", "this", "in", "the", "provided", "context."]
    words = words[:max_tokens]
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class SimulatorServer(ThreadingHTTPServer):
    """One thread per connection, so concurrent queries overlap like they would on Ollama."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: SimulatorConfig) -> None:
        super().__init__(address, _Handler)
        self.config = config

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, cancelled queries) are normal; report anything else."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionResetError, BrokenPipeError, TimeoutError)):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        """http://host:port the server listens on."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimulatorServer

    def setup(self) -> None:
        super().setup()
        # Tokens are tiny writes spaced by milliseconds: Nagle would batch them and skew TTFT.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """`/` (liveness), `/api/version`, `/api/tags`."""
        cfg = self.server.config
        if self.path == "/":
            body = b"Ollama is running (Ollama-API latency simulator)"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/api/version":
            self._json(200, {"version": "0.0.0-simulator"})
        elif self.path == "/api/tags":
            self._json(200, {"models": [{"name": cfg.model, "model": cfg.model, "size": 0}]})
        else:
            self._json(404, {"error": f"not found: {self.path}"})

    def do_POST(self) -> None:
        """`/api/chat`, streamed (default) or not."""
        if self.path != "/api/chat":
            self._json(404, {"error": f"not found: {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            messages = list(request.get("messages", []))
        except (ValueError, TypeError):
            self._json(400, {"error": "invalid JSON body"})
            return
        cfg = self.server.config
        model = str(request.get("model") or cfg.model)
        options = request.get("options") or {}
        max_tokens = int(options.get("num_predict", cfg.max_tokens))
        if max_tokens <= 0:
            max_tokens = cfg.max_tokens
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages) * 4 // 3
        tokens = extractive_answer(messages, max_tokens)
        start = time.perf_counter_ns()
        prefill_s = (cfg.prefill_ms + cfg.prefill_ms_per_token * prompt_tokens) / 1000.0
        if request.get("stream", True) is False:
            time.sleep(prefill_s + len(tokens) * cfg.token_ms / 1000.0)
            done = self._final(model, start, prefill_s, len(tokens), prompt_tokens)
            self._json(200, {**done, "message": {"role": "assistant", "content": "".join(tokens)}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        time.sleep(prefill_s)  # simulated prompt processing (prefill)
        first = time.perf_counter()
        try:
            for i, token in enumerate(tokens):
                # Deadline-based pacing, so per-chunk overhead does not add up over the answer.
                delay = first + i * cfg.token_ms / 1000.0 - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)  # simulated decoding time per token
                self._chunk(
                    {
                        "model": model,
                        "created_at": _now(),
                        "message": {"role": "assistant", "content": token},
                        "done": False,
                    }
                )
            self._chunk(self._final(model, start, prefill_s, len(tokens), prompt_tokens))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-answer

    def _chunk(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    @staticmethod
    def _final(model: str, start_ns: int, prefill_s: float, eval_count: int, prompt_tokens: int) -> dict[str, Any]:
        total = time.perf_counter_ns() - start_ns
        prefill_ns = int(prefill_s * 1e9)
        return {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": total,
            "load_duration": 0,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": prefill_ns,
            "eval_count": eval_count,
            "eval_duration": max(1, total - prefill_ns),
        }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class SimulatorThread:
    """The simulator inside this process, on a daemon thread (its CPU shows up in profiles)."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = SimulatorServer((host, port), config)
        self.thread = threading.Thread(target=self.server.serve_forever, name="ollama-simulator", daemon=True)
        self.thread.start()
        self.url = self.server.url

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class SimulatorProcess:
    """The simulator as a child process, so its CPU time stays out of the pipeline's profile."""

    def __init__(
        self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0
    ) -> None:
        # A profiler's injection (preloaded allocators, profiler env) must not follow us into the child.
        env = {k: v for k, v in os.environ.items() if not _PROFILER_ENV.match(k)}
        # The child must import this package even when it is only on sys.path, not installed.
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        args = [
            _interpreter(), "-m", "ragperf_demo.simulator", "--host", host, "--port", str(port),
            "--model", config.model, "--prefill-ms", str(config.prefill_ms),
            "--prefill-ms-per-token", str(config.prefill_ms_per_token),
            "--token-ms", str(config.token_ms), "--max-tokens", str(config.max_tokens), "--exit-on-stdin-eof",
        ]  # fmt: skip
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        self.url = self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> str:
        stdout = self.proc.stdout
        if stdout is None:  # pragma: no cover - Popen was given PIPE
            msg = "simulator has no stdout"
            raise RuntimeError(msg)
        with selectors.DefaultSelector() as sel:
            sel.register(stdout, selectors.EVENT_READ)
            if not sel.select(timeout_s):
                self.stop()
                msg = f"Ollama-API latency simulator did not start within {timeout_s:.0f}s"
                raise RuntimeError(msg)
        line = stdout.readline().decode().strip()
        if not line.startswith("READY "):
            self.stop()
            msg = f"Ollama-API latency simulator failed to start: {line!r}"
            raise RuntimeError(msg)
        return line.split(" ", 1)[1]

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close its stdin (it exits on EOF); terminate, then kill, if it lingers."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/Ctrl-C, or with --exit-on-stdin-eof until stdin closes."""
    parser = argparse.ArgumentParser(
        prog="python -m ragperf_demo.simulator", description="Ollama-API latency simulator"
    )
    defaults = SimulatorConfig()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--prefill-ms", type=float, default=defaults.prefill_ms)
    parser.add_argument("--prefill-ms-per-token", type=float, default=defaults.prefill_ms_per_token)
    parser.add_argument("--token-ms", type=float, default=defaults.token_ms)
    parser.add_argument("--max-tokens", type=int, default=defaults.max_tokens)
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent gone)")
    ns = parser.parse_args(argv)
    config = SimulatorConfig(ns.model, ns.prefill_ms, ns.prefill_ms_per_token, ns.token_ms, ns.max_tokens)
    server = SimulatorServer((ns.host, ns.port), config)

    def watch_stdin() -> None:
        # EOF on stdin means the parent is gone or wants us to stop.
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        server.shutdown()

    if ns.exit_on_stdin_eof:
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    print(f"READY {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def _interpreter() -> str:
    """The real Python of this process, for the simulator child.

    Under `scalene run`, sys.executable is rewritten to a shim that profiles every child too
    (and drops a scalene-profile.json in its folder); the interpreter this process was started
    with is still in sys.orig_argv[0] when that path is absolute, as ragperf's worker command is.
    """
    first = sys.orig_argv[0] if sys.orig_argv else ""
    return first if Path(first).is_absolute() and os.access(first, os.X_OK) else sys.executable
