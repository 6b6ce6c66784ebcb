"""One fake OpenAI-compatible chat-completions server for every test, with a pluggable reply policy.

A policy is ``policy(body, count) -> Reply``: ``body`` is the request's JSON, ``count`` how many
times a request with the same key (by default the whole body) was asked so far, this one included.
A :class:`Reply` can be a normal completion, ``content: null``, a cut reply
(``finish_reason: "length"``), an HTTP error with ``Retry-After``, a body that is not JSON, or a
body torn short of its ``Content-Length``. Run standalone (``python -m tests.fake_openai DELAY``)
it serves the judge policy for the kill-and-resume test.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """What the server answers: ``content`` (None gives ``content: null``), or a status/raw body."""

    content: str | None = ""
    status: int = 200
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as the body instead of a chat completion
    torn: bool = False  # send half of the body and close the connection
    delay: float = 0.0


Policy = Callable[[dict[str, Any], int], Reply]


class FakeOpenAI:
    """A local server on 127.0.0.1 answering ``/v1/chat/completions`` by ``policy``; a context manager."""

    def __init__(self, policy: Policy, key: str | None = None, delay: float = 0.0, count_by: Callable[[dict[str, Any]], str] | None = None) -> None:
        self.policy = policy
        self.delay = delay
        self.bodies: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        count_key = count_by or (lambda body: json.dumps(body, sort_keys=True))
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if key is not None and self.headers.get("Authorization") != f"Bearer {key}":
                    self._send(401, b'{"error": "bad key"}', {})
                    return
                name = count_key(body)
                with server._lock:
                    server.bodies.append(body)
                    server.counts[name] += 1
                    server.times.setdefault(name, []).append(time.monotonic())
                    count = server.counts[name]
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if server.delay:
                        time.sleep(server.delay)
                    self._reply(server.policy(body, count))
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, code: int, payload: bytes, headers: dict[str, str], length: int | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload) if length is None else length))
                self.end_headers()
                self.wfile.write(payload)

            def _reply(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw if reply.raw is not None else json.dumps({"choices": [{
                    "index": 0, "finish_reason": reply.finish_reason, "message": {"role": "assistant", "content": reply.content}}]}).encode()
                if reply.torn:
                    self._send(reply.status, payload[: len(payload) // 2], reply.headers, length=len(payload))
                    self.close_connection = True
                    return
                self._send(reply.status, payload, reply.headers)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.bodies

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
