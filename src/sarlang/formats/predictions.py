"""Prediction files, joined to their ground truth as :class:`EvalItem` s.

Formats (``--format``): one module per tool in :mod:`sarlang.formats.tools` (found by the
registry; ``auto`` asks each module whether a file is its own): ``jsonl``, ours (``{"id",
"prediction"}`` per line, joined to a records file by ``id``), ``openai-batch`` (a batch run's
output, joined by ``custom_id``), ``llamafactory`` (``generated_predictions.jsonl``), ``swift``
(ms-swift's inference JSONL), ``vlmevalkit`` (VLMEvalKit's ``.xlsx``/``.tsv`` result) and
``sarlang-csv`` (SARLANG-1M's ``VQA_result.csv``).

With ``--records``, other tools' rows are joined to the records they answer, whatever split and
task the file holds (:func:`_join_by_content`: in order against each split, a prefix accepted,
else by question and answer); ``sarlang-csv`` rows by image and question. Every row that cannot
be scored becomes a :class:`Reject` with its reason. For captions joined to records, the
references of an image are all its captions of the same kind, and the first prediction for an
image is the one scored.
"""

from __future__ import annotations

import bisect
import inspect
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarlang.errors import FormatDetectionError, InputError, TaskMismatch
from sarlang.formats.records import load_records
from sarlang.formats.prompts import unwrap_question
from sarlang.formats.sarlang1m import infer_application
from sarlang.files import read_bytes
from sarlang.registry import Plugins
from sarlang.schema import BOX_APPLICATIONS, MASK_APPLICATIONS, EvalItem, Record, Reject
from sarlang.vocabulary import counted

#: Other tools' prediction files, one module each in :mod:`sarlang.formats.tools`.
PREDICTION_FORMATS = Plugins("prediction format", "sarlang.formats.tools", "rows", "sarlang.prediction_formats")


def format_names() -> tuple[str, ...]:
    """Every ``--format``: ``auto``, each tool's format, and ``jsonl`` (ours)."""
    return ("auto", *PREDICTION_FORMATS.names())
#: ``captions``, ``vqa`` (the questions answered in words) and ``grounding`` (answered with boxes).
TASKS: tuple[str, ...] = ("captions", "vqa", "grounding", "segmentation")
#: What a record of each task is called in messages.
TASK_NOUNS: dict[str, str] = {"captions": "caption", "vqa": "question", "grounding": "visual-grounding", "segmentation": "referring-segmentation"}


@dataclass
class LoadedItems:
    """What a prediction file gave: items to score, rejected rows, and counts for the summary."""

    items: list[EvalItem]
    rejects: list[Reject]
    format: str
    rows: int
    empty_predictions: int = 0
    notes: list[str] = field(default_factory=list)
    #: where the ground truth came from (resolved path; None when the predictions carry it) and which split
    records: str | None = None
    split: str = "auto"

    def summary(self) -> dict[str, Any]:
        """What was read, scored and left out (by reason), for reports and score files."""
        reasons = Counter(r.reason for r in self.rejects)
        return {"format": self.format, "rows": self.rows, "scored": len(self.items), "rejected": len(self.rejects),
                "empty_predictions": self.empty_predictions, "rejects_by_reason": dict(reasons.most_common()), "notes": list(self.notes)}

    def score_file(self, scores: dict[str, Any], source: str | Path, per_sample: dict[str, list[float]] | None = None) -> dict[str, Any]:
        """The JSON ``sarlang eval --json`` writes (and ``eval compare`` reads): scores, input, summary, rejects.

        ``per_sample`` (caption scores per image) is stored with the item ids, for paired comparisons.
        """
        from sarlang.files import file_sha256
        from sarlang.formats.records import records_file

        # fingerprints of what was scored, so a report made later can tell a file that changed since
        result = {**scores, "input": str(Path(source).resolve()), "input_sha256": file_sha256(source), "records": self.records,
                  "records_sha256": file_sha256(records_file(self.records)) if self.records else None, "split": self.split,
                  "summary": self.summary(), "rejects": [r.to_dict() for r in self.rejects]}
        if per_sample is not None:
            result["per_sample"] = {"id": [it.id for it in self.items], **per_sample}
        return result


# ---------------------------------------------------------------------------------------------
# prompts

_SPECIAL_TOKEN = re.compile(r"<\|[^|>]*\|>|<image>|<img>.*?</img>|<fake_token_around_image>|<global-img>|<row_\d+_col_\d+>")


