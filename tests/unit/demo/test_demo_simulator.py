"""The Ollama-API latency simulator and the stdlib Ollama client."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from ragperf_demo.ollama_client import OllamaError, base_url, chat, check_model, stream_chat
from ragperf_demo.simulator import SimulatorConfig, SimulatorProcess, SimulatorThread, extractive_answer

if TYPE_CHECKING:
    from collections.abc import Iterator

FAST = SimulatorConfig(model="sim", prefill_ms=30.0, prefill_ms_per_token=0.0, token_ms=2.0, max_tokens=40)
MESSAGES = [
    {"role": "system", "content": "Answer from the context."},
    {
        "role": "user",
        "content": "Context:\n[1] function json.loads(s)\nDeserialize s to a Python object. It accepts str.\n\n"
        "[2] function json.dumps(obj)\nSerialize obj to a JSON formatted str.\n\n"
        "Question: How do I deserialize a JSON string to a Python object?",
    },
]


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    """The simulator on a thread of this process."""
    sim = SimulatorThread(FAST)
    try:
        yield sim
    finally:
        sim.stop()


def test_extractive_answer_picks_the_matching_sentence_and_cites_it() -> None:
    # GIVEN a prompt whose first block answers the question
    # WHEN the simulator builds its answer
    answer = "".join(extractive_answer(MESSAGES, max_tokens=40))
    # THEN the best-overlapping sentence leads, cited with its block number
    assert answer.startswith("Deserialize s to a Python object. [1]")
    assert len(extractive_answer(MESSAGES, max_tokens=5)) == 5


def test_process_simulator_streams_tokens_and_closes_its_port_on_stop() -> None:
    # GIVEN the simulator started as a child process on a free port
    sim = SimulatorProcess(FAST)
    try:
        assert _port_open(sim.url)
        # WHEN a chat is streamed from it
        start = time.perf_counter()
        chunks = list(stream_chat(sim.url, "sim", MESSAGES, {"num_predict": 12}))
        elapsed_ms = (time.perf_counter() - start) * 1000
    finally:
        sim.stop()
    # THEN it arrived as one NDJSON object per token, a final done object last, after the delays
    assert len(chunks) == 13
    assert all(not c["done"] and c["message"]["content"] for c in chunks[:-1])
    assert chunks[-1]["done"] is True
    assert chunks[-1]["eval_count"] == 12
    assert chunks[-1]["model"] == "sim"
    assert elapsed_ms >= FAST.prefill_ms + 11 * FAST.token_ms
    # AND after stop the process is gone and nothing listens on its port
    assert sim.proc.returncode is not None
    assert not _port_open(sim.url)


def test_chat_measures_ttft_and_token_rate(sim_thread: SimulatorThread) -> None:
    # GIVEN the simulator with a 30 ms prefill and 2 ms per token
    # WHEN a full answer is streamed
    result = chat(sim_thread.url, "sim", MESSAGES, {"num_predict": 12})
    # THEN the client saw the prefill before the first token, and a plausible token rate
    assert result.tokens == 12
    assert result.ttft_ms >= 27.0
    assert result.total_ms >= result.ttft_ms + 11 * 1.8
    assert 50 < result.tokens_per_s < 1000
    assert result.content.startswith("Deserialize")
    assert result.done_reason == "stop"


def test_thread_simulator_stop_closes_the_port() -> None:
    # GIVEN a running in-process simulator
    sim = SimulatorThread(FAST)
    assert _port_open(sim.url)
    # WHEN stopped
    sim.stop()
    # THEN its port refuses connections and its thread ended
    assert not _port_open(sim.url)
    assert not sim.thread.is_alive()


def test_non_streaming_and_discovery_endpoints(sim_thread: SimulatorThread) -> None:
    # GIVEN the simulator
    parts = urlsplit(sim_thread.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        # WHEN asked like Ollama's clients do: liveness, tags, and a chat with stream=false
        conn.request("GET", "/")
        root = conn.getresponse().read().decode()
        conn.request("GET", "/api/tags")
        tags = json.loads(conn.getresponse().read())
        body = json.dumps({"model": "sim", "messages": MESSAGES, "stream": False, "options": {"num_predict": 6}})
        conn.request("POST", "/api/chat", body=body)
        reply = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    # THEN each answers in Ollama's shapes, and the simulator says what it is
    assert "simulator" in root
    assert tags["models"][0]["name"] == "sim"
    assert reply["done"] is True
    assert len(reply["message"]["content"].split()) == 6


class _NoModelHandler(BaseHTTPRequestHandler):
    """Answers every chat like Ollama does for a model it has not pulled."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"error": "model \\"nope\\" not found, try pulling it first"}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_client_raises_ollama_errors() -> None:
    # GIVEN a server that answers 404 with Ollama's error body
    server = HTTPServer(("127.0.0.1", 0), _NoModelHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # WHEN the client asks it for a chat
        with pytest.raises(OllamaError, match=r"404.*not found"):
            chat(f"http://127.0.0.1:{server.server_address[1]}", "nope", MESSAGES)
    finally:
        server.shutdown()
        server.server_close()
    # THEN (above) the HTTP status and the server's message surface in one exception


def test_check_model_accepts_pulled_models_and_explains_the_rest(sim_thread: SimulatorThread) -> None:
    # GIVEN a server that lists model "sim", and a port where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    # WHEN the pipeline's setup check runs against each
    check_model(sim_thread.url, "sim")
    check_model(sim_thread.url, "sim:latest")
    # THEN a missing model and a dead server fail with what to do about it
    with pytest.raises(OllamaError, match=r"ollama pull other"):
        check_model(sim_thread.url, "other")
    with pytest.raises(OllamaError, match=r"no Ollama server answers"):
        check_model(dead, "sim")


def test_simulator_rejects_a_broken_body(sim_thread: SimulatorThread) -> None:
    # GIVEN the simulator
    parts = urlsplit(sim_thread.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        # WHEN sent a body that is not JSON
        conn.request("POST", "/api/chat", body=b"{not json")
        response = conn.getresponse()
        status, payload = response.status, json.loads(response.read())
    finally:
        conn.close()
    # THEN it answers 400 with an error object, as Ollama does
    assert status == 400
    assert "error" in payload


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("localhost:8080", "http://localhost:8080"),
        ("http://gpu-box", "http://gpu-box:11434"),
        ("https://llm.example", "https://llm.example:443"),
    ],
)
def test_base_url_normalizes_ollama_host_values(host: str, url: str) -> None:
    # GIVEN an OLLAMA_HOST value in one of its accepted spellings
    # WHEN normalized
    # THEN it becomes scheme://host:port with Ollama's defaults filled in
    assert base_url(host) == url
