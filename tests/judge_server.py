"""A small local HTTP server speaking the chat-completions protocol, for judge tests.

Its reply depends on the predicted answer inside the prompt:
``garbage...`` -> an unparsable sentence; ``flaky...`` -> HTTP 500 twice, then a verdict;
``down...`` -> always HTTP 500; ``slow...`` -> answers after 2 s; ``badjson...`` -> a body that is
not JSON; ``ratelimit...`` -> HTTP 429 once; ``retryafter...`` -> HTTP 503 with ``Retry-After: 1``
once; ``null...`` -> ``content: null``; ``blank...`` -> an empty content; ``cut...`` -> ``1`` with
``finish_reason: "length"``; ``torn...`` -> a body cut short of its Content-Length. Otherwise ``1`` when the prediction equals the
ground truth (case-insensitively) and ``0`` when not. A key other than ``secret`` gets HTTP 401.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JudgeServer:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[dict] = []
        self.per_prediction: Counter[str] = Counter()
        self.times: dict[str, list[float]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, code: int, payload: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _answer(self, body: dict) -> None:
                if self.headers.get("Authorization") != "Bearer secret":
                    self._send(401, b'{"error": "bad key"}')
                    return
                prompt = body["messages"][0]["content"]
                gt = re.search(r"Ground Truth Answer: (.*)\n", prompt).group(1)
                pred = re.search(r"Predicted Answer: (.*)\n", prompt).group(1)
                with server._lock:
                    server.requests.append(body)
                    server.per_prediction[pred] += 1
                    server.times.setdefault(pred, []).append(time.monotonic())
                    count = server.per_prediction[pred]
                if server.delay:
                    time.sleep(server.delay)
                if pred.startswith("flaky") and count <= 2 or pred.startswith("down"):
                    self._send(500, b'{"error": "internal"}')
                    return
                if pred.startswith("ratelimit") and count == 1:
                    self._send(429, b'{"error": "slow down"}')
                    return
                if pred.startswith("retryafter") and count == 1:
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                if pred.startswith("torn"):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "400")
                    self.end_headers()
                    self.wfile.write(b'{"choices": [{"message": {"content": "1"')
                    self.close_connection = True
                    return
                if pred.startswith(("null", "blank", "cut")):
                    content = {"null": None, "blank": "  ", "cut": "1"}[pred.split()[0]]
                    finish = "length" if pred.startswith("cut") else "stop"
                    payload = {"choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}]}
                    self._send(200, json.dumps(payload).encode())
                    return
                if pred.startswith("slow"):
                    time.sleep(2.0)
                if pred.startswith("badjson"):
                    self._send(200, b"<html>not json</html>")
                    return
                if pred.startswith("garbage"):
                    reply = "The prediction seems to match, so I would say 1."
                elif pred.startswith(("flaky", "ratelimit", "slow", "retryafter")):
                    reply = "1"
                else:
                    reply = "1." if pred.strip().lower() == gt.strip().lower() else "0"
                payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}
                self._send(200, json.dumps(payload).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JudgeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # run standalone for the kill-and-resume test
    import sys

    with JudgeServer(delay=float(sys.argv[1])) as s:
        print(s.url, flush=True)
        while True:
            time.sleep(0.1)
            with s._lock:
                sys.stderr.write(f"{len(s.requests)}\n")
                sys.stderr.flush()
