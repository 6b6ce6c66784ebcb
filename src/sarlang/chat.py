"""One client for OpenAI-compatible chat-completions endpoints (OpenAI, vLLM, Ollama, ...).

Used by the API judge and by LLM caption generation. It sends a list of messages (text, and
images as base64 data URLs), retries timeouts, HTTP 429 and 5xx with exponential backoff,
honouring a server's ``Retry-After`` (seconds or an HTTP date, at most
:data:`MAX_RETRY_AFTER` s), runs requests concurrently, and stores every reply in an SQLite
cache keyed by the endpoint, the model, the generation settings and the whole request, as soon
as it arrives: a killed run resumes where it stopped and a repeated run asks nothing twice.
HTTP 401, 403 and 404 stop the run with a clear error (a wrong key, URL or model). Every other
failure is returned per request with its reason and never cached: a refused connection, a
timeout or 5xx after the retries, a body that is not a chat completion, an empty reply
(``content: null`` or blank), and a reply cut at ``max_tokens`` (``finish_reason: "length"``).

Several servers of one model (vLLM data-parallel replicas) are one client: each request goes to
the server with the fewest requests in flight, ``concurrency`` per server, so every server's
queue stays full; a request that fails on one server (refused, timed out, 429, 5xx, malformed)
is retried at once on another, and waits its backoff only when every server has failed it in
that round. A server that answers 404 (the model is not served there) is dropped for the rest of
the run, and the run stops only when no server is left.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarlang.errors import JudgeError, SarlangError

#: The longest wait, in seconds, that a server's Retry-After header is obeyed for.
MAX_RETRY_AFTER = 120.0


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class ReplyCache:
    """Replies on disk (SQLite), one row per request key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, created REAL)")
        except sqlite3.DatabaseError as exc:
            raise SarlangError(f"the reply cache {path} is not usable: {exc}", hint="delete it or pass another cache path") from exc

    @staticmethod
    def key(*parts: Any) -> str:
        blob = json.dumps(parts, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, reply: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", (key, reply, time.time()))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def endpoint(url: str | None, key: str | None, prefix: str = "", flag: str = "--url") -> tuple[str, str | None]:
    """The API root and key to use: given ones, else ``{prefix}_URL`` / ``{prefix}_API_KEY``, else OpenAI's variables.

    ``prefix`` names a tool's own variables (``SARLANG_JUDGE`` for the judge); ``flag`` is the
    option that gives the URL, for the error when there is none.
    """
    names_url = ([f"{prefix}_URL"] if prefix else []) + ["OPENAI_BASE_URL"]
    names_key = ([f"{prefix}_API_KEY"] if prefix else []) + ["OPENAI_API_KEY"]
    base = url or next((os.environ[n] for n in names_url if os.environ.get(n)), None)
    if not base:
        raise JudgeError("no OpenAI-compatible endpoint given",
                         hint=f"pass {flag} (e.g. http://localhost:8000/v1) or set {' or '.join(names_url)}")
    return base, key or next((os.environ[n] for n in names_key if os.environ.get(n)), None)


def default_cache_path(name: str = "judge-cache.sqlite") -> Path:
    root = os.environ.get("SARLANG_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "sarlang")
    return Path(root) / name


def image_content(path: str | Path) -> dict[str, Any]:
    """An image as an OpenAI ``image_url`` content part (base64 data URL)."""
    p = Path(path)
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(p.suffix.lower(), "application/octet-stream")
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}


@dataclass(frozen=True)
class Reply:
    ok: bool
    text: str  # the reply, or why there is none
    cached: bool = False


class _Fatal(Exception):
    pass


class ChatClient:
    """See the module docstring. ``temperature`` 0 by default (reproducible answers)."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        api_key: str | None = None,
        cache_path: Path | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_tokens: int = 100,
        temperature: float = 0.0,
    ) -> None:
        import httpx

        roots = [base_url] if isinstance(base_url, str) else list(base_url)
        if not roots:
            raise JudgeError("no server URL given", hint="e.g. http://localhost:8000/v1")
        for root in roots:
            if not root.startswith(("http://", "https://")):
                raise JudgeError(f"URL '{root}' is not an http(s) URL", hint="e.g. https://api.openai.com/v1 or http://localhost:8000/v1")
        urls = [root.rstrip("/") + "/chat/completions" for root in roots]
        if len(set(urls)) < len(urls):
            raise JudgeError(f"a server is listed twice in {', '.join(roots)}", hint="list each server once")
        self.urls = urls
        #: what names the endpoint in cache keys: the one URL, or all of them in the order given
        self.url = ",".join(urls)
        self.model = model
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
                                    limits=httpx.Limits(max_connections=self.concurrency * len(urls) + 4))
        self._httpx = httpx
        self._lock = threading.Lock()
        self._in_flight = [0] * len(urls)
        self._dropped: set[int] = set()
        #: per server: replies received, failed attempts (and why, the last one)
        self.served = [{"url": u, "answered": 0, "failed_attempts": 0, "last_failure": ""} for u in urls]
        self.cache = ReplyCache(cache_path or default_cache_path())

    def request_key(self, messages: list[dict[str, Any]]) -> str:
        return ReplyCache.key(self.url, self.model, self.temperature, self.max_tokens, messages)

    def _take_server(self, avoid: set[int]) -> int | None:
        """The live server with the fewest requests in flight, not one in ``avoid`` (None: none left)."""
        with self._lock:
            live = [i for i in range(len(self.urls)) if i not in self._dropped and i not in avoid]
            if not live:
                return None
            chosen = min(live, key=lambda i: (self._in_flight[i], i))
            self._in_flight[chosen] += 1
            return chosen

    def _release(self, server: int, failure: str = "", drop: bool = False) -> None:
        with self._lock:
            self._in_flight[server] -= 1
            if failure:
                self.served[server]["failed_attempts"] += 1
                self.served[server]["last_failure"] = failure
            else:
                self.served[server]["answered"] += 1
            if drop:
                self._dropped.add(server)

    def _ask(self, messages: list[dict[str, Any]]) -> Reply:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature, "max_tokens": self.max_tokens}
        delay = self.backoff
        last_error = ""
        for round_ in range(self.retries + 1):
            failed_here: set[int] = set()
            wait = 0.0
            while (server := self._take_server(failed_here)) is not None:
                try:
                    reply, error, asked_wait, drop = self._post(self.urls[server], body)
                except _Fatal as exc:
                    self._release(server, str(exc))
                    raise
                self._release(server, error, drop)
                if reply is not None:
                    return reply
                last_error = error if len(self.urls) == 1 else f"{error} ({self.urls[server]})"
                failed_here.add(server)
                wait = max(wait, asked_wait or 0.0)
            with self._lock:
                if len(self._dropped) == len(self.urls):
                    raise _Fatal("no server serves the model: " + "; ".join(self.served[i]["last_failure"] for i in sorted(self._dropped)))
            if round_ < self.retries:
                time.sleep(wait or min(delay, 60.0))
                delay *= 2
        return Reply(False, f"{last_error} after {self.retries + 1} attempts" if len(self.urls) == 1
                     else f"{last_error}; every server failed, {self.retries + 1} rounds")

    def _post(self, url: str, body: dict[str, Any]) -> tuple[Reply | None, str, float | None, bool]:
        """One attempt at ``url``: (a final reply or None, why the attempt failed, the wait the
        server asked for, whether to drop the server); a wrong key, URL or model raises."""
        try:
            response = self._client.post(url, json=body)
        except self._httpx.TimeoutException:
            return None, "timed out", None, False
        except self._httpx.TransportError as exc:
            return None, f"connection failed: {exc}", None, False
        if response.status_code in (401, 403, 404):
            error = f"the endpoint {url} answered HTTP {response.status_code}: {response.text[:200]}"
            if response.status_code == 404 and len(self.urls) > 1:  # this replica does not serve the model
                return None, error, None, True
            raise _Fatal(error)
        if response.status_code == 429 or response.status_code >= 500:
            return None, f"HTTP {response.status_code}", retry_after_seconds(response.headers.get("retry-after")), False
        if response.status_code >= 400:
            return Reply(False, f"HTTP {response.status_code}: {response.text[:200]}"), "", None, False
        try:
            choice = response.json()["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None, f"malformed response (not a chat completion): {response.text[:200]!r}", None, False
        if choice.get("finish_reason") == "length":
            return Reply(False, f"reply cut at max_tokens={self.max_tokens} (finish_reason length)"), "", None, False
        if not isinstance(content, str) or not content.strip():
            return Reply(False, "empty reply (content null)" if content is None else "empty reply"), "", None, False
        return Reply(True, content), "", None, False

    def complete(self, conversations: Sequence[list[dict[str, Any]]], progress: Callable[[int], None] | None = None,
                 cache_key: Callable[[int], str] | None = None) -> list[Reply]:
        """Replies to each conversation (cached ones first, the rest concurrently, cached as they arrive).

        ``cache_key(i)`` may give the cache key of conversation i (e.g. without a large image);
        by default the key covers the model, settings and the whole conversation.
        """
        keys = [cache_key(i) if cache_key else self.request_key(list(c)) for i, c in enumerate(conversations)]
        replies: list[Reply | None] = [None] * len(conversations)
        todo = []
        for i, key in enumerate(keys):
            text = self.cache.get(key)
            if text is None:
                todo.append(i)
            else:
                replies[i] = Reply(True, text, cached=True)
        if progress and len(conversations) - len(todo):
            progress(len(conversations) - len(todo))
        with ThreadPoolExecutor(max_workers=self.concurrency * len(self.urls)) as pool:
            futures = {pool.submit(self._ask, list(conversations[i])): i for i in todo}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    reply = future.result()
                    if reply.ok:
                        self.cache.put(keys[i], reply.text)
                    replies[i] = reply
                    if progress:
                        progress(1)
            except _Fatal as exc:
                pool.shutdown(wait=False, cancel_futures=True)
                raise JudgeError(str(exc), hint="check the URL, the model name and the API key") from None
        return [r if r is not None else Reply(False, "not asked") for r in replies]

    def close(self) -> None:
        self._client.close()
        self.cache.close()