def question_from_prompt(prompt: str) -> str:
    """The user's question inside a chat-templated prompt (Qwen/ChatML, LLaVA, Llama, or plain)."""
    text = prompt
    for start, end in (("<|im_start|>user", "<|im_end|>"), ("USER:", "ASSISTANT:"), ("[INST]", "[/INST]"), ("User:", "Assistant:")):
        if start in text:
            text = text.rsplit(start, 1)[1]
            text = text.split(end, 1)[0]
            break
    text = _SPECIAL_TOKEN.sub("", text).strip()
    return unwrap_question(text)


# ---------------------------------------------------------------------------------------------
# detection


def json_keys(data: bytes) -> set[str]:
    """The keys of a JSONL file's first row (empty when it is not a JSON object)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        return set()
    try:
        row = json.loads(head.split(b"\n", 1)[0].decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return set()
    return set(row) if isinstance(row, dict) else set()


def _by_priority() -> list[str]:
    return sorted(PREDICTION_FORMATS.names(), key=lambda name: getattr(_module(name), "PRIORITY", 50))


def _module(name: str) -> Any:
    return inspect.getmodule(PREDICTION_FORMATS.get(name))


def detect_format(data: bytes, path: Path) -> str:
    """Which prediction format a file is in, from its suffix and first row (``jsonl``: our ``id`` + ``prediction``)."""
    for name in _by_priority():
        if _module(name).detect(data, path):
            return name
    keys = json_keys(data)
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        raise FormatDetectionError(f"cannot tell the format of '{path}': it is neither JSONL, CSV nor a VLMEvalKit result", hint="pass --format")
    if not keys:
        raise FormatDetectionError(f"cannot tell the format of '{path}': its first line is not JSON", hint="pass --format")
    raise FormatDetectionError(
        f"cannot tell the format of '{path}' from the keys {sorted(keys)}",
        hint="expected predict+label (llamafactory), response+labels (swift) or id+prediction (jsonl); or pass --format",
    )


# ---------------------------------------------------------------------------------------------
# rows of each format: (row number, prediction, label or None, question, image)

Row = tuple[int, str, str | None, str, str]
#: A row of a format joined by record id (``JOIN = "id"``): (row number, record id, prediction).
IdRow = tuple[int, str, str]


def text_value(value: Any) -> str | None:
    """A cell as text (numbers too), "" for null, None for anything else."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------------------------------
# joining


def task_of(record: Record) -> str:
    """The ``sarlang eval`` task that scores a record: ``captions``, ``vqa``, ``grounding`` or ``segmentation``."""
    if record.is_caption:
        return "captions"
    return _task_of_application(record.application)


def _task_of_application(application: str) -> str:
    if application == "image_description":
        return "captions"
    return "grounding" if application in BOX_APPLICATIONS else "segmentation" if application in MASK_APPLICATIONS else "vqa"


def _task_records(records: list[Record], task: str) -> list[Record]:
    return [r for r in records if task_of(r) == task]


def _caption_references(records: list[Record]) -> dict[tuple[str, str | None], list[str]]:
    refs: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for r in records:
        refs[(r.image, r.caption_kind)].append(r.answer)
    return refs


def _item_from_record(record: Record, prediction: str, row: int, references: list[str] | None = None) -> EvalItem:
    return EvalItem(
        id=record.id,
        prediction=prediction,
        references=tuple(references or [record.answer]),
        question=record.question,
        application=record.application,
        question_type=record.question_type,
        image=record.image,
        row=row,
        turn=record.turn,
    )


