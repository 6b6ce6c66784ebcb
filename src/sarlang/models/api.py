"""Any OpenAI-compatible chat endpoint as a model (GPT-4o, a vLLM or Ollama server), or several
servers of one model (vLLM data-parallel replicas): ``api:MODEL@URL1,URL2,...``.

Images go as base64 data URLs next to the prompt; requests are concurrent, spread over the
servers (the least busy first, each server's queue kept full), retried on another server when
one fails, and cached on disk (:class:`sarlang.chat.ChatClient`), so a killed prediction run
resumes without asking anything twice. A request that fails after its retries gives None, not
an empty answer, so it is reported and asked again on the next run instead of scored as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sarlang.chat import ChatClient, ReplyCache, default_cache_path, image_content
from sarlang.models.base import VisionLanguageModel


class ApiModel(VisionLanguageModel):
    """``base_url``: one server's API root or a list of them (replicas serving ``model``);
    ``concurrency`` requests in flight per server."""

    remote = True

    def __init__(self, base_url: str | Sequence[str], model: str, api_key: str | None = None, cache_path: Path | None = None,
                 concurrency: int = 8, max_tokens: int = 256, **client_options: Any) -> None:
        self.base_urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.model = model
        self.failures: list[str] = []
        self.client = ChatClient(base_url, model, api_key, cache_path or default_cache_path("model-cache.sqlite"),
                                 concurrency=concurrency, max_tokens=max_tokens, **client_options)

    def answer(self, batch: Sequence[tuple[str, str]]) -> list[str | None]:
        """Replies, with None where the endpoint gave none (the reason is appended to ``failures``)."""
        conversations = [_messages(image, prompt) for image, prompt in batch]
        # the cache key names the image by path, size and modification time, not by its base64 text,
        # and holds everything else that changes a reply: the endpoint, the model and its settings
        keys = []
        for image, prompt in batch:
            stat = Path(image).stat()
            keys.append(ReplyCache.key(self.client.url, self.model, self.client.temperature, self.client.max_tokens,
                                       str(Path(image).resolve()), stat.st_size, stat.st_mtime_ns, prompt))
        replies = self.client.complete(conversations, cache_key=lambda i: keys[i])
        self.failures.extend(r.text for r in replies if not r.ok)
        return [r.text if r.ok else None for r in replies]

    def save(self, directory: str | Path) -> None:
        """``api.json``: what identifies the endpoint and model (no weights to save)."""
        from sarlang.files import atomic_write_json

        atomic_write_json(Path(directory) / "api.json", self.info())

    def info(self) -> dict[str, Any]:
        """The backend every prediction records: the servers (in the id), the model name and the generation settings."""
        return {"id": f"api:{self.model}@{','.join(self.base_urls)}", "temperature": self.client.temperature, "max_tokens": self.client.max_tokens}

    def served(self) -> list[dict[str, Any]]:
        """Per server: replies received, failed attempts and the last failure's reason."""
        return [dict(entry) for entry in self.client.served]

    def close(self) -> None:
        self.client.close()


def claims(spec: str) -> bool:
    """``api:MODEL@URL`` names an OpenAI-compatible endpoint."""
    return spec.startswith("api:")


def load(spec: str) -> ApiModel:
    """The API model of ``api:MODEL@URL`` or ``api:MODEL@URL1,URL2,...`` (servers of the same
    model; the key from ``OPENAI_API_KEY``)."""
    from sarlang.chat import endpoint
    from sarlang.errors import InputError

    model, sep, urls = spec[4:].partition("@")
    servers = [u.strip() for u in urls.split(",")]
    if not sep or not model or not all(servers):
        raise InputError(f"API model spec '{spec}' is not api:MODEL@URL or api:MODEL@URL1,URL2,...",
                         hint="e.g. api:gpt-4o@https://api.openai.com/v1, or api:Qwen/Qwen2.5-VL-3B-Instruct@http://gpu1:8000/v1,http://gpu2:8000/v1")
    return ApiModel(servers if len(servers) > 1 else servers[0], model, api_key=endpoint(servers[0], None)[1])


def _messages(image: str, prompt: str) -> list[dict[str, Any]]:
    """The chat of one prompt: the image and the prompt in one user message, or, for a prompt with
    earlier turns (:class:`~sarlang.formats.prompts.ContextPrompt`), those turns as user and
    assistant messages (the image in the first) and the passages before the last question."""
    turns = getattr(prompt, "turns", ())
    last = prompt.user_text() if hasattr(prompt, "user_text") else prompt
    messages: list[dict[str, Any]] = []
    for asked, answered in turns:
        messages += [{"role": "user", "content": [*([image_content(image)] if not messages else []), {"type": "text", "text": asked}]},
                     {"role": "assistant", "content": answered}]
    messages.append({"role": "user", "content": [*([image_content(image)] if not messages else []), {"type": "text", "text": last}]})
    return messages
