"""A real, scriptable OpenAI-compatible HTTP server for tests (no mocks of our own code).

It runs `http.server.ThreadingHTTPServer` on 127.0.0.1 (a free port) in a thread. Tests queue
responses (status, JSON or raw body, headers, an optional delay before answering, an optional
pause between the body's bytes) and read back
every request received, headers included. When the queue is empty, `handler` (if set) answers;
otherwise the server answers HTTP 501 "no scripted response", which fails loudly.

Use it from a test module with `pytest_plugins = ["openai_server"]`, then take the
`openai_server` fixture (the module has no asserts, hence PYTEST_DONT_REWRITE, which lets test
modules import its helpers before pytest registers it as a plugin):

```python
def test_reply(openai_server: FakeOpenAIServer) -> None:
    openai_server.enqueue(json=chat_completion_body("hello"))
    model = OpenAIChatModel("m", base_url=openai_server.url)
    assert model.complete([{"role": "user", "content": "hi"}]).text == "hello"
    assert openai_server.requests[0].json()["model"] == "m"
```
"""

from __future__ import annotations

import json as jsonlib
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

__all__ = [
    "FakeOpenAIServer",
    "ReceivedRequest",
    "ScriptedResponse",
    "chat_completion_body",
    "embeddings_body",
    "error_body",
    "openai_server",
    "unreachable_url",
]


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Header names lower-cased."""
    body: bytes
    received_at: float
    """`time.monotonic()` when the request was read."""

    def json(self) -> Any:
        return jsonlib.loads(self.body)


@dataclass(frozen=True)
class ScriptedResponse:
    """One response to send: JSON `json` (or `raw` bytes verbatim), after `delay` seconds;
    with `trickle`, the body goes out one byte at a time, `trickle` seconds apart."""

    status: int = 200
    json: Any = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0

    def payload(self) -> bytes:
        return self.raw if self.raw is not None else jsonlib.dumps(self.json).encode()


def chat_completion_body(
    text: str,
    *,
    model: str = "fake-model",
    finish_reason: str = "stop",
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
) -> dict[str, Any]:
    """A chat-completions response body, as OpenAI sends it."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def embeddings_body(
    vectors: Sequence[Sequence[float]], *, model: str = "fake-embedder"
) -> dict[str, Any]:
    """An embeddings response body, as OpenAI sends it."""
    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": i, "embedding": list(vector)}
            for i, vector in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": len(vectors), "total_tokens": len(vectors)},
    }


def error_body(message: str, *, kind: str = "invalid_request_error") -> dict[str, Any]:
    """An error response body, as OpenAI sends it."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class FakeOpenAIServer:
    """The server: `url` is the API root (`http://127.0.0.1:<port>/v1`)."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self.handler: Callable[[ReceivedRequest], ScriptedResponse] | None = None
        self._queue: deque[ScriptedResponse] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def enqueue(
        self,
        status: int = 200,
        json: Any = None,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
    ) -> None:
        """Queue the next response (first queued, first sent)."""
        response = ScriptedResponse(status, json, raw, dict(headers or {}), delay, trickle)
        with self._lock:
            self._queue.append(response)

    def enqueue_completion(self, text: str, **fields: Any) -> None:
        """Queue a 200 chat completion replying `text`."""
        self.enqueue(json=chat_completion_body(text, **fields))

    def _respond_to(self, request: ReceivedRequest) -> ScriptedResponse:
        with self._lock:
            self.requests.append(request)
            scripted = self._queue.popleft() if self._queue else None
        if scripted is not None:
            return scripted
        if self.handler is not None:
            return self.handler(request)
        return ScriptedResponse(501, error_body("fake server: no scripted response left"))

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)  # cut short when the server stops

    def close(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> FakeOpenAIServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out hang up mid-response; that is the point of those tests


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two small writes
        timeout = 5  # idle keep-alive connections don't pin a thread forever

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = ReceivedRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length),
                received_at=time.monotonic(),
            )
            self._send(server._respond_to(request))

        do_GET = do_POST

        def _send(self, response: ScriptedResponse) -> None:
            if response.delay:
                server._wait(response.delay)
            payload = response.payload()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not response.trickle:
                self.wfile.write(payload)
                return
            self.wfile.flush()
            for index in range(len(payload)):
                if server._stopping.is_set():
                    return
                self.wfile.write(payload[index : index + 1])
                self.wfile.flush()
                server._wait(response.trickle)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def unreachable_url() -> str:
    """An API root on a local port nobody listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    """A running `FakeOpenAIServer`, stopped after the test."""
    with FakeOpenAIServer() as server:
        yield server
