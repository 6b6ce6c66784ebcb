"""SARLANG-1M's own text files, read as :class:`~sarlang.schema.Record` s.

The benchmark's ``Text`` folder (https://huggingface.co/datasets/YiminJimmy/SARLANG-1M) holds
captions as CSV with the columns ``Image Name``, ``Caption`` and question–answer pairs as CSV
with ``Image Name``, ``Question``, ``Answer`` (header cells may carry padding spaces), and the
same data as JSON lists of ``{"messages": [...], "images": [...]}`` conversations.

The files carry no application label, so it is inferred from the question's wording by
:func:`infer_application`, whose rules, tried in order, are:

0. a mask convention stated (:data:`sarlang.formats.masks.MASK_HINTS`), a question that starts
   with "segment", "segmentation mask", "its mask / outline / polygon" (a question answered with
   masks, as ``sarlang build --segmentation`` asks them) -> ``referring_segmentation``; then
   a box convention stated (``as [x, y, w, h] in pixels`` and the others of
   :data:`sarlang.formats.boxes.CONVENTION_HINTS`), "answer with its box", "give its box", "give
   the boxes of" (a question answered with boxes, as ``sarlang build --grounding`` asks them)
   -> ``visual_grounding``; then the wordings of a bi-temporal pair's records
   (:mod:`sarlang.corpus.change`): "describe the changes" -> ``image_description``, "how much
   of the area changed" -> ``change_extent``, "how many ... appeared/left ... two images" ->
   ``change_counting``, "what happened in the region [" -> ``change_region_referring``, "most
   of the change" -> ``change_positioning``, "what changed" -> ``change_classification``, "has
   anything changed" / "is there any change" -> ``change_detection``
1. "shape", "direction", "oriented", "orientation" (an attribute of an object, even one given
   by its box) -> ``others``
2. "more ... than", "fewer ... than", "more numerous" (a comparison of two categories) -> ``others``
3. a ``[x, y, w, h]`` box in the question -> ``region_referring``
4. "how many", "number of", "count" -> ``instance_counting``
5. "is there", "are there", "does ... contain/have/exist", "any ... in the image", "can a ... be
   seen" -> ``object_identification``
6. "where", "which part/side/region/area", "located", "location", "position" -> ``object_positioning``
7. "land cover", "land use" -> ``others``
8. "predominant", "dominant", "most common/frequent/numerous", "appears most often", "majority",
   "main/primary category/type/object" -> ``object_classification``
9. "describe", "description", "caption", "what is in/shown in this image" -> ``image_description``
10. anything else -> ``others`` (arrangement, reasoning, ...)

Every question template of ``sarlang build`` is inferred as the application it was built for, so
a build exported with ``export --to sarlang`` and read back keeps its applications.

The rule that fired is kept as the record's ``question_type`` (``sarlang1m:<rule>``), so
scores can be broken down by it.

How to cite SARLANG-1M: Wei et al., "SARLANG-1M: A Benchmark for Vision-Language Modeling in SAR
Image Understanding", IEEE Transactions on Geoscience and Remote Sensing, 2026.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

from sarlang.formats.boxes import CONVENTION_HINTS
from sarlang.formats.masks import MASK_HINTS
from sarlang.formats.prompts import caption_kind_from_prompt, unwrap_question
from sarlang.files import iter_csv, read_bytes
from sarlang.schema import Record, Reject, SchemaError

_BOX_ANSWER = re.compile("|".join([*(re.escape(hint.lower()) for hint in CONVENTION_HINTS.values()),
                                    r"\banswer with (?:its|their) box", r"\bgive (?:its|their) box", r"\bgive the boxes of\b"]))
_MASK_ANSWER = re.compile("|".join([*(re.escape(hint.lower()) for hint in MASK_HINTS.values()),
                                     r"^\s*segment\b", r"\bsegmentation mask\b", r"\b(?:its|their) (?:mask|outline|polygon)s?\b"]))
_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    # mask questions first: "segment the ship nearest the top left" holds grounding's words too
    ("referring_segmentation", "masks", _MASK_ANSWER),
    ("visual_grounding", "boxes", _BOX_ANSWER),
    # the questions of a bi-temporal pair (sarlang.corpus.change), before the single-image rules they resemble
    ("image_description", "describe_changes", re.compile(r"\bdescribe the changes?\b")),
    ("change_extent", "change_extent", re.compile(r"\bhow much of the (?:area|image) changed\b")),
    ("change_counting", "change_counting", re.compile(r"\bhow many\b.*\b(?:appeared|left|arrived|disappeared|came)\b.*\btwo (?:images|dates)\b")),
    ("change_region_referring", "change_region", re.compile(r"\b(?:what happened|what changed) in the (?:region|area) \[")),
    ("change_positioning", "change_where", re.compile(r"\bmost of the change\b")),
    ("change_classification", "change_what", re.compile(r"^\s*(?:what changed|what kind of change)\b")),
    ("change_detection", "change_any", re.compile(r"\bhas anything changed\b|\bis there any change\b|\bany change between\b")),
    ("others", "attribute", re.compile(r"\bshape\b|\bdirection\b|\boriented\b|\borientation\b")),
    ("others", "comparison", re.compile(r"\bmore\b.*\bthan\b|\bfewer\b.*\bthan\b|\bmore numerous\b")),
    ("region_referring", "box", re.compile(r"\[\s*-?\d+(?:\.\d+)?\s*,\s*-?\d+(?:\.\d+)?\s*,\s*-?\d+(?:\.\d+)?\s*,\s*-?\d+(?:\.\d+)?\s*\]")),
    ("instance_counting", "how_many", re.compile(r"\bhow many\b|\bnumber of\b|\bcount\b")),
    (
        "object_identification",
        "presence",
        re.compile(r"^\s*(?:is|are) there\b|\b(?:is|are) there (?:a|an|any)\b|\bdoes\b.*\b(?:contain|have|exist|include)\b|\bexist|\bcan an? .+ be seen\b"),
    ),
    (
        "object_positioning",
        "where",
        re.compile(r"\bwhere\b|\bwhich (?:part|side|region|area|portion|corner)\b|\blocated\b|\blocation\b|\bposition\b"),
    ),
    ("others", "land_cover", re.compile(r"\bland[- ]?(?:cover|use)\b")),
    (
        "object_classification",
        "predominant",
        re.compile(r"\bpredominant\b|\bdominant\b|\bmost (?:common|frequent|numerous|prevalent)\b|\bappears? most often\b|\bmajority\b|\b(?:main|primary) (?:category|type|object|class)\b"),
    ),
    ("image_description", "describe", re.compile(r"\bdescribe\b|\bdescription\b|\bcaption\b|\bwhat is (?:in|shown in) (?:this|the) image\b")),
)


def infer_application(question: str) -> tuple[str, str]:
    """(application, rule name) for a SARLANG-1M question, by the rules in the module docstring."""
    q = question.lower()
    for application, rule, pattern in _RULES:
        if pattern.search(q):
            return application, f"sarlang1m:{rule}"
    return "others", "sarlang1m:other"


def _header_index(header: list[str], name: str) -> int | None:
    names = [h.strip().lower() for h in header]
    return names.index(name.lower()) if name.lower() in names else None


def read_sarlang_csv(path: Path) -> tuple[list[Record], list[Reject]]:
    """A SARLANG-1M caption or VQA CSV (with its header) as records."""
    source = str(path)
    rejects: list[Reject] = []
    rows = iter_csv(read_bytes(path, "records file"), source, rejects)
    try:
        _, header = next(rows)
    except StopIteration:
        raise SchemaError(f"{path} has no header row") from None
    image_col = _header_index(header, "Image Name")
    caption_col = _header_index(header, "Caption")
    question_col = _header_index(header, "Question")
    answer_col = _header_index(header, "Answer")
    if image_col is None or (caption_col is None and (question_col is None or answer_col is None)):
        raise SchemaError(
            f"{path}: header {header!r} is not SARLANG-1M's ('Image Name','Caption' or 'Image Name','Question','Answer')"
        )
    width = len(header)
    records: list[Record] = []
    for number, row in rows:
        if len(row) != width:
            rejects.append(Reject(source, number, f"row has {len(row)} columns, the header has {width}"))
            continue
        image = row[image_col].strip()
        if caption_col is not None:
            question, answer = "", row[caption_col].strip()
            application, question_type = "image_description", "sarlang1m:caption"
        else:
            question, answer = row[question_col].strip(), row[answer_col].strip()
            application, question_type = infer_application(question)
        if not answer:
            rejects.append(Reject(source, number, "empty answer"))
            continue
        records.append(
            Record(
                id=f"{path.stem}:{number}",
                image=image,
                application=application,
                question=question,
                answer=answer,
                question_type=question_type,
                source="sarlang1m",
                provenance={"file": path.name, "line": number},
            )
        )
    return records, rejects


def strip_image_tags(text: str) -> str:
    return re.sub(r"<image>", "", text).strip()


def read_sarlang_json(path: Path) -> tuple[list[Record], list[Reject]]:
    """A SARLANG-1M JSON list of ``messages`` + ``images`` conversations as records (one per answered turn)."""
    source = str(path)
    try:
        data = json.loads(read_bytes(path, "records file").decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path} is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(data, list):
        raise SchemaError(f"{path}: expected a JSON list of conversations, found {type(data).__name__}")
    records: list[Record] = []
    rejects: list[Reject] = []
    for index, item in enumerate(data, start=1):
        messages = item.get("messages") if isinstance(item, dict) else None
        images = item.get("images") if isinstance(item, dict) else None
        if not isinstance(messages, list) or not messages:
            rejects.append(Reject(source, index, "conversation without 'messages'"))
            continue
        image = str(images[0]) if isinstance(images, list) and images else ""
        every = tuple(str(i) for i in images) if isinstance(images, list) and len(images) > 1 else ()
        turn = 0
        question = None
        for message in messages:
            if not isinstance(message, dict):
                continue
            role, content = message.get("role"), message.get("content")
            if not isinstance(content, str):
                continue
            if role == "user":
                question = unwrap_question(strip_image_tags(content))
            elif role == "assistant" and question is not None:
                turn += 1
                application, question_type = infer_application(question)
                if not content.strip():
                    rejects.append(Reject(source, index, f"turn {turn}: empty answer"))
                else:
                    records.append(
                        Record(
                            id=f"{path.stem}:{index}" + (f":{turn}" if turn > 1 else ""),
                            image=image,
                            application=application,
                            question=question,
                            answer=content.strip(),
                            question_type=question_type,
                            caption_kind=caption_kind_from_prompt(question) if application == "image_description" else None,
                            source="sarlang1m",
                            provenance={"file": path.name, "conversation": index, "turn": turn},
                            images=every,
                        )
                    )
                question = None
        if turn == 0:
            rejects.append(Reject(source, index, "conversation has no user question followed by an answer"))
    return records, rejects


def _split_of(path: Path) -> str:
    """The split a SARLANG-1M file holds, from its name (``VQA_train.csv``), or "" when it does not say."""
    name = path.stem.lower()
    return "train" if "train" in name else ("test" if "test" in name else "")


def _caption_kind(prompt: str, caption: str, file_name: str) -> str:
    """Concise or detailed: from the prompt when it says ("in detail", "one sentence"), else by length."""
    return caption_kind_from_prompt(prompt) or ("detailed" if "test1" not in file_name and len(caption.split()) > 30 else "concise")


def read(path: str, notes: list[str] | None = None) -> Iterator[Record | Reject]:
    """SARLANG-1M's ``Text`` folder (or one of its files) as a build source: finished records.

    Each record's ``split`` is the one its file name gives (``Caption_train.csv``), or "" for the
    build to assign; a caption's ``caption_kind`` comes from its prompt, else from its length. A
    split given both as CSV and as JSON (SARLANG-1M's ``Text`` folder, ``sarlang export --to
    sarlang``) is read once, from the JSON, whose prompts tell concise from detailed captions; the
    CSV files passed over are named in ``notes``. A file that cannot be read is a reject.

    Raises:
        InputError: the path holds no CSV or JSON file.
    """
    from sarlang.errors import InputError
    from sarlang.formats.records import load_records

    p = Path(path)
    # a folder written by ``sarlang export --to sarlang`` also holds the export's description
    files = sorted(f for f in p.rglob("*") if f.suffix.lower() in (".csv", ".json") and f.name != "export_sarlang.json") if p.is_dir() else [p]
    if not files:
        raise InputError(f"no SARLANG-1M CSV or JSON files in '{p}'")
    json_splits = {(f.parent, _split_of(f)) for f in files if f.suffix.lower() == ".json" and _split_of(f)}
    skipped = [f for f in files if f.suffix.lower() == ".csv" and (f.parent, _split_of(f)) in json_splits]
    if skipped and notes is not None:
        notes.append(f"{len(skipped)} CSV files hold the same split as a JSON file and were not read again: "
                     + ", ".join(f.name for f in skipped[:4]))
    for f in (f for f in files if f not in skipped):
        try:
            records, file_rejects = load_records(f)
        except InputError as exc:
            yield Reject(str(f), 0, str(exc))
            continue
        yield from file_rejects
        name = f.stem.lower()
        for record in records:
            kind = record.caption_kind
            if record.is_caption and kind is None:
                kind = _caption_kind(record.question, record.answer, name)
            yield dataclasses.replace(record, split=_split_of(f), source="sarlang1m", caption_kind=kind)
