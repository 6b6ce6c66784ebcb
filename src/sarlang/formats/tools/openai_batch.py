"""The output file of an OpenAI-style batch run: ``{"custom_id", "response", "error"}`` per line.

Written by the OpenAI Batch API and by vLLM's ``python -m vllm.entrypoints.openai.run_batch``
(same layout): ``response.body`` is the chat completion (``choices[0].message.content``) or text
completion (``choices[0].text``) of the request whose ``custom_id`` the batch input gave. Give each
request the record's ``id`` as its ``custom_id``; rows are then joined to the records by id, in
whatever order the batch returned them. A failed request (an ``error``, a status other than 200,
no content) is a reject with the reason; answers cut at the token limit (``finish_reason:
length``) are scored as written and counted in a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sarlang.files import iter_jsonl
from sarlang.formats.predictions import IdRow, json_keys, text_value
from sarlang.schema import Reject
from sarlang.vocabulary import counted

PRIORITY = 20
JOIN = "id"


def detect(data: bytes, path: Path) -> bool:
    """Is this a batch output file (a first line with ``custom_id`` and ``response``)?

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    return {"custom_id", "response"} <= json_keys(data)


def _failure(obj: dict[str, Any]) -> str:
    """Why a line holds no answer, or "" when it holds one."""
    error = obj.get("error")
    if error:
        message = error.get("message") or error.get("code") if isinstance(error, dict) else error
        return f"the request failed: {str(message)[:200]}"
    response = obj.get("response")
    if not isinstance(response, dict):
        return "no response"
    status = response.get("status_code")
    if status != 200:
        return f"the request failed with status {status}"
    choices = (response.get("body") or {}).get("choices") if isinstance(response.get("body"), dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "the response has no choices (not a chat or text completion)"
    return ""


def rows(data: bytes, path: Path, rejects: list[Reject], notes: list[str]) -> list[IdRow]:
    """The ``(row number, record id, answer)`` of each answered request.

    Arguments and result: the format contract of :mod:`sarlang.formats.tools`.
    """
    source = str(path)
    found: list[IdRow] = []
    cut = 0
    for number, obj in iter_jsonl(data, source, rejects):
        rid = text_value(obj.get("custom_id")) if isinstance(obj, dict) else None
        if not rid:
            rejects.append(Reject(source, number, "line has no custom_id"))
            continue
        reason = _failure(obj)
        if reason:
            rejects.append(Reject(source, number, reason, id=rid))
            continue
        choice = obj["response"]["body"]["choices"][0]
        message = choice.get("message")
        raw = message.get("content") if isinstance(message, dict) else choice.get("text")
        answer = None if raw is None else text_value(raw)
        if answer is None:
            rejects.append(Reject(source, number, f"no answer: the content is null (finish_reason {choice.get('finish_reason')})", id=rid))
            continue
        cut += choice.get("finish_reason") == "length"
        found.append((number, rid, answer))
    if cut:
        notes.append(f"{counted(cut, 'answer')} cut at the token limit (finish_reason length), scored as written")
    return found
