"""The files trainers and evaluators read, read back as :class:`~sarlang.schema.Record` s.

Another tool writes its predictions in the order of the file it was given, so that file is
the ground truth to join them to: ``sarlang eval --records`` accepts the exports of
``sarlang export`` as they are.

``llava_<split>.json``    LLaVA: ``{"id", "image", "conversations": [{"from": "human"|"gpt", "value"}]}``;
                          the id is the record's id.
``sharegpt_<split>.json`` ShareGPT ``messages`` + ``images`` (read as SARLANG-1M's JSON, the same layout).
``SARLANG_<split>.tsv``   VLMEvalKit: ``index``, ``image_path`` (or ``image``), ``question``,
                          ``answer``, ``category`` (the application), ``l2-category``, ``split``.

Questions are taken out of the prompt wrapper the export put around them
(:func:`sarlang.formats.prompts.unwrap_question`). The application is the TSV's category when it
names one, else inferred from the question (:func:`sarlang.formats.sarlang1m.infer_application`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sarlang.formats.prompts import caption_kind_from_prompt, unwrap_question
from sarlang.formats.sarlang1m import infer_application, strip_image_tags
from sarlang.files import read_bytes
from sarlang.schema import APPLICATIONS, Record, Reject, SchemaError


def _record(rid: str, image: str | list[str], question: str, answer: str, application: str = "", question_type: str = "",
            split: str = "", source: str = "") -> Record:
    images = tuple(str(i) for i in image) if isinstance(image, list) and len(image) > 1 else ()
    image = str(image[0]) if isinstance(image, list) and image else ("" if isinstance(image, list) else image)
    question = unwrap_question(strip_image_tags(question))
    if application not in APPLICATIONS:
        application, question_type = infer_application(question)
    kind = caption_kind_from_prompt(question) if application == "image_description" else None
    return Record(id=rid, image=image, application=application, question=question, answer=answer.strip(),
                  question_type=question_type, caption_kind=kind, split=split, source=source, images=images)


def read_llava_json(path: Path, data: list[Any]) -> tuple[list[Record], list[Reject]]:
    """A LLaVA conversation file: one record per answered turn (the id is kept, turns after the first get ``:N``)."""
    source = str(path)
    records: list[Record] = []
    rejects: list[Reject] = []
    for index, item in enumerate(data, start=1):
        turns = item.get("conversations") if isinstance(item, dict) else None
        if not isinstance(turns, list):
            rejects.append(Reject(source, index, "entry without 'conversations'"))
            continue
        question, turn = None, 0
        for message in turns:
            if not isinstance(message, dict) or not isinstance(message.get("value"), str):
                continue
            if message.get("from") in ("human", "user"):
                question = message["value"]
            elif message.get("from") in ("gpt", "assistant") and question is not None:
                turn += 1
                rid = str(item.get("id", f"{path.stem}:{index}")) + (f":{turn}" if turn > 1 else "")
                if message["value"].strip():
                    shown = item.get("image", "")
                    records.append(_record(rid, shown if isinstance(shown, list) else str(shown), question, message["value"], source="llava"))
                else:
                    rejects.append(Reject(source, index, f"turn {turn}: empty answer", id=rid))
                question = None
        if turn == 0:
            rejects.append(Reject(source, index, "conversation has no question followed by an answer"))
    return records, rejects


def read_vlmevalkit_tsv(path: Path) -> tuple[list[Record], list[Reject]]:
    """A VLMEvalKit dataset TSV (as ``sarlang export --to vlmevalkit`` writes it) as records."""
    source = str(path)
    text = read_bytes(path, "records file").decode("utf-8-sig", errors="replace")
    # quoted cells as pandas (VLMEvalKit) reads them: sarlang quotes a cell with a tab, a quote or a line break
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
    fields = set(reader.fieldnames or [])
    if not {"index", "question", "answer"} <= fields:
        raise SchemaError(f"{path}: a VLMEvalKit TSV needs the columns index, question and answer (found {sorted(fields)})")
    records: list[Record] = []
    rejects: list[Reject] = []
    for number, row in enumerate(reader, start=2):
        if not (row.get("answer") or "").strip():
            rejects.append(Reject(source, number, "empty answer", id=str(row.get("index", ""))))
            continue
        path = row.get("image_path") or ""
        if path.startswith("[") and path.endswith("]"):  # a pair: the list text VLMEvalKit's multi-image rows hold
            import ast

            try:
                path = [str(p) for p in ast.literal_eval(path)]
            except (ValueError, SyntaxError):
                pass
        records.append(_record(str(row["index"]), path, row.get("question") or "", row["answer"],
                               row.get("category") or "", row.get("l2-category") or "", row.get("split") or "", "vlmevalkit"))
    return records, rejects


def json_kind(data: Any) -> str:
    """``llava``, ``messages`` (ShareGPT / SARLANG-1M) or ``unknown`` for a parsed JSON records file."""
    first = next((item for item in data if isinstance(item, dict)), None) if isinstance(data, list) else None
    if first is None:
        return "unknown"
    if "conversations" in first:
        return "llava"
    return "messages" if "messages" in first else "unknown"


def load_json_records(path: Path) -> tuple[list[Record], list[Reject]]:
    """A JSON records file of any of the conversation layouts."""
    from sarlang.formats.sarlang1m import read_sarlang_json

    try:
        data = json.loads(read_bytes(path, "records file").decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path} is not valid UTF-8 JSON: {exc}") from None
    if json_kind(data) == "llava":
        return read_llava_json(path, data)
    return read_sarlang_json(path)
