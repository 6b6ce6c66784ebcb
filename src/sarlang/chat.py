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
        base_url: str,
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

        if not base_url.startswith(("http://", "https://")):
            raise JudgeError(f"URL '{base_url}' is not an http(s) URL", hint="e.g. https://api.openai.com/v1 or http://localhost:8000/v1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
        self._httpx = httpx
        self.cache = ReplyCache(cache_path or default_cache_path())

    def request_key(self, messages: list[dict[str, Any]]) -> str:
        return ReplyCache.key(self.url, self.model, self.temperature, self.max_tokens, messages)

    def _ask(self, messages: list[dict[str, Any]]) -> Reply:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature, "max_tokens": self.max_tokens}
        delay = self.backoff
        wait = 0.0
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(wait)
            wait = min(delay, 60.0)
            delay *= 2
            try:
                response = self._client.post(self.url, json=body)
            except self._httpx.TimeoutException:
                last_error = "timed out"
                continue
            except self._httpx.TransportError as exc:
                last_error = f"connection failed: {exc}"
                continue
            if response.status_code in (401, 403, 404):
                raise _Fatal(f"the endpoint {self.url} answered HTTP {response.status_code}: {response.text[:200]}")
            if response.status_code == 429 or response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                asked_wait = retry_after_seconds(response.headers.get("retry-after"))
                if asked_wait is not None:
                    wait = asked_wait
                continue
            if response.status_code >= 400:
                return Reply(False, f"HTTP {response.status_code}: {response.text[:200]}")
            try:
                choice = response.json()["choices"][0]
                content = choice["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                last_error = f"malformed response (not a chat completion): {response.text[:200]!r}"
                continue
            if choice.get("finish_reason") == "length":
                return Reply(False, f"reply cut at max_tokens={self.max_tokens} (finish_reason length)")
            if not isinstance(content, str) or not content.strip():
                return Reply(False, "empty reply (content null)" if content is None else "empty reply")
            return Reply(True, content)
        return Reply(False, f"{last_error} after {self.retries + 1} attempts")

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
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
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
