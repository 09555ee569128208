"""A minimal client for Ollama's `POST /api/chat` streaming API on stdlib `http.client`."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = ["ChatResult", "OllamaError", "base_url", "chat", "check_model", "stream_chat"]

DEFAULT_PORT = 11434


class OllamaError(RuntimeError):
    """The server answered with an HTTP error or an `error` object."""


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The assembled answer and its timings as the client saw them."""

    content: str
    model: str
    ttft_ms: float
    total_ms: float
    tokens: int
    tokens_per_s: float
    prompt_tokens: int
    done_reason: str


def base_url(host: str) -> str:
    """Normalize an OLLAMA_HOST value ("0.0.0.0", "host:port", "http://host") to scheme://host:port."""
    value = host.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    hostname = parts.hostname or "127.0.0.1"
    if hostname == "0.0.0.0":  # noqa: S104 - a listen address; the server is reachable locally
        hostname = "127.0.0.1"
    if ":" in hostname:
        hostname = f"[{hostname}]"
    port = parts.port or (443 if parts.scheme == "https" else DEFAULT_PORT)
    return f"{parts.scheme}://{hostname}:{port}"


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme == "https":
        return http.client.HTTPSConnection(host, parts.port, timeout=timeout)
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _tagged(name: str) -> str:
    # Ollama names "llama3.2" and "llama3.2:latest" the same model.
    return name if ":" in name else f"{name}:latest"


def check_model(url: str, model: str, timeout: float = 10.0) -> None:
    """Fail early, with a hint, when the server is unreachable or has not pulled `model`."""
    conn = _connection(url, timeout)
    try:
        conn.request("GET", "/api/tags")
        response = conn.getresponse()
        body = response.read()
    except OSError as exc:
        msg = f"no Ollama server answers at {url} ({exc}); start one or unset OLLAMA_HOST to use the simulator"
        raise OllamaError(msg) from exc
    finally:
        conn.close()
    if response.status != 200:
        msg = f"ollama /api/tags at {url} -> HTTP {response.status}"
        raise OllamaError(msg)
    names = {str(m.get("name", "")) for m in json.loads(body or b"{}").get("models", [])}
    if _tagged(model) not in {_tagged(n) for n in names}:
        msg = f"Ollama at {url} has no model {model!r} (has: {sorted(names)}); run: ollama pull {model}"
        raise OllamaError(msg)


def stream_chat(
    url: str,
    model: str,
    messages: Sequence[Mapping[str, str]],
    options: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> Iterator[dict[str, Any]]:
    """POST /api/chat with stream=true and yield each NDJSON object as it arrives."""
    body = json.dumps({"model": model, "messages": list(messages), "stream": True, "options": dict(options or {})})
    # One connection per call: stages may run on many threads at once, and loopback connects are cheap.
    conn = _connection(url, timeout)
    try:
        conn.request("POST", "/api/chat", body=body.encode(), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            detail = response.read().decode(errors="replace")[:500]
            msg = f"ollama /api/chat -> HTTP {response.status}: {detail}"
            raise OllamaError(msg)
        while True:
            line = response.readline()
            if not line:
                break
            if not line.strip():
                continue
            chunk = json.loads(line)
            if "error" in chunk:
                raise OllamaError(str(chunk["error"]))
            if chunk.get("done"):
                # Read the terminating chunk too: closing with unread bytes resets the connection.
                response.read()
                yield chunk
                break
            yield chunk
    finally:
        conn.close()


def chat(
    url: str,
    model: str,
    messages: Sequence[Mapping[str, str]],
    options: Mapping[str, Any] | None = None,
    timeout: float = 120.0,
) -> ChatResult:
    """Stream one answer; time to first token and token rate are measured on arrival."""
    start = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    final: dict[str, Any] = {}
    chunks = 0
    for chunk in stream_chat(url, model, messages, options, timeout):
        content = chunk.get("message", {}).get("content", "")
        if content:
            if first is None:
                first = time.perf_counter()
            pieces.append(content)
            chunks += 1
        if chunk.get("done"):
            final = chunk
    end = time.perf_counter()
    first = end if first is None else first
    tokens = int(final.get("eval_count", chunks))
    eval_ns = final.get("eval_duration")
    if eval_ns:
        rate = tokens / (eval_ns / 1e9)
    else:
        # Tokens after the first arrived over (end - first); the first one opens the interval.
        rate = (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0
    return ChatResult(
        content="".join(pieces),
        model=str(final.get("model", model)),
        ttft_ms=(first - start) * 1000.0,
        total_ms=(end - start) * 1000.0,
        tokens=tokens,
        tokens_per_s=rate,
        prompt_tokens=int(final.get("prompt_eval_count", 0)),
        done_reason=str(final.get("done_reason", "stop")),
    )
