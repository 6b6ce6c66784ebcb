"""ms-swift's inference JSONL: ``{"response", "labels", "messages", "images"}`` (ms-swift 3) or
``{"query", "response", "label"}`` (ms-swift 2)."""

from __future__ import annotations

from pathlib import Path

from sarlang.files import iter_jsonl
from sarlang.formats.predictions import Row, json_keys, question_from_prompt, text_value
from sarlang.formats.sarlang1m import strip_image_tags
from sarlang.schema import Reject

PRIORITY = 30


def detect(data: bytes, path: Path) -> bool:
    """Is this ms-swift's inference JSONL (``response`` with ``labels`` or ``messages``)?

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    keys = json_keys(data)
    return "response" in keys and bool(keys & {"labels", "label", "messages", "query"})


def rows(data: bytes, path: Path, rejects: list[Reject], notes: list[str]) -> list[Row]:
    """The rows of ms-swift's inference JSONL (``response`` with ``labels`` or ``messages``).

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    source = str(path)
    found: list[Row] = []
    for number, obj in iter_jsonl(data, source, rejects):
        if not isinstance(obj, dict) or "response" not in obj:
            rejects.append(Reject(source, number, "row lacks 'response'"))
            continue
        pred = text_value(obj["response"])
        label = text_value(obj.get("labels", obj.get("label")))
        if pred is None or label is None:
            rejects.append(Reject(source, number, "'response' and 'labels' must be strings"))
            continue
        question = ""
        messages = obj.get("messages")
        if isinstance(messages, list):
            users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            question = next((u for u in reversed(users) if isinstance(u, str)), "")
        elif isinstance(obj.get("query"), str):
            question = obj["query"]
        images = obj.get("images")
        image = ""
        if isinstance(images, list) and images:
            first = images[0]
            image = first.get("path", "") if isinstance(first, dict) else str(first)
        found.append((number, pred, label.strip(), question_from_prompt(strip_image_tags(question)), image))
    return found