def load_eval_items(path: str | Path, fmt: str = "auto", records_path: str | Path | None = None, task: str = "vqa",
                    split: str = "auto") -> LoadedItems:
    """Read a prediction file and join it to its ground truth (see the module docstring).

    Parameters
    ----------
    path:
        The prediction file (ours, LLaMA-Factory's, ms-swift's, VLMEvalKit's, SARLANG-1M's CSV).
    fmt:
        Its format, or ``auto`` to detect it.
    records_path:
        The ground truth: a build folder, records file or the export the tool read; without it
        the file's own labels are used.
    task:
        ``vqa`` or ``captions``: the rows of the other task are left aside and counted.
    split:
        A split name, ``all``, or ``auto`` (the split that was predicted).

    Returns
    -------
    LoadedItems
        The items to score, the rejects with reasons, counts and notes.

    Raises
    ------
    InputError
        A missing or empty file, an unknown format or task, records of no such split, or a file
        holding only the other task.
    """
    if fmt not in format_names():
        raise InputError(f"unknown format '{fmt}'", hint=f"use one of {', '.join(format_names())}")
    if task not in TASKS:
        raise InputError(f"unknown task '{task}'")
    p = Path(path)
    data, read_as = _as_utf8_lines(read_bytes(p, "prediction file"), p)
    if fmt == "auto":
        fmt = detect_format(data, p)
    tool = _module(fmt)
    joined_by_id = getattr(tool, "JOIN", "content") == "id"
    if task == "captions" and not getattr(tool, "CAPTIONS", True):
        raise TaskMismatch(
            f"a {fmt} file holds no captions, only answers", held=["vqa"],
            hint="score captions from LLaMA-Factory's generated_predictions.jsonl (--format llamafactory)",
        )
    if joined_by_id and records_path is None:
        raise InputError(f"a {fmt} file holds only record ids and predictions", hint="pass the records file with --records")
    source = str(p)
    rejects: list[Reject] = []
    notes: list[str] = [read_as] if read_as else []
    records: list[Record] | None = None
    other_ids: dict[str, str] = {}
    if records_path is not None:
        all_records, record_rejects = load_records(records_path)
        rejects.extend(record_rejects)
        if split not in ("auto", "all"):
            splits = sorted({r.split for r in all_records})
            all_records = [r for r in all_records if r.split == split]
            if not all_records:
                raise InputError(f"records file '{records_path}' has no records of split '{split}'",
                                 hint=f"its splits: {', '.join(splits) or '(none)'}; or pass --split all")
        records = _task_records(all_records, task)
        other_ids = {r.id: task_of(r) for r in all_records if task_of(r) != task}
        if not records:
            kind = TASK_NOUNS[task]
            held = [t for t in TASKS if t != task and _task_records(all_records, t)]
            hint = (f"it holds {' and '.join(held)}: score them with sarlang eval {held[0]}" if held
                    else "sarlang build writes them (--grounding CONVENTION for box questions)")
            raise TaskMismatch(f"records file '{records_path}' holds no {kind} records", held=held, hint=hint)

    rows = tool.rows(data, p, rejects, notes)
    n_rows = len(rows) + sum(1 for r in rejects if r.source == source)
    if joined_by_id:
        assert records is not None
        items = _join_by_id(rows, source, records, task, rejects, other_ids, notes, split == "auto")
    elif records is None:
        items = _items_without_records(rows, source, task, rejects, notes)
    elif getattr(tool, "JOIN", "content") == "image_question":
        items = _join_by_image_question(rows, source, records, rejects)
    else:
        items = _join_by_content(rows, source, all_records, task, rejects, notes)
    if task == "captions" and records is not None:
        items = _one_per_image(items, records, source, rejects)
    return LoadedItems(
        items=items,
        rejects=rejects,
        format=fmt,
        rows=n_rows,
        empty_predictions=sum(1 for it in items if not it.prediction.strip()),
        notes=notes,
        records=None if records_path is None else str(Path(records_path).resolve()),
        split=split,
    )


_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _as_utf8_lines(data: bytes, path: Path) -> tuple[bytes, str | None]:
    """A prediction file's bytes as UTF-8 lines, and what was done to get them: a file saved as
    UTF-16 or UTF-32 (with its byte-order mark, as Windows tools save "Unicode text") is
    decoded; a JSON array of row objects (a list dumped whole) becomes one row per line. Anything
    else is returned as it is (its rows are then read, or rejected, by their format)."""
    note = None
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                data = data[len(bom):].decode(encoding).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"'{path}' starts as {encoding.upper()} but is not: {exc.reason} at byte {exc.start}",
                                 hint="save it as UTF-8") from None
            note = f"read as {'-'.join(encoding.split('-')[:2]).upper()} (its byte-order mark says so), not UTF-8"
            break
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"[") and path.suffix.lower() in (".json", ".jsonl", ""):
        try:
            rows = json.loads(head.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return data, note
        if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
            data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
            note = ((note + "; ") if note else "") + f"a JSON array of {len(rows)} rows, read one row per element"
    return data, note


def is_caption_prompt(question: str) -> bool | None:
    """Whether a row's prompt asks for a caption (True), a question's answer (False), or cannot tell (None, no prompt)."""
    if not question.strip():
        return None
    return infer_application(question)[0] == "image_description"


def task_of_question(question: str) -> str | None:
    """The task of a row known only by its prompt: ``captions``, ``grounding`` (a question that
    asks for boxes), ``vqa``; None without a prompt."""
    if not question.strip():
        return None
    return _task_of_application(infer_application(question)[0])


def _items_without_records(rows: list[Row], source: str, task: str, rejects: list[Reject], notes: list[str]) -> list[EvalItem]:
    items: list[EvalItem] = []
    # a file may mix captions, questions and box questions (LLaMA-Factory writes one row per
    # example of its dataset): rows of another task are left aside, never scored as this one
    tasks = [task_of_question(row[3]) for row in rows]
    kept = [row for row, t in zip(rows, tasks) if t in (task, None)]
    aside = Counter(t for t in tasks if t not in (task, None))
    if aside:
        other = " and ".join(TASK_NOUNS[t] for t in sorted(aside))
        elsewhere = " / ".join(f"sarlang eval {t}" for t in sorted(aside))
        if not kept:
            raise TaskMismatch(f"'{source}' holds only {other} rows ({sum(aside.values())}), no {TASK_NOUNS[task]} rows", held=sorted(aside),
                               hint=f"score it with {elsewhere}")
        notes.append(f"{sum(aside.values())} {other} rows left aside (score them with {elsewhere})")
        rows = kept
    for number, pred, label, question, image in rows:
        if not (label or "").strip():
            rejects.append(Reject(source, number, "empty ground truth"))
            continue
        if task == "captions":
            application, question_type = "image_description", "caption"
        else:
            application, question_type = infer_application(question)
        items.append(EvalItem(str(number), pred, (label or "",), question, application, question_type, image, number))
    return items


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?.! ")


def _asks(row_question: str, record: Record) -> bool:
    """Whether a row's prompt asks the record's question (or caption prompt)."""
    if not row_question.strip():
        return True  # no prompt to check: the label alone decides
    asked, question = _norm(row_question), _norm(record.question)
    return asked == question or (bool(question) and question in asked)


def _next_unused(candidates: list[int], used: set[int], after: int) -> int | None:
    """The first unused index after ``after`` in the sorted ``candidates``, else the first unused one.

    Rows usually come in record order, so this is a binary search and a step or two, not a scan
    of every record sharing the pair (thousands for "Is there a ship ...? yes").
    """
    start = bisect.bisect_right(candidates, after)
    for i in range(start, len(candidates)):
        if candidates[i] not in used:
            return candidates[i]
    return next((i for i in candidates[:start] if i not in used), None)


def _join_by_content(rows: list[Row], source: str, records: list[Record], task: str, rejects: list[Reject],
                     notes: list[str]) -> list[EvalItem]:
    """Rows of another tool joined to the records they answer, whatever split, task or length the file has.

    A tool writes one row per example of the file it was given, in that file's order, possibly
    only the first N. So the rows are first tried, in order, against the records of each split
    and of the whole file (a row matches when its label is the record's answer and its prompt
    asks the record's question); when that fails they are matched by content (answer and
    question), in order where the same pair repeats. Rows of the other task are left aside and
    counted; rows no record answers are rejects with the reason.
    """
    wanted = task == "captions"
    splits = list(dict.fromkeys(r.split for r in records))
    sequences = [(f"split '{s}'" if s else "the records file", [r for r in records if r.split == s]) for s in splits]
    sequences.append(("the records file", records))
    matched: list[tuple[Row, Record]] = []
    for name, sequence in sequences:
        if rows and len(rows) <= len(sequence) and all(
            (label or "").strip() == rec.answer.strip() and _asks(question, rec)
            for (_, _, label, question, _), rec in zip(rows, sequence)
        ):
            matched = list(zip(rows, sequence))
            if len(rows) < len(sequence):
                notes.append(f"the rows are the first {len(rows)} of the {counted(len(sequence), 'record')} of {name}, in order "
                             "(a tool given max_samples writes a prefix)")
            break
    else:
        by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
        by_question: dict[str, list[int]] = defaultdict(list)
        for index, rec in enumerate(records):
            by_pair[(rec.answer.strip(), _norm(rec.question))].append(index)
            by_question[_norm(rec.question)].append(index)
        used: set[int] = set()
        last = -1
        for row in rows:
            number, _, label, question, _ = row
            pick = _next_unused(by_pair.get(((label or "").strip(), _norm(question)), []), used, last)
            if pick is None:
                answered = _next_unused(by_question.get(_norm(question), []), used, -1)
                reason = (f"the label {(label or '')[:60]!r} differs from the answer of record {records[answered].id}"
                          if answered is not None else "no record has this question and answer")
                rejects.append(Reject(source, number, reason))
                continue
            used.add(pick)
            last = pick
            matched.append((row, records[pick]))
        if matched:
            notes.append(f"{counted(len(matched), 'row')} matched to records by their question and answer")
    items = [_item_from_record(rec, pred, number) for (number, pred, _, _, _), rec in matched if task_of(rec) == task]
    aside = len(matched) - len(items)
    if aside:
        others = sorted({task_of(rec) for _, rec in matched if task_of(rec) != task})
        other = " and ".join(TASK_NOUNS[t] for t in others)
        elsewhere = " / ".join(f"sarlang eval {t}" for t in others)
        if not items:
            raise TaskMismatch(f"'{source}' holds only {other} rows ({aside}), no {TASK_NOUNS[task]} rows", held=others,
                               hint=f"score it with {elsewhere}")
        notes.append(f"{aside} {other} rows left aside (score them with {elsewhere})")
    predicted_splits = {rec.split for _, rec in matched}
    unpredicted = sum(1 for r in records if r.split in predicted_splits and task_of(r) == task) - len(items)
    if unpredicted > 0:
        where = f"split {', '.join(sorted(predicted_splits))}" if any(predicted_splits) else "the records file"
        notes.append(f"{unpredicted} {'caption' if wanted else 'question'} records of {where} have no row in the file")
    return items


def _join_by_image_question(rows: list[Row], source: str, records: list[Record], rejects: list[Reject]) -> list[EvalItem]:
    by_key: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        by_key[(r.image.strip(), r.question.strip().lower())].append(r)
    used: set[str] = set()
    items: list[EvalItem] = []
    for number, pred, label, question, image in rows:
        candidates = [r for r in by_key.get((image, question.strip().lower()), []) if r.id not in used]
        match = next((r for r in candidates if r.answer.strip().lower() == (label or "").strip().lower()), None)
        if match is None:
            rejects.append(Reject(source, number, "no record with this image, question and answer"))
            continue
        used.add(match.id)
        items.append(_item_from_record(match, pred, number))
    _reject_unpredicted(records, used, source, rejects)
    return items


def _join_by_id(rows: list[IdRow], source: str, records: list[Record], task: str, rejects: list[Reject], other_ids: dict[str, str],
                notes: list[str], predicted_splits_only: bool) -> list[EvalItem]:
    by_id = {r.id: r for r in records}
    seen: set[str] = set()
    items: list[EvalItem] = []
    aside = 0
    for number, rid, pred in rows:
        if rid in other_ids:
            aside += 1  # a caption row in a VQA scoring, or the other way round
            continue
        if rid in seen:
            rejects.append(Reject(source, number, "duplicate id (the first prediction is kept)", id=rid))
            continue
        record = by_id.get(rid)
        if record is None:
            kind = "caption" if task == "captions" else "question"
            rejects.append(Reject(source, number, f"id is not a {kind} record of the records file", id=rid))
            continue
        seen.add(rid)
        items.append(_item_from_record(record, pred, number))
    if aside:
        others = Counter(other_ids[rid] for _, rid, _ in rows if rid in other_ids)
        other = " and ".join(TASK_NOUNS[t] for t in sorted(others))
        elsewhere = " / ".join(f"sarlang eval {t}" for t in sorted(others))
        if not items and not seen:
            raise TaskMismatch(f"'{source}' holds only {other} predictions ({aside}), no {'captions' if task == 'captions' else 'answers' if task == 'vqa' else 'boxes'}",
                               held=sorted(others), hint=f"score it with {elsewhere}")
        notes.append(f"{aside} {other} rows left aside (score them with {elsewhere})")
    if predicted_splits_only:
        splits = {by_id[i].split for i in seen}
        others = sum(1 for r in records if r.split not in splits)
        if others:
            notes.append(f"scored against split {', '.join(sorted(splits))}; {counted(others, 'record')} of other splits left aside (--split all counts them)")
        records = [r for r in records if r.split in splits]
    _reject_unpredicted(records, seen, source, rejects)
    return items


def _reject_unpredicted(records: list[Record], predicted: set[str], source: str, rejects: list[Reject]) -> None:
    for r in records:
        if r.id not in predicted:
            rejects.append(Reject(source, 0, "no prediction for this record", id=r.id))


def _one_per_image(items: list[EvalItem], records: list[Record], source: str, rejects: list[Reject]) -> list[EvalItem]:
    references = _caption_references(records)
    kind_of = {r.id: r.caption_kind for r in records}
    seen: set[tuple[str, str | None]] = set()
    kept: list[EvalItem] = []
    for item in items:
        key = (item.image, kind_of.get(item.id))
        if key in seen:
            rejects.append(Reject(source, item.row, "another prediction for this image (and caption kind) was scored", id=item.id))
            continue
        seen.add(key)
        refs = references.get(key, list(item.references))
        kept.append(EvalItem(item.id, item.prediction, tuple(refs), item.question, item.application, item.question_type, item.image, item.row))
    return kept
